// The EtcdCluster CRD: generated from the hook's TypeBox schema and current;
// a structural schema the API server accepts; and, applied the way the API
// server applies it (schema, CEL rules, pruning, defaults), it takes every
// example and refuses the mistakes people make, with the hook's wording.
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { RESERVED_ETCD_ENV } from '../hooks/api/etcd-env.js'
import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parseAllDocuments } from 'yaml'
import {
  DEFAULT_REPOSITORY, DEFAULT_VERSION, EtcdClusterSchema, MAX_CLUSTER_NAME_LENGTH, MAX_SIZE,
  type EtcdCluster,
} from '../hooks/api/cluster.js'
import { problemsOf } from '../hooks/api/validate.js'
import { toStructural } from '../hooks/api/crd.js'
import { CRD_FILES, REGENERATE, crdYaml } from '../scripts/crd.js'
import { celRule, isTransitionRule, parse } from './helpers/cel.js'
import { crdValidator, loadCrd, pruneAndDefault, schemaOf, structuralProblems, type Schema } from './helpers/crd.js'
import { ROOT } from './helpers/helm.js'
import { validateKubeObject } from './helpers/kube-schema.js'

const crd = loadCrd()
const schema = schemaOf(crd)
const validate = crdValidator(schema)

const EXAMPLES = new URL('../manifests/examples/', import.meta.url)
const examples = readdirSync(EXAMPLES).filter(f => f.endsWith('.yaml')).sort()
  .flatMap(file => parseAllDocuments(readFileSync(new URL(file, EXAMPLES), 'utf8'))
    .map(doc => doc.toJS() as Record<string, unknown> | null)
    .filter((doc): doc is Record<string, unknown> => doc !== null && doc.kind === 'EtcdCluster')
    .map(doc => ({ file, doc })))

t.test('the committed CRD is what scripts/crd.ts generates from hooks/api/cluster.ts', async t => {
  const fresh = crdYaml()
  for (const file of CRD_FILES) {
    const committed = readFileSync(`${ROOT}${file}`, 'utf8')
    t.equal(committed, fresh, `${file} matches a fresh generation (if not, it is stale: run \`${REGENERATE}\` and commit the result)`)
  }
})

t.test('the CRD is a valid apiextensions.k8s.io/v1 CustomResourceDefinition', async t => {
  await t.resolves(validateKubeObject(crd), 'kubernetes-models accepts it')
  t.same(structuralProblems(schema), [], 'the schema is structural: a type everywhere, no anyOf, patternProperties or additionalProperties: false')
  const spec = crd.spec as Record<string, any>
  t.equal((crd.metadata as { name: string }).name, 'etcdclusters.etcd.database.coreos.com')
  t.equal(spec.scope, 'Namespaced')
  t.same(spec.names.shortNames, ['etcd'])
  t.equal(spec.names.plural, 'etcdclusters')
  const version = spec.versions[0]
  t.same(version.subresources, { status: {} }, 'status is a subresource: Metacontroller writes it, users cannot')
  const columns = version.additionalPrinterColumns.filter((c: { priority?: number }) => c.priority === undefined).map((c: { name: string }) => c.name)
  t.same(columns, ['Size', 'Ready', 'Version', 'Phase', 'Quota Use', 'Last Backup', 'Age'], 'kubectl get etcdcluster shows the largest quota use and the last backup\'s age')
  for (const c of version.additionalPrinterColumns as Array<{ jsonPath: string }>) t.match(c.jsonPath, /^\./, 'printer column paths start with a dot')
  const status = schema.properties as Record<string, Schema>
  t.ok((status.status!.properties as Record<string, Schema>).observedGeneration, 'status allows observedGeneration (Metacontroller writes it)')
  t.equal(status.status!['x-kubernetes-preserve-unknown-fields'], true, 'status stays open, as the hook\'s schema is')
})

// The CRD's CEL rules with the schema path they sit at (`*` for the items of
// a list or the values of a map).
interface CelRule { rule: string, message?: string, path: string[] }
function celRules (node: Schema, path: string[] = []): CelRule[] {
  const found = ((node['x-kubernetes-validations'] ?? []) as Array<{ rule: string, message?: string }>).map(r => ({ ...r, path }))
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Schema>)) found.push(...celRules(child, [...path, name]))
  if (typeof node.items === 'object') found.push(...celRules(node.items as Schema, [...path, '*']))
  if (typeof node.additionalProperties === 'object') found.push(...celRules(node.additionalProperties as Schema, [...path, '*']))
  return found
}
const rules = celRules(schema)

