// Pure helpers for Kubernetes objects as Metacontroller exchanges them:
// children read from a request, observed objects emitted again, and the
// nulls its three-way merge must never see.
import type { KubeObject } from '../api/kube.js'
import { MAX_NESTING, NestingError } from '../api/validate.js'

// Children arrive keyed by name (v1 hooks) or namespace/name (v2 hooks):
// the keys are ignored and objects are indexed by metadata.name.
export function childrenOfKind (children: Record<string, Record<string, KubeObject>> | undefined, key: string): Map<string, KubeObject> {
  const byName = new Map<string, KubeObject>()
  for (const child of Object.values(children?.[key] ?? {})) {
    byName.set(child.metadata.name, child)
  }
  return byName
}

// An observed object minus what the API server owns (status, uid,
// resourceVersion, ...). Top levels are copies, so the request is never
// mutated.
export function keepObserved (object: KubeObject): KubeObject {
  const { apiVersion, kind, metadata: meta } = object
  const kept: KubeObject = {
    apiVersion,
    kind,
    metadata: {
      name: meta.name,
      ...(meta.namespace !== undefined ? { namespace: meta.namespace } : {}),
      ...(meta.labels !== undefined ? { labels: { ...meta.labels } } : {}),
      ...(meta.annotations !== undefined ? { annotations: withoutAppliedAnnotation(meta.annotations) } : {}),
    },
  }
  // Shallow: deeper levels are never mutated.
  if (object.spec !== undefined) kept.spec = { ...(object.spec as Record<string, unknown>) }
  return kept
}

// Metacontroller writes this one itself on every apply.
function withoutAppliedAnnotation (annotations: Record<string, string>): Record<string, string> {
  const { 'metacontroller.k8s.io/last-applied-configuration': _applied, ...rest } = annotations
  return rest
}

// Metacontroller's three-way merge turns a null into a deletion on every
// sync: never emit one. Copy on write: a subtree without nulls is returned
// as it is (nothing downstream mutates it), so a steady answer copies
// nothing. It runs on every child of every answer, so plain loops.
export function withoutNulls<T> (value: T, depth = 0): T {
  if (value === null || typeof value !== 'object') return value
  if (depth > MAX_NESTING) throw new NestingError()
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      const kept = item === null || item === undefined ? undefined : withoutNulls(item, depth + 1)
      if (copy === undefined && kept !== item) copy = value.slice(0, i)
      if (copy !== undefined && kept !== undefined) copy.push(kept)
    }
    return (copy ?? value) as T
  }
  let copy: Record<string, unknown> | undefined
  const record = value as Record<string, unknown>
  for (const key in record) {
    const item = record[key]
    const kept = item === null || item === undefined ? undefined : withoutNulls(item, depth + 1)
    if (copy === undefined && kept !== item) copy = copyUntil(record, key)
    if (copy !== undefined && kept !== undefined) copy[key] = kept
  }
  return (copy ?? value) as T
}

// The entries of `record` before `stop`, in order.
function copyUntil (record: Record<string, unknown>, stop: string): Record<string, unknown> {
  const copy: Record<string, unknown> = {}
  for (const key in record) {
    if (key === stop) break
    copy[key] = record[key]
  }
  return copy
}
