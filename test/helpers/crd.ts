// The EtcdCluster CRD as the API server would apply it, for tests without an
// API server: the openAPIV3Schema checked by ajv, its CEL rules by
// helpers/cel.ts, plus the pruning and defaulting the API server does before
// it stores an object.
import { readFileSync } from 'node:fs'
import AjvModule from 'ajv'
import { parse } from 'yaml'
import { celRule, isTransitionRule } from './cel.js'

export type Schema = Record<string, unknown>
type Json = Record<string, unknown>

export const CRD_FILE = new URL('../../manifests/crd.yaml', import.meta.url)

export const BACKUP_CRD_FILE = new URL('../../manifests/crd-etcdbackup.yaml', import.meta.url)

export function loadCrd (file: URL = CRD_FILE): Json {
  return parse(readFileSync(file, 'utf8')) as Json
}

export function schemaOf (crd: Json, version = 'v1beta2'): Schema {
  const versions = (crd.spec as { versions: Array<{ name: string, schema: { openAPIV3Schema: Schema } }> }).versions
  const found = versions.find(v => v.name === version)
  if (found === undefined) throw new Error(`CRD has no version ${version}`)
  return found.schema.openAPIV3Schema
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

interface Rule { rule: string, message?: string }

// The rules of what the API server calls a structural schema, and the
// keywords it refuses, as problems with their paths.
export function structuralProblems (schema: Schema, path = '', root = true): string[] {
  const problems: string[] = []
  const here = path === '' ? '<root>' : path
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true
  if (typeof schema.type !== 'string' && !preserve && schema['x-kubernetes-int-or-string'] !== true) problems.push(`${here}: no type`)
  for (const keyword of ['$ref', 'patternProperties', 'anyOf', 'oneOf', 'allOf', 'not', 'const', 'dependencies', 'definitions', 'additionalItems', '$id', '$schema', 'nullable']) {
    if (schema[keyword] !== undefined) problems.push(`${here}: ${keyword} is not allowed here`)
  }
  if (schema.additionalProperties === false) problems.push(`${here}: additionalProperties: false is not allowed (pruning drops unknown fields)`)
  if (schema.additionalProperties !== undefined && schema.properties !== undefined) problems.push(`${here}: properties and additionalProperties are mutually exclusive`)
  if (schema.default !== undefined && root) problems.push(`${here}: no default at the root`)
  const properties = (schema.properties ?? {}) as Record<string, Schema>
  if (root) {
    const metadata = properties.metadata
    if (metadata !== undefined && Object.keys(metadata).some(k => k !== 'type')) problems.push('metadata: only `type: object` may be given at the root')
  }
  for (const [name, child] of Object.entries(properties)) problems.push(...structuralProblems(child, path === '' ? name : `${path}.${name}`, false))
  if (isObject(schema.items)) problems.push(...structuralProblems(schema.items, `${path}[]`, false))
  else if (schema.type === 'array') problems.push(`${here}: an array needs one items schema`)
  if (isObject(schema.additionalProperties)) problems.push(...structuralProblems(schema.additionalProperties, `${path}{}`, false))
  for (const rule of (schema['x-kubernetes-validations'] ?? []) as Rule[]) {
    if (typeof rule.rule !== 'string' || rule.rule === '') problems.push(`${here}: a validation without a rule`)
  }
  return problems
}

// ajv with the Kubernetes keywords known, so strict mode only complains
// about real mistakes.
const Ajv = AjvModule.default
function newAjv () {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false })
  for (const keyword of ['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-validations', 'x-kubernetes-int-or-string', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-embedded-resource']) {
    ajv.addKeyword(keyword)
  }
  return ajv
}

const dotted = (instancePath: string) => instancePath.replace(/^\//, '').replaceAll('/', '.')

// All CEL rules of the schema with the values they apply to, found by walking
// the object along the schema.
// With `old` (an update), transition rules run where the old value exists.
function celProblems (schema: Schema, value: unknown, path: string, old?: unknown): string[] {
  if (value === undefined) return []
  const problems: string[] = []
  for (const { rule, message } of (schema['x-kubernetes-validations'] ?? []) as Rule[]) {
    if (isTransitionRule(rule) && old === undefined) continue
    let ok: boolean
    try {
      ok = celRule(rule, value, isTransitionRule(rule) ? old : undefined)
    } catch (error) {
      problems.push(`${path || '<root>'}: rule ${rule} failed to evaluate: ${(error as Error).message}`)
      continue
    }
    if (!ok) problems.push(`${path || '<root>'}: ${message ?? `failed rule: ${rule}`}`)
  }
  const join = (key: string | number) => path === '' ? String(key) : typeof key === 'number' ? `${path}[${key}]` : `${path}.${key}`
  if (isObject(value)) {
    const before = isObject(old) ? old : undefined
    for (const [name, child] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) problems.push(...celProblems(child, value[name], join(name), before?.[name]))
    if (isObject(schema.additionalProperties)) {
      for (const [key, child] of Object.entries(value)) problems.push(...celProblems(schema.additionalProperties, child, join(key)))
    }
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    value.forEach((child, i) => problems.push(...celProblems(schema.items as Schema, child, join(i))))
  }
  return problems
}

// What creating the object would answer: [] when accepted, else one line per
// problem, `<path>: <message>` (ajv's wording for schema problems, the rule's
// message for CEL rules).
// With `old`, what updating `old` to the object would answer (transition
// rules too).
export function crdValidator (schema: Schema): (object: unknown, old?: unknown) => string[] {
  const check = newAjv().compile(schema)
  return (object: unknown, old?: unknown) => {
    const problems: string[] = []
    if (!check(object)) {
      for (const e of check.errors ?? []) problems.push(`${dotted(e.instancePath) || '<root>'}: ${e.message ?? e.keyword}`)
    }
    problems.push(...celProblems(schema, object, '', old))
    return problems
  }
}

// The API server drops fields its schema does not list (unless the node
// preserves unknown fields) and fills in defaults, before validation.
// With `defaults: false`, only prunes.
export function pruneAndDefault (value: unknown, schema: Schema, defaults = true, root = true): unknown {
  if (Array.isArray(value)) {
    return isObject(schema.items) ? value.map(v => pruneAndDefault(v, schema.items as Schema, defaults, false)) : value
  }
  if (!isObject(value)) return value
  const properties = (schema.properties ?? {}) as Record<string, Schema>
  const out: Json = {}
  for (const [key, child] of Object.entries(value)) {
    if (root && ['apiVersion', 'kind', 'metadata'].includes(key)) out[key] = child
    else if (properties[key] !== undefined) out[key] = pruneAndDefault(child, properties[key], defaults, false)
    else if (isObject(schema.additionalProperties)) out[key] = pruneAndDefault(child, schema.additionalProperties, defaults, false)
    else if (schema['x-kubernetes-preserve-unknown-fields'] === true) out[key] = child
  }
  if (defaults) {
    for (const [key, child] of Object.entries(properties)) {
      if (out[key] === undefined && child.default !== undefined) out[key] = structuredClone(child.default)
    }
  }
  return out
}
