// A very small stand-in for the Kubernetes API server: objects by type
// (`<Kind>.<apiVersion>`, the key Metacontroller uses) and name, resource
// versions, watch events, graceful pod deletion, and the validation the
// harness depends on (pod specs are immutable but for images, PVC specs are
// immutable, a Service's clusterIP is immutable), finalizers, and the
// garbage collector's two cascades: background (an owner's final removal
// deletes its dependents) and orphan (`kubectl delete --cascade=orphan`:
// the `orphan` finalizer, the dependents' ownerReferences to the owner
// removed, then the finalizer). All objects live in one namespace.
import { EventEmitter } from 'node:events'
import { randomUUID } from 'node:crypto'
import { clone, deepEqual, isObject } from './util.js'

export interface Obj {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    uid?: string
    generation?: number
    resourceVersion?: string
    creationTimestamp?: string
    deletionTimestamp?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    ownerReferences?: Array<{ apiVersion: string, kind: string, name: string, uid: string, controller?: boolean, blockOwnerDeletion?: boolean }>
    finalizers?: string[]
    [k: string]: unknown
  }
  spec?: any
  status?: any
  [k: string]: unknown
}

export const typeKey = (o: { kind: string, apiVersion: string }) => `${o.kind}.${o.apiVersion}`
export const POD = 'Pod.v1'
export const SERVICE = 'Service.v1'
export const PVC = 'PersistentVolumeClaim.v1'
export const PDB = 'PodDisruptionBudget.policy/v1'
export const SECRET = 'Secret.v1'

export interface WatchEvent {
  type: 'added' | 'modified' | 'deleted'
  key: string
  obj: Obj
  old?: Obj
}

// What the API server answers to an invalid request (HTTP 422).
export class ApiError extends Error {
  constructor (
    readonly code: number,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

// How long the garbage collector takes to act on an orphaning delete.
const GC_DELAY_MS = 200

export type PropagationPolicy = 'Background' | 'Orphan'

export class Store extends EventEmitter {
  readonly namespace = 'default'
  private readonly objects = new Map<string, Map<string, Obj>>()
  private rv = 1
  // Admission: called on create to default/allocate fields (e.g. clusterIP).
  readonly admitters: Array<(o: Obj) => void> = []

  private bucket (key: string): Map<string, Obj> {
    let b = this.objects.get(key)
    if (!b) this.objects.set(key, (b = new Map()))
    return b
  }

  get (key: string, name: string): Obj | undefined {
    return this.objects.get(key)?.get(name)
  }

  list (key: string): Obj[] {
    return [...(this.objects.get(key)?.values() ?? [])].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name, 'en', { numeric: true }))
  }

  private emitEvent (ev: WatchEvent): void {
    // Watchers get their own copies: nobody mutates the stored object.
    this.emit('event', ev)
  }

  create (input: Obj): Obj {
    const key = typeKey(input)
    const b = this.bucket(key)
    if (b.has(input.metadata.name)) throw new ApiError(409, `${key} "${input.metadata.name}" already exists`)
    const o = clone(input)
    o.metadata.namespace ??= this.namespace
    o.metadata.uid = randomUUID()
    o.metadata.resourceVersion = String(this.rv++)
    o.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    if (o.kind === 'Secret') admitSecret(o)
    if (o.spec !== undefined && o.metadata.generation === undefined && o.kind !== 'Pod' && o.kind !== 'Service') o.metadata.generation = 1
    delete o.metadata.deletionTimestamp
    if (o.kind === 'Pod') o.status = { phase: 'Pending', qosClass: 'BestEffort' }
    else if (o.kind === 'PersistentVolumeClaim') o.status = { phase: 'Bound', accessModes: o.spec?.accessModes ?? ['ReadWriteOnce'], capacity: { storage: o.spec?.resources?.requests?.storage ?? '1Gi' } }
    else if (o.kind === 'Service') o.status = { loadBalancer: {} }
    else if (o.kind === 'PodDisruptionBudget') o.status = { currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0, observedGeneration: 1 }
    for (const admit of this.admitters) admit(o)
    b.set(o.metadata.name, o)
    this.emitEvent({ type: 'added', key, obj: o })
    return o
  }