// Whether the object has a value at a schema path, so that the rule there runs.
function reaches (value: unknown, path: string[]): boolean {
  if (path.length === 0) return value !== undefined
  if (typeof value !== 'object' || value === null) return false
  const [head, ...rest] = path as [string, ...string[]]
  const children = head === '*' ? Object.values(value) : [(value as Record<string, unknown>)[head]]
  return children.some(child => reaches(child, rest))
}

t.test('every CEL rule in the CRD parses and type-checks with the CEL library', async t => {
  t.ok(rules.length >= 4, 'name length, name shape, reserved labels and the TLS operator secret are checked')
  for (const { rule, message } of rules) {
    t.ok(message, `rule ${rule} has a message people can act on`)
    t.doesNotThrow(() => parse(rule), rule)
  }
})

t.test('the CRD defaults match the hook\'s', async t => {
  const stored = pruneAndDefault({ apiVersion: 'etcd.database.coreos.com/v1beta2', kind: 'EtcdCluster', metadata: { name: 'a' }, spec: { size: 1, loadBalancer: {}, podDisruptionBudget: {} } }, schema) as EtcdCluster
  t.equal(stored.spec.version, DEFAULT_VERSION)
  t.equal(stored.spec.repository, DEFAULT_REPOSITORY)
  t.equal(stored.spec.paused, false)
  t.same(stored.spec.loadBalancer, { enabled: false })
  t.same(stored.spec.podDisruptionBudget, { enabled: true, maxUnavailable: 1 })
  t.ok(Value.Check(EtcdClusterSchema, stored), 'a defaulted cluster is what the hook accepts')
})

t.test('examples', async t => {
  t.ok(examples.length >= 4, 'the walk-through, LoadBalancer, persistent and TLS examples')
  for (const { file, doc } of examples) {
    t.test(`${file}: ${(doc.metadata as { name: string }).name}`, async t => {
      t.same(validate(doc), [], 'the API server accepts it (schema and CEL rules)')
      t.same(pruneAndDefault(doc, schema, false), doc, 'nothing in it is pruned: every field means something')
      const stored = pruneAndDefault(doc, schema)
      t.same([...Value.Errors(EtcdClusterSchema, doc)].map(e => `${e.path}: ${e.message}`), [], 'the hook\'s EtcdClusterSchema accepts it')
      t.ok(Value.Check(EtcdClusterSchema, stored), 'and accepts it as stored, defaults filled in')
      t.same(problemsOf(stored as EtcdCluster), [], 'the hook finds no problem with it')
    })
  }
})

const GOOD: EtcdCluster = {
  apiVersion: 'etcd.database.coreos.com/v1beta2',
  kind: 'EtcdCluster',
  metadata: { name: 'example-etcd-cluster', namespace: 'default' },
  spec: { size: 3, version: '3.5.21' },
}

interface Bad {
  why: string
  change: (c: EtcdCluster) => void
  // What the API server answers (ajv's words for schema checks, the rule's
  // message for CEL rules).
  message: RegExp
  // The hook refuses it too (a 422 from /sync), when it reaches the hook.
  hook?: RegExp
}

