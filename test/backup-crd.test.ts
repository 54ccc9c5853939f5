// The EtcdBackup CRD: generated from the hook's TypeBox schemas and current;
// a valid, structural CustomResourceDefinition; and its CEL rules (the
// ETCD_BACKUP_RULES) each refuse a bad EtcdBackup and hold on a good one,
// with the words the hook's own 422 uses.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import { ETCD_BACKUP_RULES, EtcdBackupSchema, type EtcdBackup } from '../hooks/api/backup.js'
import { backupProblemsOf } from '../hooks/api/validate.js'
import { BACKUP_CRD_FILES, REGENERATE, backupCrdYaml } from '../scripts/crd.js'
import { parse } from './helpers/cel.js'
import { BACKUP_CRD_FILE, crdValidator, loadCrd, pruneAndDefault, schemaOf, structuralProblems, type Schema } from './helpers/crd.js'
import { ROOT } from './helpers/helm.js'
import { validateKubeObject } from './helpers/kube-schema.js'

const crd = loadCrd(BACKUP_CRD_FILE)
const schema = schemaOf(crd)
const validate = crdValidator(schema)
const specSchema = (schema.properties as Record<string, Schema>).spec!
const rules = (specSchema['x-kubernetes-validations'] ?? []) as Array<{ rule: string, message: string }>

t.test('the committed EtcdBackup CRD is what scripts/crd.ts generates from hooks/api/backup.ts', async t => {
  const fresh = backupCrdYaml()
  for (const file of BACKUP_CRD_FILES) {
    t.equal(readFileSync(`${ROOT}${file}`, 'utf8'), fresh, `${file} matches a fresh generation (if not, run \`${REGENERATE}\`)`)
  }
})

t.test('the CRD is a valid apiextensions.k8s.io/v1 CustomResourceDefinition', async t => {
  await t.resolves(validateKubeObject(crd), 'kubernetes-models accepts it')
  t.same(structuralProblems(schema), [], 'the schema is structural')
  const spec = crd.spec as Record<string, any>
  t.equal((crd.metadata as { name: string }).name, 'etcdbackups.etcd.database.coreos.com')
  t.equal(spec.group, 'etcd.database.coreos.com')
  t.equal(spec.scope, 'Namespaced')
  t.equal(spec.names.plural, 'etcdbackups')
  t.equal(spec.names.kind, 'EtcdBackup')
  const version = spec.versions[0]
  t.equal(version.name, 'v1beta2')
  t.same(version.subresources, { status: {} }, 'status is a subresource: Metacontroller writes it')
  t.same(version.additionalPrinterColumns.map((c: { name: string }) => c.name), ['Succeeded', 'Revision', 'Object', 'Age'])
  for (const c of version.additionalPrinterColumns as Array<{ jsonPath: string }>) t.match(c.jsonPath, /^\./)
  t.same(rules, ETCD_BACKUP_RULES, 'the spec carries the ETCD_BACKUP_RULES')
  for (const { rule } of rules) t.doesNotThrow(() => parse(rule), `${rule} parses and type-checks`)
  const status = (schema.properties as Record<string, Schema>).status!
  t.equal(status['x-kubernetes-preserve-unknown-fields'], true, 'status stays open')
  t.ok((status.properties as Record<string, Schema>).observedGeneration)
})

const GOOD: EtcdBackup = {
  apiVersion: 'etcd.database.coreos.com/v1beta2',
  kind: 'EtcdBackup',
  metadata: { name: 'nightly', namespace: 'default' },
  spec: { clusterName: 'example', s3: { path: 'etcd-backups/example/nightly.db', awsSecret: 's3-creds' } },
}

const bad: Array<{ why: string, change: (b: EtcdBackup) => void, message: RegExp }> = [
  { why: 'neither clusterName nor etcdEndpoints', change: b => { delete b.spec.clusterName }, message: /^spec: exactly one of clusterName and etcdEndpoints says which etcd to back up$/ },
  { why: 'both clusterName and etcdEndpoints', change: b => { b.spec.etcdEndpoints = ['http://etcd:2379'] }, message: /^spec: exactly one of clusterName and etcdEndpoints/ },
  { why: 'an empty etcdEndpoints list instead of a cluster', change: b => { delete b.spec.clusterName; b.spec.etcdEndpoints = [] }, message: /^spec: exactly one of clusterName and etcdEndpoints/ },
  { why: 'both s3 and pvc', change: b => { b.spec.pvc = { claimName: 'backups', path: 'nightly.db' } }, message: /^spec: exactly one of s3 and pvc says where the snapshot goes$/ },
  { why: 'no store', change: b => { delete b.spec.s3 }, message: /^spec: exactly one of s3 and pvc/ },
  { why: 'storageType PVC with s3 set', change: b => { b.spec.storageType = 'PVC' }, message: /^spec: storageType must name the store that is set$/ },
  { why: 'storageType S3 with pvc set', change: b => { b.spec = { clusterName: 'example', pvc: { claimName: 'backups', path: 'nightly.db' }, storageType: 'S3' } }, message: /^spec: storageType must name the store that is set$/ },
]