  // Update of metadata/spec (not status), with the API server's validation.
  update (input: Obj): Obj {
    const key = typeKey(input)
    const old = this.get(key, input.metadata.name)
    if (!old) throw new ApiError(404, `${key} "${input.metadata.name}" not found`)
    const o = clone(input)
    if (o.kind === 'Secret') admitSecret(o)
    o.status = clone(old.status)
    for (const f of ['uid', 'creationTimestamp', 'deletionTimestamp', 'namespace'] as const) {
      if (old.metadata[f] === undefined) delete o.metadata[f]
      else o.metadata[f] = old.metadata[f]
    }
    validateUpdate(old, o)
    // The last finalizer of an object being deleted went: it goes now.
    if (old.metadata.deletionTimestamp && o.kind !== 'Pod' && !(o.metadata.finalizers ?? []).length) {
      this.bucket(key).set(o.metadata.name, { ...o, metadata: { ...o.metadata, resourceVersion: String(this.rv++) } })
      this.remove(key, o.metadata.name)
      return o
    }
    if (deepEqual({ ...old, metadata: { ...old.metadata, resourceVersion: '' } }, { ...o, metadata: { ...o.metadata, resourceVersion: '' } })) return old
    if (o.metadata.generation !== undefined && !deepEqual(old.spec, o.spec)) o.metadata.generation = (old.metadata.generation ?? 1) + 1
    o.metadata.resourceVersion = String(this.rv++)
    this.bucket(key).set(o.metadata.name, o)
    this.emitEvent({ type: 'modified', key, obj: o, old })
    return o
  }

  // The status subresource: replaces status; no event when nothing changed.
  updateStatus (key: string, name: string, status: unknown): Obj | undefined {
    const old = this.get(key, name)
    if (!old) return undefined
    if (deepEqual(old.status, status)) return old
    const o = { ...old, metadata: { ...old.metadata, resourceVersion: String(this.rv++) }, status: clone(status) }
    this.bucket(key).set(name, o)
    this.emitEvent({ type: 'modified', key, obj: o, old })
    return o
  }

