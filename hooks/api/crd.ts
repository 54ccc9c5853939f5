// The EtcdCluster CustomResourceDefinition, derived from the hook's own
// TypeBox schemas so the API server and the hook cannot disagree about the
// shape of a cluster. Pure: `buildCrd()` returns the object;
// scripts/crd.ts turns it into the file text, test/crd.test.ts compares.
//
// TypeBox speaks JSON Schema; the API server wants a structural schema
// (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema):
// a type on every node, no patternProperties, no anyOf of types, no
// `additionalProperties: false` (pruning drops unknown fields instead).
// `toStructural` translates exactly the constructs hooks/api/ uses and
// throws on anything else, so a new construct cannot slip through unnoticed.
import {
  API_GROUP, ClusterSpecSchema, ClusterStatusSchema, MAX_CLUSTER_NAME_LENGTH,
} from './cluster.js'
import { QUOTA_RULES } from './maintenance.js'
import { BACKUP_RULES, RESTORE_IMMUTABLE_RULES, RESTORE_RULES } from './backup.js'
import { ETCD_ENV_RULES } from './etcd-env.js'

export const CRD_NAME = `etcdclusters.${API_GROUP}`

export type JsonSchema = Record<string, unknown>

// CEL rules the API server checks on create and update. Messages follow the
// hook's own wording in hooks/api/validate.ts, which refuses the same things.
export const NAME_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$'
export const ROOT_RULES = [
  {
    rule: `self.metadata.name.size() <= ${MAX_CLUSTER_NAME_LENGTH}`,
    message: `metadata.name: at most ${MAX_CLUSTER_NAME_LENGTH} characters leave room for the member suffix in a 63-character DNS label`,
  },
  {
    rule: `self.metadata.name.matches('${NAME_PATTERN}')`,
    message: 'metadata.name must be a DNS label (lower-case letters, digits and \'-\', starting with a letter): it names Services and member hostnames',
  },
]
export const POD_LABEL_RULES = [
  {
    rule: 'self.all(k, k != \'app\' && !k.startsWith(\'etcd_\'))',
    message: 'label keys "app" and "etcd_*" are reserved for the operator (app, etcd_*)',
  },
]

export const TLS_RULES = [
  {
    rule: '!has(self.member) || !has(self.member.serverSecret) || has(self.operatorSecret)',
    message: 'operatorSecret is required with member.serverSecret: the hook needs a client certificate to manage membership',
  },
]

// One kind of TLS, chosen at creation (rules/tls.ts refuses a switch).
export const TLS_CHOICE_RULES = [
  {
    rule: 'has(self.static) != has(self.certManager)',
    message: 'exactly one of static and certManager says where the certificates come from',
  },
]
export const CERT_MANAGER_RULES = [
  {
    rule: '!has(self.duration) || !has(self.renewBefore) || duration(self.renewBefore) < duration(self.duration)',
    message: 'renewBefore must be shorter than duration: cert-manager refuses the Certificates otherwise',
  },
]
// Key sizes cert-manager accepts per algorithm (it refuses others, and the
// Certificates would never be issued).
export const PRIVATE_KEY_RULES = [
  {
    rule: '!has(self.size) || (has(self.algorithm) && self.algorithm == \'ECDSA\' ? self.size in [256, 384, 521] : has(self.algorithm) && self.algorithm == \'Ed25519\' ? false : self.size >= 2048 && self.size <= 8192)',
    message: 'size: RSA (the default) takes 2048 to 8192 bits, ECDSA 256, 384 or 521, Ed25519 none',
  },
]

// Keywords copied as they are, and the ones translated below. Any other
// keyword (exclusiveMinimum, uniqueItems, ...) means the same in JSON
// Schema and OpenAPI v3.0 only sometimes: refuse it rather than guess.
const PLAIN = ['description', 'default', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'multipleOf', 'format', 'enum'] as const
const TRANSLATED = ['type', 'anyOf', 'const', 'items', 'properties', 'required', 'additionalProperties', 'x-kubernetes-preserve-unknown-fields', '$id', 'title']