t.test('every CEL rule refuses a bad EtcdBackup, and the hook refuses it in the same words', async t => {
  t.same(validate(GOOD), [], 'the good backup is fine')
  const refusals: string[] = []
  for (const row of bad) {
    const backup = structuredClone(GOOD)
    row.change(backup)
    const problems = validate(backup)
    refusals.push(...problems)
    t.ok(problems.some(p => row.message.test(p)), `${row.why}: refused with ${row.message}; got ${JSON.stringify(problems)}`)
    t.ok(backupProblemsOf(backup).some(p => row.message.test(p)), `${row.why}: the hook refuses it too`)
  }
  for (const { rule, message } of rules) {
    t.ok(refusals.some(p => p === `spec: ${message}`), `rule ${rule} refuses at least one bad backup`)
  }
})

t.test('every CEL rule holds on good EtcdBackups, which the hook accepts', async t => {
  const variants: Array<[string, (b: EtcdBackup) => void]> = [
    ['a cluster to S3', () => undefined],
    ['a cluster to S3, storageType S3', b => { b.spec.storageType = 'S3' }],
    ['endpoints to a PVC, storageType PVC', b => {
      b.spec = { etcdEndpoints: ['https://etcd.db:2379'], clientTLSSecret: 'etcd-client', pvc: { claimName: 'backups', path: 'nightly.db' }, storageType: 'PVC' }
    }],
    ['a timeout', b => { b.spec.backupPolicy = { timeoutInSecond: 120 } }],
  ]
  for (const [why, change] of variants) {
    const backup = structuredClone(GOOD)
    change(backup)
    t.same(validate(backup), [], `${why}: the API server accepts it (every rule evaluates and holds)`)
    t.same(backupProblemsOf(backup), [], `${why}: so does the hook`)
    t.ok(Value.Check(EtcdBackupSchema, pruneAndDefault(backup, schema)), `${why}: and its schema, as stored`)
  }
})

t.test('the schema refuses what the hook\'s schema refuses', async t => {
  const shortTimeout = structuredClone(GOOD)
  shortTimeout.spec.backupPolicy = { timeoutInSecond: 5 }
  t.match(validate(shortTimeout), [/^spec\.backupPolicy\.timeoutInSecond: must be >= 30$/])
  t.notOk(Value.Check(EtcdBackupSchema, shortTimeout))
  const noBucket = structuredClone(GOOD)
  noBucket.spec.s3 = { path: 'nobucket', awsSecret: 'aws' }
  t.match(validate(noBucket), [/^spec\.s3\.path: must match pattern/])
})

t.test('the EtcdBackups and Secrets of manifests/examples are valid as the API server and the hook read them', async t => {
  const { parseAllDocuments } = await import('yaml')
  const { readdirSync } = await import('node:fs')
  const dir = `${ROOT}manifests/examples/`
  const docs = readdirSync(dir).filter(f => f.endsWith('.yaml')).flatMap(file =>
    parseAllDocuments(readFileSync(dir + file, 'utf8')).map(d => ({ file, doc: d.toJS() as Record<string, any> | null })))
  const backups = docs.filter(d => d.doc?.kind === 'EtcdBackup')
  t.ok(backups.length >= 1, 'at least one EtcdBackup example')
  for (const { file, doc } of backups) {
    t.same(validate(doc), [], `${file} ${doc!.metadata.name}: the CRD accepts it`)
    const stored = pruneAndDefault(doc, schema) as EtcdBackup
    t.ok(Value.Check(EtcdBackupSchema, stored), 'the hook\'s schema accepts it as stored')
    t.same(backupProblemsOf(stored), [], 'the hook finds no problem with it')
  }
  for (const { file, doc } of docs.filter(d => d.doc?.kind === 'Secret')) await t.resolves(validateKubeObject(doc!), `${file}: Secret ${doc!.metadata.name} is valid`)
})