const bad: Bad[] = [
  // Below one member there is no cluster.
  { why: 'size 0', change: c => { c.spec.size = 0 }, message: /^spec\.size: must be >= 1$/ },
  // Above nine, every write waits for too many fsyncs.
  { why: 'size 10', change: c => { c.spec.size = MAX_SIZE + 1 }, message: /^spec\.size: must be <= 9$/ },
  { why: 'no size', change: c => { delete (c.spec as Partial<EtcdCluster['spec']>).size }, message: /^spec: must have required property 'size'$/ },
  // Image tags are versions; `latest` would make upgrades invisible.
  { why: 'version latest', change: c => { c.spec.version = 'latest' }, message: /^spec\.version: must match pattern/ },
  { why: 'empty repository', change: c => { c.spec.repository = '' }, message: /^spec\.repository: must NOT have fewer than 1 characters$/ },
  // The hook selects members on app and etcd_*: user values would break it.
  { why: 'label app', change: c => { c.spec.pod = { labels: { app: 'mine' } } }, message: /^spec\.pod\.labels: label keys "app" and "etcd_\*" are reserved for the operator \(app, etcd_\*\)$/, hook: /"app" is reserved for the operator \(app, etcd_\*\)/ },
  { why: 'label etcd_node', change: c => { c.spec.pod = { labels: { team: 'a', etcd_node: 'x' } } }, message: /^spec\.pod\.labels: label keys "app" and "etcd_\*" are reserved/, hook: /"etcd_node" is reserved for the operator/ },
  // Member pods are <name>-<ordinal> and must fit a 63-character DNS label.
  { why: `name of ${MAX_CLUSTER_NAME_LENGTH + 1} characters`, change: c => { c.metadata.name = 'a'.repeat(MAX_CLUSTER_NAME_LENGTH + 1) }, message: /^<root>: metadata\.name: at most 52 characters leave room for the member suffix in a 63-character DNS label$/, hook: /is 53 characters; at most 52 leave room for the member suffix in a 63-character DNS label/ },
  // The name becomes Service names and hostnames: no dots.
  { why: 'name with a dot', change: c => { c.metadata.name = 'etcd.prod' }, message: /^<root>: metadata\.name must be a DNS label \(lower-case letters, digits and '-', starting with a letter\): it names Services and member hostnames$/, hook: /must be a DNS label/ },
  { why: 'name starting with a digit', change: c => { c.metadata.name = '1etcd' }, message: /must be a DNS label/, hook: /must be a DNS label/ },
  { why: 'unknown externalTrafficPolicy', change: c => { c.spec.loadBalancer = { enabled: true, externalTrafficPolicy: 'Nearest' as 'Local' } }, message: /^spec\.loadBalancer\.externalTrafficPolicy: must be equal to one of the allowed values$/ },
  { why: 'maxUnavailable 0', change: c => { c.spec.podDisruptionBudget = { maxUnavailable: 0 } }, message: /^spec\.podDisruptionBudget\.maxUnavailable: must be >= 1$/ },
  { why: 'ClusterDomain without its leading dot', change: c => { c.spec.pod = { ClusterDomain: 'cluster.local' } }, message: /^spec\.pod\.ClusterDomain: must match pattern/ },
  // Client TLS without the hook's own client certificate: the hook could not
  // reach its members.
  { why: 'serverSecret without operatorSecret', change: c => { c.spec.TLS = { static: { member: { peerSecret: 'p', serverSecret: 's' } } } }, message: /^spec\.TLS\.static: operatorSecret is required with member\.serverSecret: the hook needs a client certificate to manage membership$/, hook: /^spec\.TLS\.static\.operatorSecret is required with member\.serverSecret: the hook needs a client certificate to manage membership$/ },
  { why: 'empty TLS secret name', change: c => { c.spec.TLS = { static: { operatorSecret: '' } } }, message: /^spec\.TLS\.static\.operatorSecret: must NOT have fewer than 1 characters$/ },
  // Two sources of certificates: which one do the members mount?
  { why: 'static and certManager TLS', change: c => { c.spec.TLS = { static: { member: { peerSecret: 'p' } }, certManager: { issuerRef: { name: 'ca' } } } }, message: /^spec\.TLS: exactly one of static and certManager says where the certificates come from$/, hook: /^spec\.TLS: exactly one of static and certManager/ },
  { why: 'TLS with neither', change: c => { c.spec.TLS = {} }, message: /^spec\.TLS: exactly one of static and certManager/, hook: /^spec\.TLS: exactly one of static and certManager/ },
  // cert-manager would never issue these: the members would wait forever.
  { why: 'an RSA key of 1024 bits', change: c => { c.spec.TLS = { certManager: { issuerRef: { name: 'ca' }, privateKey: { size: 1024 } } } }, message: /^spec\.TLS\.certManager\.privateKey: size: RSA \(the default\) takes 2048 to 8192 bits, ECDSA 256, 384 or 521, Ed25519 none$/, hook: /^spec\.TLS\.certManager\.privateKey: size: RSA/ },
  { why: 'an ECDSA key of 2048 bits', change: c => { c.spec.TLS = { certManager: { issuerRef: { name: 'ca' }, privateKey: { algorithm: 'ECDSA', size: 2048 } } } }, message: /^spec\.TLS\.certManager\.privateKey: size:/, hook: /privateKey: size:/ },
  { why: 'an Ed25519 key with a size', change: c => { c.spec.TLS = { certManager: { issuerRef: { name: 'ca' }, privateKey: { algorithm: 'Ed25519', size: 256 } } } }, message: /^spec\.TLS\.certManager\.privateKey: size:/, hook: /privateKey: size:/ },
  { why: 'renewBefore longer than duration', change: c => { c.spec.TLS = { certManager: { issuerRef: { name: 'ca' }, duration: '1h', renewBefore: '90m' } } }, message: /^spec\.TLS\.certManager: renewBefore must be shorter than duration: cert-manager refuses the Certificates otherwise$/, hook: /^spec\.TLS\.certManager: renewBefore must be shorter than duration/ },
  { why: 'a duration that is no Go duration', change: c => { c.spec.TLS = { certManager: { issuerRef: { name: 'ca' }, duration: '90 days' } } }, message: /^spec\.TLS\.certManager\.duration: must match pattern/ },
  { why: 'an issuer kind cert-manager has not', change: c => { c.spec.TLS = { certManager: { issuerRef: { name: 'ca', kind: 'Vault' as 'Issuer' } } } }, message: /^spec\.TLS\.certManager\.issuerRef\.kind: must be equal to one of the allowed values$/ },
  { why: 'certManager without an issuer', change: c => { c.spec.TLS = { certManager: {} as { issuerRef: { name: string } } } }, message: /^spec\.TLS\.certManager: must have required property 'issuerRef'$/ },
  { why: 'a string size', change: c => { (c.spec as { size: unknown }).size = '3' }, message: /^spec\.size: must be integer$/ },
  // A backup needs exactly one store: with both, which one holds the data?
  { why: 'backup to S3 and a PVC', change: c => { c.spec.backup = { schedule: '0 * * * *', s3: { path: 'b/p', awsSecret: 'aws' }, pvc: { claimName: 'backups' } } }, message: /^spec\.backup: exactly one of s3 and pvc says where backups go$/, hook: /^spec\.backup: exactly one of s3 and pvc says where backups go$/ },
  { why: 'backup to nowhere', change: c => { c.spec.backup = { schedule: '0 * * * *' } }, message: /^spec\.backup: exactly one of s3 and pvc/, hook: /^spec\.backup: exactly one of s3 and pvc/ },
  // A restore reads one snapshot: from which store?
  { why: 'restore from S3 and a PVC', change: c => { c.spec.restore = { s3: { path: 'b/k.db', awsSecret: 'aws' }, pvc: { claimName: 'backups', path: 'k.db' } } }, message: /^spec\.restore: exactly one of s3 and pvc says where the snapshot is$/, hook: /^spec\.restore: exactly one of s3 and pvc says where the snapshot is$/ },
  { why: 'restore from nowhere', change: c => { c.spec.restore = { latest: true } }, message: /^spec\.restore: exactly one of s3 and pvc/, hook: /^spec\.restore: exactly one of s3 and pvc/ },
  // etcd takes whole bytes: a quantity Kubernetes would read differently
  // (MB is no suffix) or a fraction of a byte is refused.
  { why: 'a quota in MB', change: c => { c.spec.quotaBackendBytes = '16MB' }, message: /^spec\.quotaBackendBytes: is not a quantity of bytes/, hook: /^spec\.quotaBackendBytes: '16MB' is not a quantity of bytes/ },
  { why: 'a quota of 0', change: c => { c.spec.quotaBackendBytes = 0 }, message: /^spec\.quotaBackendBytes: is not a quantity of bytes/ },
  { why: 'backup S3 path without a bucket', change: c => { c.spec.backup = { schedule: '0 * * * *', s3: { path: 'nobucket', awsSecret: 'aws' } } }, message: /^spec\.backup\.s3\.path: must match pattern/ },
]