export function toStructural (input: JsonSchema, path = '<root>'): JsonSchema {
  // JSON round trip: drops TypeBox's symbol keys ([Kind], [OptionalKind]).
  const schema = JSON.parse(JSON.stringify(input)) as JsonSchema
  const unknown = Object.keys(schema).filter(k => !(PLAIN as readonly string[]).includes(k) && !TRANSLATED.includes(k))
  if (unknown.length > 0) throw new Error(`${path}: no structural translation for ${unknown.join(', ')}`)
  const out: JsonSchema = {}
  for (const key of PLAIN) if (schema[key] !== undefined) out[key] = schema[key]

  // A union of string literals: an enum.
  if (Array.isArray(schema.anyOf)) {
    const members = schema.anyOf as JsonSchema[]
    // An integer or a string (a quantity): Kubernetes' int-or-string.
    if (members.length === 2 && members.some(m => m.type === 'integer') && members.some(m => m.type === 'string')) {
      return { ...out, 'x-kubernetes-int-or-string': true }
    }
    if (!members.every(m => m.type === 'string' && typeof m.const === 'string')) {
      throw new Error(`${path}: only unions of string literals can become a structural schema`)
    }
    return { ...out, type: 'string', enum: members.map(m => m.const) }
  }
  if (typeof schema.const === 'string') return { ...out, type: 'string', enum: [schema.const] }

  const type = schema.type
  switch (type) {
    case 'string': case 'integer': case 'number': case 'boolean':
      return { ...out, type }
    case 'array':
      if (typeof schema.items !== 'object' || schema.items === null || Array.isArray(schema.items)) throw new Error(`${path}: arrays need one items schema`)
      return { ...out, type, items: toStructural(schema.items as JsonSchema, `${path}[]`) }
    case 'object':
      return { ...out, ...objectNode(schema, path) }
    default:
      throw new Error(`${path}: no structural translation for ${JSON.stringify(schema).slice(0, 120)}`)
  }
}

function objectNode (schema: JsonSchema, path: string): JsonSchema {
  const out: JsonSchema = { type: 'object' }
  // A map (MapOf in hooks/api/kube.ts): keys of any name, values of one schema.
  if (typeof schema.additionalProperties === 'object' && schema.additionalProperties !== null) {
    if (Object.keys(schema.properties ?? {}).length > 0) throw new Error(`${path}: a map has no named properties`)
    out.additionalProperties = toStructural(schema.additionalProperties as JsonSchema, `${path}{}`)
    return out
  }
  const properties = Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)
  if (properties.length > 0) {
    out.properties = Object.fromEntries(properties.map(([name, property]) => [name, toStructural(property, `${path}.${name}`)]))
  }
  if (Array.isArray(schema.required) && schema.required.length > 0) out.required = schema.required
  // Open objects keep what the schema does not list; closed ones
  // (additionalProperties: false) are pruned by the API server.
  if (schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties === true) {
    out['x-kubernetes-preserve-unknown-fields'] = true
  }
  return out
}

// Attaches CEL rules at a dotted path of a structural schema ('[]': an
// array's items).
function addRules (root: JsonSchema, path: string[], rules: Array<{ rule: string, message: string }>): void {
  let node = root
  for (const name of path) {
    const next = name === '[]' ? node.items as JsonSchema | undefined : (node.properties as Record<string, JsonSchema> | undefined)?.[name]
    if (next === undefined) throw new Error(`no schema at ${path.join('.')}`)
    node = next
  }
  node['x-kubernetes-validations'] = rules
}

// type and description first, CEL rules last: the file reads like the
// CRDs people know.
const FIRST = ['type', 'description']
export function ordered (schema: JsonSchema): JsonSchema {
  const keys = Object.keys(schema)
  const rank = (key: string) => FIRST.includes(key) ? FIRST.indexOf(key) - FIRST.length : key.startsWith('x-kubernetes-') ? 1 : 0
  const out: JsonSchema = {}
  for (const key of [...keys].sort((a, b) => rank(a) - rank(b))) {
    const value = schema[key]
    if (key === 'properties') {
      out[key] = Object.fromEntries(Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [name, ordered(child)]))
    } else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) {
      out[key] = ordered(value as JsonSchema)
    } else {
      out[key] = value
    }
  }
  return out
}