  // DELETE: pods are deleted gracefully (deletionTimestamp set; the kubelet
  // removes them once their containers stopped); PVCs still used by a pod
  // wait for it (kubernetes.io/pvc-protection); an object with finalizers
  // stays, with a deletionTimestamp, until they are removed; the rest go at
  // once. `Orphan` (kubectl delete --cascade=orphan) adds the `orphan`
  // finalizer: the garbage collector then releases the dependents (removes
  // their ownerReferences to this object) and removes the finalizer. With
  // `Background` (the default) the dependents are deleted once it is gone.
  delete (key: string, name: string, opts: { propagationPolicy?: PropagationPolicy } = {}): void {
    const old = this.get(key, name)
    if (!old) throw new ApiError(404, `${key} "${name}" not found`)
    if (old.metadata.deletionTimestamp) return
    const orphan = opts.propagationPolicy === 'Orphan' && old.kind !== 'Pod'
    const finalizers = [...(old.metadata.finalizers ?? []), ...(orphan && !(old.metadata.finalizers ?? []).includes('orphan') ? ['orphan'] : [])]
    if (finalizers.length && old.kind !== 'Pod') {
      const o = { ...old, metadata: { ...old.metadata, finalizers, deletionTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), resourceVersion: String(this.rv++) } }
      this.bucket(key).set(name, o)
      this.emitEvent({ type: 'modified', key, obj: o, old })
      if (orphan) setTimeout(() => this.orphanDependents(key, name, old.metadata.uid ?? ''), GC_DELAY_MS)
      return
    }
    const graceful = old.kind === 'Pod' || (old.kind === 'PersistentVolumeClaim' && this.pvcInUse(name))
    if (!graceful) {
      this.remove(key, name)
      return
    }
    const o = { ...old, metadata: { ...old.metadata, deletionTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), resourceVersion: String(this.rv++) } }
    this.bucket(key).set(name, o)
    this.emitEvent({ type: 'modified', key, obj: o, old })
  }

  // The garbage collector's orphan step: every dependent loses its
  // ownerReference to the owner, then the owner's `orphan` finalizer goes.
  private orphanDependents (key: string, name: string, uid: string): void {
    const owner = this.get(key, name)
    if (owner?.metadata.uid !== uid || !(owner.metadata.finalizers ?? []).includes('orphan')) return
    for (const d of this.dependents(uid)) {
      const refs = (d.metadata.ownerReferences ?? []).filter(r => r.uid !== uid)
      const o: Obj = { ...d, metadata: { ...d.metadata, ownerReferences: refs, resourceVersion: String(this.rv++) } }
      if (!refs.length) delete o.metadata.ownerReferences
      this.bucket(typeKey(d)).set(d.metadata.name, o)
      this.emitEvent({ type: 'modified', key: typeKey(d), obj: o, old: d })
    }
    this.update({ ...clone(owner), metadata: { ...clone(owner.metadata), finalizers: (owner.metadata.finalizers ?? []).filter(f => f !== 'orphan') } })
  }

  // Objects with an ownerReference to uid.
  dependents (uid: string): Obj[] {
    return [...this.objects.values()].flatMap(b => [...b.values()]).filter(o => (o.metadata.ownerReferences ?? []).some(r => r.uid === uid))
  }

  // Final removal (after graceful deletion finished); the garbage collector
  // then deletes its dependents (background cascade).
  remove (key: string, name: string): void {
    const old = this.get(key, name)
    if (!old) return
    this.bucket(key).delete(name)
    this.emitEvent({ type: 'deleted', key, obj: old })
    for (const d of old.metadata.uid ? this.dependents(old.metadata.uid) : []) {
      try {
        this.delete(typeKey(d), d.metadata.name)
      } catch {
        /* gone meanwhile */
      }
    }
    if (key === POD) {
      // pvc-protection: finish PVC deletions no pod needs any more.
      for (const pvc of this.list(PVC)) {
        if (pvc.metadata.deletionTimestamp && !this.pvcInUse(pvc.metadata.name)) this.remove(PVC, pvc.metadata.name)
      }
    }
  }

  pvcInUse (claim: string): boolean {
    return this.list(POD).some(p => (p.spec?.volumes ?? []).some((v: any) => v?.persistentVolumeClaim?.claimName === claim))
  }
}

// A Secret as the API server stores it: `stringData` folded into base64
// `data`, type Opaque by default; `data` values must be base64.
function admitSecret (o: Obj): void {
  const data: Record<string, string> = { ...((o.data as Record<string, string> | undefined) ?? {}) }
  for (const [k, v] of Object.entries((o.stringData as Record<string, string> | undefined) ?? {})) data[k] = Buffer.from(v, 'utf8').toString('base64')
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new ApiError(422, `Secret "${o.metadata.name}" is invalid: data[${k}]: Invalid value: illegal base64 data`)
  }
  delete o.stringData
  o.data = data
  o.type ??= 'Opaque'
}

// Paths where two JSON values differ (for error messages).
export function diffPaths (a: unknown, b: unknown, path = ''): string[] {
  if (deepEqual(a, b)) return []
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    return [...keys].flatMap(k => diffPaths(a[k], b[k], path ? `${path}.${k}` : k))
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    return a.flatMap((x, i) => diffPaths(x, b[i], `${path}[${i}]`))
  }
  return [path || '.']
}