// Safety item 9 in the CRD: every variable the operator sets is refused by
// the API server, naming it, as the hook refuses it.
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
for (const { name, match } of RESERVED_ETCD_ENV) {
  const variable = match === 'prefix' ? `${name}CERT_FILE` : name
  const value = match === 'unlessTrue' ? 'false' : 'x'
  bad.push({
    why: `etcdEnv ${variable}=${value}`,
    change: c => { c.spec.pod = { etcdEnv: [{ name: 'ETCD_HEARTBEAT_INTERVAL', value: '200' }, { name: variable, value }] } },
    message: new RegExp(`^spec\\.pod\\.etcdEnv\\[1\\]: ${escape(name)}\\*? (is set|variables are set|may only be a literal true)`),
    hook: new RegExp(`^spec\\.pod\\.etcdEnv\\[1\\]\\.(name|value): ${escape(variable)}`),
  })
}

t.test('the CRD refuses bad EtcdClusters with the expected message', async t => {
  t.same(validate(GOOD), [], 'the unchanged cluster is fine')
  const refusals: string[] = []
  for (const row of bad) {
    const cluster = structuredClone(GOOD)
    row.change(cluster)
    const problems = validate(cluster)
    refusals.push(...problems)
    t.ok(problems.some(p => row.message.test(p)), `${row.why}: refused with ${row.message}; got ${JSON.stringify(problems)}`)
    if (row.hook !== undefined) {
      // A CEL rule and the hook agree: what one refuses, so does the other.
      t.ok(problemsOf(cluster).some(p => row.hook!.test(p)), `${row.why}: the hook refuses it too`)
    } else {
      t.notOk(Value.Check(EtcdClusterSchema, cluster), `${row.why}: the hook's schema refuses it too`)
    }
  }
  // (Transition rules judge updates: test/restore.test.ts.)
  for (const { rule, message } of rules.filter(r => !isTransitionRule(r.rule))) {
    t.ok(refusals.some(p => p.endsWith(`: ${message}`)), `rule ${rule} refuses at least one of the bad clusters`)
  }
})