export function openAPIV3Schema (): JsonSchema {
  const spec = toStructural(ClusterSpecSchema, 'spec')
  addRules(spec, ['pod', 'labels'], POD_LABEL_RULES)
  addRules(spec, ['pod', 'etcdEnv', '[]'], ETCD_ENV_RULES)
  addRules(spec, ['TLS'], TLS_CHOICE_RULES)
  addRules(spec, ['TLS', 'static'], TLS_RULES)
  addRules(spec, ['TLS', 'certManager'], CERT_MANAGER_RULES)
  addRules(spec, ['TLS', 'certManager', 'privateKey'], PRIVATE_KEY_RULES)
  addRules(spec, ['backup'], BACKUP_RULES)
  addRules(spec, ['quotaBackendBytes'], QUOTA_RULES)
  addRules(spec, ['restore'], RESTORE_RULES)
  addRules(spec, [], RESTORE_IMMUTABLE_RULES)
  const status = toStructural(ClusterStatusSchema, 'status')
  return ordered({
    'type': 'object',
    'description': 'An etcd cluster run by the etcd-operator Metacontroller hook. Field names follow the CoreOS etcd-operator.',
    'required': ['spec'],
    'properties': {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      // The API server owns metadata's schema; rules below check the name.
      metadata: { type: 'object' },
      spec: { ...spec, description: 'The desired cluster.' },
      status: { ...status, description: 'What the hook last observed. Written by Metacontroller from the hook\'s answer.' },
    },
    'x-kubernetes-validations': ROOT_RULES,
  })
}

export function buildCrd (): JsonSchema {
  return namespacedCrd({
    names: { kind: 'EtcdCluster', listKind: 'EtcdClusterList', plural: 'etcdclusters', singular: 'etcdcluster', shortNames: ['etcd'] },
    printerColumns: [
      { name: 'Size', type: 'integer', description: 'Members wanted.', jsonPath: '.spec.size' },
      { name: 'Ready', type: 'string', description: 'Available condition: etcd has a leader.', jsonPath: '.status.conditions[?(@.type=="Available")].status' },
      { name: 'Version', type: 'string', description: 'Oldest etcd version running.', jsonPath: '.status.currentVersion' },
      { name: 'Phase', type: 'string', description: 'Creating, Running or Failed.', jsonPath: '.status.phase' },
      { name: 'Members', type: 'integer', priority: 1, description: 'Members in etcd (voters and learners).', jsonPath: '.status.size' },
      { name: 'Leader', type: 'string', priority: 1, description: 'Member that leads.', jsonPath: '.status.leader' },
      { name: 'Quota Use', type: 'string', description: 'The largest member backend size against spec.quotaBackendBytes.', jsonPath: '.status.maintenance.largestQuotaUsage' },
      { name: 'Last Backup', type: 'date', description: 'When the last scheduled backup succeeded.', jsonPath: '.status.backup.lastSuccess.time' },
    ],
    schema: openAPIV3Schema(),
  })
}

// A namespaced CRD of our group, version v1beta2 with a status subresource,
// its printer columns ending in Age. Shared by EtcdCluster and EtcdBackup.
export function namespacedCrd (crd: { names: { kind: string, listKind: string, plural: string, singular: string, shortNames?: string[] }, printerColumns: JsonSchema[], schema: JsonSchema }): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${crd.names.plural}.${API_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'etcd-operator', 'app.kubernetes.io/part-of': 'etcd-operator' },
    },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: crd.names,
      versions: [{
        name: 'v1beta2',
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [...crd.printerColumns, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
        schema: { openAPIV3Schema: crd.schema },
      }],
    },
  }
}