function validateUpdate (old: Obj, o: Obj): void {
  const name = `${old.kind} "${old.metadata.name}"`
  if (old.kind === 'Pod') {
    // What the API server lets a pod update change: container images,
    // activeDeadlineSeconds, added tolerations, terminationGracePeriodSeconds.
    const allowed = clone(old.spec ?? {})
    for (const field of ['containers', 'initContainers'] as const) {
      const oc: any[] = allowed[field] ?? []
      const nc: any[] = o.spec?.[field] ?? []
      if (oc.length === nc.length) oc.forEach((c, i) => (c.image = nc[i]?.image))
    }
    for (const f of ['activeDeadlineSeconds', 'terminationGracePeriodSeconds', 'tolerations']) {
      if (o.spec?.[f] === undefined) delete allowed[f]
      else allowed[f] = clone(o.spec[f])
    }
    const diff = diffPaths(allowed, o.spec ?? {})
    if (diff.length) {
      throw new ApiError(
        422,
        `${name} is invalid: spec: Forbidden: pod updates may not change fields other than \`spec.containers[*].image\`, \`spec.initContainers[*].image\`, \`spec.activeDeadlineSeconds\`, \`spec.tolerations\` (only additions to existing tolerations), \`spec.terminationGracePeriodSeconds\` (changed: ${diff.map(p => `spec.${p}`).join(', ')})`,
      )
    }
  }
  if (old.kind === 'PersistentVolumeClaim') {
    const a = clone(old.spec ?? {})
    const b = clone(o.spec ?? {})
    delete a.resources
    delete b.resources
    const diff = diffPaths(a, b)
    if (diff.length) throw new ApiError(422, `${name} is invalid: spec: Forbidden: spec is immutable after creation except resources.requests (changed: ${diff.join(', ')})`)
  }
  if (old.kind === 'Service') {
    const oldIP = old.spec?.clusterIP
    const newIP = o.spec?.clusterIP
    if (oldIP && newIP && oldIP !== newIP) throw new ApiError(422, `${name} is invalid: spec.clusterIP: Invalid value: "${newIP}": field is immutable`)
  }
  if (old.kind === 'PodDisruptionBudget' && !deepEqual(old.spec?.selector, o.spec?.selector) && o.spec?.selector === undefined) {
    throw new ApiError(422, `${name} is invalid: spec.selector: Required value`)
  }
}

// Metacontroller's apply: a kubectl-style 3-way merge of the observed object,
// the configuration applied last time and the desired one. Keys the hook
// stopped sending are removed; keys nobody applied (defaults, server fields)
// are kept; lists of objects merge by their key field.
const MERGE_KEYS = ['name', 'containerPort', 'port', 'mountPath']

export function threeWayMerge (observed: unknown, lastApplied: unknown, desired: unknown): unknown {
  if (isObject(desired) && isObject(observed)) {
    const out: Record<string, unknown> = { ...observed }
    if (isObject(lastApplied)) for (const k of Object.keys(lastApplied)) if (!(k in desired)) delete out[k]
    for (const [k, v] of Object.entries(desired)) {
      out[k] = threeWayMerge(observed[k], isObject(lastApplied) ? lastApplied[k] : undefined, v)
    }
    return out
  }
  if (Array.isArray(desired) && Array.isArray(observed)) {
    const mk = MERGE_KEYS.find(k => desired.length > 0 && desired.every(d => isObject(d) && d[k] !== undefined))
    if (mk && observed.every(d => isObject(d) && d[mk] !== undefined)) {
      const last = Array.isArray(lastApplied) ? lastApplied : []
      const find = (arr: unknown[], v: unknown) => arr.find(x => isObject(x) && x[mk] === v)
      const out = desired.map(d => {
        const key = (d as Record<string, unknown>)[mk]
        const obs = find(observed, key)
        return obs === undefined ? clone(d) : threeWayMerge(obs, find(last, key), d)
      })
      for (const obs of observed) {
        const key = (obs as Record<string, unknown>)[mk]
        if (find(desired, key) === undefined && find(last, key) === undefined) out.push(obs)
      }
      return out
    }
  }
  return clone(desired)
}