t.test('the CRD accepts what the hook accepts', async t => {
  const variants: Array<[string, (c: EtcdCluster) => void]> = [
    ['peer TLS only', c => { c.spec.TLS = { static: { member: { peerSecret: 'etcd-peer-tls' } } } }],
    ['client TLS with the operator secret', c => { c.spec.TLS = { static: { member: { serverSecret: 's' }, operatorSecret: 'o' } } }],
    ['cert-manager TLS with defaults', c => { c.spec.TLS = { certManager: { issuerRef: { name: 'etcd-ca' } } } }],
    ['cert-manager TLS, every field', c => { c.spec.TLS = { certManager: { issuerRef: { name: 'etcd-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' }, duration: '2160h', renewBefore: '360h', privateKey: { algorithm: 'ECDSA', size: 384 } } } }],
    ['cert-manager TLS, an RSA key', c => { c.spec.TLS = { certManager: { issuerRef: { name: 'etcd-ca' }, duration: '720h30m', renewBefore: '1h', privateKey: { algorithm: 'RSA', size: 4096 } } } }],
    ['cert-manager TLS, an Ed25519 key', c => { c.spec.TLS = { certManager: { issuerRef: { name: 'etcd-ca' }, privateKey: { algorithm: 'Ed25519' } } } }],
    ['a leading v', c => { c.spec.version = 'v3.5.21' }],
    ['a pre-release version', c => { c.spec.version = '3.6.0-rc.1' }],
    ['labels that are not reserved', c => { c.spec.pod = { labels: { 'application': 'x', 'etcd-team': 'y', 'example.com/etcd_x': 'z' } } }],
    [`a name of ${MAX_CLUSTER_NAME_LENGTH} characters`, c => { c.metadata.name = 'a'.repeat(MAX_CLUSTER_NAME_LENGTH) }],
    ['size 1', c => { c.spec.size = 1 }],
    ['size 9', c => { c.spec.size = MAX_SIZE }],
    ['scheduled backups to S3', c => { c.spec.backup = { schedule: '*/30 * * * *', maxBackups: 48, s3: { path: 'etcd-backups/prod', awsSecret: 's3-creds', endpoint: 'https://minio.storage:9000', forcePathStyle: true } } }],
    ['restored from an S3 object', c => { c.spec.restore = { s3: { path: 'etcd-backups/prod/prod-20261202T183000Z-r81234.db', awsSecret: 's3-creds', forcePathStyle: true } } }],
    ['restored from the newest snapshot on a PVC', c => { c.spec.restore = { pvc: { claimName: 'etcd-backups', path: 'prod' }, latest: true } }],
    ['scheduled backups to a PVC', c => { c.spec.backup = { schedule: '0 3 * * *', timeZone: 'Etc/UTC', pvc: { claimName: 'etcd-backups', subPath: 'prod' } } }],
    ['maintenance: a quota quantity, compaction, a defrag window', c => { Object.assign(c.spec, { quotaBackendBytes: '8Gi', autoCompaction: { mode: 'periodic', retention: '1h' }, defrag: { schedule: '0 3 * * *', fragmentationAbove: 0.4 } }) }],
    ['maintenance: a quota in bytes, revision compaction, defrag off', c => { Object.assign(c.spec, { quotaBackendBytes: 17179869184, autoCompaction: { mode: 'revision', retention: '10000' }, defrag: { enabled: false } }) }],
    ['etcd settings the operator leaves alone, and the gateway left on', c => { c.spec.pod = { etcdEnv: [{ name: 'ETCD_QUOTA_BACKEND_BYTES', value: '8589934592' }, { name: 'ETCD_ENABLE_GRPC_GATEWAY', value: 'true' }, { name: 'ETCD_LOG_LEVEL', valueFrom: { configMapKeyRef: { name: 'etcd', key: 'log-level' } } }] } }],
  ]
  const accepted: unknown[] = []
  for (const [why, change] of variants) {
    const cluster = structuredClone(GOOD)
    change(cluster)
    t.same(validate(cluster), [], `${why}: the API server accepts it`)
    t.same(problemsOf(cluster), [], `${why}: so does the hook`)
    t.ok(Value.Check(EtcdClusterSchema, cluster), `${why}: and its schema`)
    accepted.push(cluster)
  }
  // Each rule ran on one of them and held (a rule that fails to evaluate is
  // a problem validate() reports).
  for (const { rule, path } of rules.filter(r => !isTransitionRule(r.rule))) {
    t.ok(accepted.some(c => reaches(c, path)), `rule ${rule} holds for at least one accepted cluster`)
  }
})

t.test('unknown fields are pruned by the API server, not refused', async t => {
  // A structural schema cannot say `additionalProperties: false`: the API
  // server drops fields it does not know (`kubectl apply` warns about them
  // with --validate=strict, the default from kubectl 1.27). The hook, which
  // only ever sees stored objects, would refuse them with a 422.
  const typo = structuredClone(GOOD) as EtcdCluster & { spec: { pod: Record<string, unknown> } }
  typo.spec.pod = { labels: { team: 'storage' }, nodeSelectr: { disk: 'ssd' } }
  t.same(validate(typo), [], 'the API server accepts it')
  const stored = pruneAndDefault(typo, schema) as EtcdCluster
  t.same(stored.spec.pod, { labels: { team: 'storage' } }, 'and stores it without the unknown field')
  t.notOk(Value.Check(EtcdClusterSchema, typo), 'the hook would refuse the unpruned object')
  t.ok(Value.Check(EtcdClusterSchema, stored), 'and accepts the stored one')
  // Opaque Kubernetes objects (affinity, resources, ...) keep every field.
  const opaque = structuredClone(GOOD)
  opaque.spec.pod = { affinity: { nodeAffinity: { anything: ['kept'] } } }
  t.same((pruneAndDefault(opaque, schema) as EtcdCluster).spec.pod, opaque.spec.pod, 'preserve-unknown-fields objects are kept whole')
  // Status is open: fields a newer hook reports survive an older CRD.
  const reported = { ...structuredClone(GOOD), status: { phase: 'Running', observedGeneration: 3, somethingNew: 'x' } }
  t.same(validate(reported), [])
  t.same((pruneAndDefault(reported, schema) as EtcdCluster).status, reported.status)
})

t.test('the schema translation refuses what it cannot express', async t => {
  t.throws(() => toStructural(Type.Union([Type.String(), Type.Number()])), /only unions of string literals/)
  t.throws(() => toStructural(Type.Record(Type.String({ pattern: '^a' }), Type.String())), /no structural translation for patternProperties/)
  t.throws(() => toStructural(Type.Tuple([Type.String(), Type.String()])), /no structural translation for additionalItems/)
  t.throws(() => toStructural({ type: 'array' }), /arrays need one items schema/)
  t.throws(() => toStructural(Type.Null()), /no structural translation/)
  t.throws(() => toStructural(Type.Array(Type.String(), { uniqueItems: true })), /no structural translation for uniqueItems/)
  t.throws(() => toStructural(Type.Integer({ exclusiveMinimum: 0 })), /no structural translation for exclusiveMinimum/)
  t.throws(() => toStructural(Type.Object({ a: Type.String() }, { additionalProperties: Type.String() })), /a map has no named properties/)
  t.same(toStructural(Type.Object({}, { additionalProperties: Type.String() })), { type: 'object', additionalProperties: { type: 'string' } }, 'a map')
  t.same(toStructural(Type.Literal('x')), { type: 'string', enum: ['x'] })
  t.same(toStructural(Type.Object({ a: Type.Optional(Type.Number()) }, { additionalProperties: false, $id: 'X' })),
    { type: 'object', properties: { a: { type: 'number' } } }, 'closed objects lose additionalProperties and $id, optional fields are not required')
})

t.test('the CEL library, as the tests run it', async t => {
  t.equal(celRule('self.size() <= 3', 'abc'), true)
  t.equal(celRule('self.size() <= 3', 'abcd'), false)
  t.equal(celRule('self.size() == 2', { a: 1, b: 2 }), true, 'size() of a map counts its keys')
  t.equal(celRule('self.size() > 0 && self.size() >= 1 && self.size() < 9', ['x']), true)
  t.equal(celRule('self.size() == 1', '\u{1F600}'), true, 'size() counts code points')
  t.equal(celRule('self.all(k, k != \'app\' && !k.startsWith(\'etcd_\'))', { team: 'a' }), true, 'all() over a map ranges over its keys')
  t.equal(celRule('self.all(k, k != \'app\' && !k.startsWith(\'etcd_\'))', { etcd_x: 'a' }), false)
  t.equal(celRule('self.all(k, k != \'app\' && !k.startsWith(\'etcd_\'))', {}), true, 'all() of nothing holds')
  t.equal(celRule('self.exists(x, x.endsWith("b") || x.contains("zz"))', ['a', 'ab']), true)
  t.equal(celRule('self.exists(x, x == 1)', [2, 3]), false)
  t.equal(celRule('self.metadata.name.matches(\'^[a-z]+$\')', { metadata: { name: 'abc' } }), true)
  t.equal(celRule('self.metadata.name.matches(\'^[a-z]+$\')', { metadata: { name: 'a.b' } }), false)
  t.equal(celRule('self.matches(\'b\')', 'abc'), true, 'matches() finds a match anywhere unless anchored')
  t.equal(celRule('has(self.a) && !has(self.a.b)', { a: { c: 1 } }), true)
  t.equal(celRule('!has(self.member) || has(self.member.x)', {}), true)
  t.equal(celRule('!(self.a == \'it\\\'s\')', { a: 'it\'s' }), false)
  t.equal(celRule('self.n + 1 == 4 && self.n < 9', { n: 3 }), true, 'integral JSON numbers are CEL ints')
  t.equal(celRule('true || self.missing', {}), true, '|| short-circuits')
  t.equal(celRule('self.missing || true', {}), true, 'and absorbs an error on either side, as CEL does')
  t.throws(() => celRule('self.missing == 1', {}), /No such key: missing/)
  t.throws(() => celRule('self.size()', 'a'), /gives int, not bool/)
  t.throws(() => parse('other == 1'), /Unknown variable: other/, 'self is the only variable')
  t.throws(() => parse('has(self)'), /has\(\) invalid argument/)
  t.throws(() => parse('self.noSuchFunction()'), /found no matching overload/, 'an unknown function fails when the rule is compiled, not when it runs')
  t.throws(() => parse('self.size() <= \'9\''), /no such overload: int <= string/)
  t.throws(() => parse('self.a == \'open'), /Unterminated string/)
  t.throws(() => parse('self.a self.b'), /Unexpected/)
})
