// The EtcdBackup controller (hooks/backup/), one row per situation: the
// first sync creates the Job (valid Kubernetes objects), a finished backup
// never runs again, a missing cluster or Secret fails without a Job, the
// status comes from the Job and what its runner recorded, and the same
// request gives the same answer. Then the HTTP routes, through inject().
import t from 'tap'
import type { BackupSyncRequest, BackupSyncResponse, EtcdBackup, EtcdBackupSpec, EtcdBackupStatus } from '../hooks/api/backup.js'
import type { KubeObject } from '../hooks/api/kube.js'
import { backupRelatedResources } from '../hooks/backup/customize.js'
import { syncBackup } from '../hooks/backup/sync.js'
import type { MembershipClient } from '../hooks/etcd/types.js'
import { buildApp } from '../hooks/server/app.js'
import { NOW } from './helpers/fixtures.js'
import { validateKubeObject } from './helpers/kube-schema.js'

const NAME = 'nightly'
const NS = 'prod'
const CLUSTER = 'example'
const LATER = new Date(NOW.getTime() + 60_000)
const RUNNER = 'registry.example.com/etcd-operator-hook:1.2.3'
const settings = { runnerImage: RUNNER }

const S3_SPEC: EtcdBackupSpec = { clusterName: CLUSTER, s3: { path: 'etcd-backups/example/nightly.db', awsSecret: 's3-creds', endpoint: 'https://minio:9000', forcePathStyle: true } }
const TLS = { static: { member: { peerSecret: 'peer', serverSecret: 'server' }, operatorSecret: 'operator' } }

function etcdCluster (spec: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'etcd.database.coreos.com/v1beta2', kind: 'EtcdCluster', metadata: { name: CLUSTER, namespace: NS }, spec: { size: 3, version: '3.6.14', repository: 'registry.example.com/etcd', ...spec } }
}

const pem = (what: string) => Buffer.from(`-----BEGIN ${what}-----\nx\n-----END ${what}-----\n`).toString('base64')
function secret (name: string, files = ['etcd-client.crt', 'etcd-client.key', 'etcd-client-ca.crt']): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, data: Object.fromEntries(files.map(f => [f, pem('CERTIFICATE')])) }
}

interface Fixture { spec?: EtcdBackupSpec, status?: EtcdBackupStatus, job?: KubeObject, related?: KubeObject[] }
function request ({ spec = S3_SPEC, status, job, related = [etcdCluster()] }: Fixture = {}): BackupSyncRequest {
  const parent: EtcdBackup = {
    apiVersion: 'etcd.database.coreos.com/v1beta2',
    kind: 'EtcdBackup',
    metadata: { name: NAME, namespace: NS, uid: 'b-uid', generation: 1 },
    spec,
    ...(status !== undefined ? { status } : {}),
  }
  const byKind = (kind: string) => Object.fromEntries(related.filter(o => `${o.kind}.${o.apiVersion}` === kind).map(o => [o.metadata.name, o]))
  return {
    controller: { metadata: { name: 'etcdbackups.etcd.database.coreos.com' } },
    parent,
    children: {
      'Job.batch/v1': job !== undefined ? { [job.metadata.name]: job } : {},
      'ServiceAccount.v1': {},
      'Role.rbac.authorization.k8s.io/v1': {},
      'RoleBinding.rbac.authorization.k8s.io/v1': {},
    },
    related: { 'EtcdCluster.etcd.database.coreos.com/v1beta2': byKind('EtcdCluster.etcd.database.coreos.com/v1beta2'), 'Secret.v1': byKind('Secret.v1') },
    finalizing: false,
  }
}

const sync = (fixture: Fixture = {}, now = NOW) => syncBackup(request(fixture), now, settings).response
const jobOf = (response: BackupSyncResponse) => response.children.find(c => c.kind === 'Job')
const conditionOf = (status: EtcdBackupStatus, type: string) => status.conditions?.find(c => c.type === type)

interface Container { name: string, image: string, command: string[], args: string[] }
interface PodSpec { initContainers: Container[], containers: Container[], serviceAccountName: string, volumes: Array<{ name: string, secret?: { secretName: string }, persistentVolumeClaim?: { claimName: string } }> }
const podOf = (job: KubeObject) => (job.spec as { template: { spec: PodSpec } }).template.spec

// The Job as the API server and the Job controller show it later.
function observed (job: KubeObject, status: Record<string, unknown>, annotations: Record<string, string> = {}): KubeObject {
  const copy = structuredClone(job)
  copy.metadata = { ...copy.metadata, uid: 'job-uid', creationTimestamp: '2026-11-26T10:00:01Z', labels: { ...copy.metadata.labels, 'controller-uid': 'b-uid' }, annotations: { 'metacontroller.k8s.io/last-applied-configuration': '{}', ...annotations } }
  return Object.assign(copy, { status })
}
const created = () => jobOf(sync())!
const succeededJob = (annotations: Record<string, string>) => observed(created(), {
  startTime: '2026-11-26T10:00:02Z',
  completionTime: '2026-11-26T10:00:40Z',
  conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: '2026-11-26T10:00:40Z' }],
}, annotations)
const failedJob = () => observed(created(), {
  startTime: '2026-11-26T10:00:02Z',
  conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: '2026-11-26T10:10:02Z' }],
})
const RECORDED = {
  'etcd.database.coreos.com/backup-object': 's3://etcd-backups/example/nightly.db',
  'etcd.database.coreos.com/backup-revision': '4711',
  'etcd.database.coreos.com/backup-size': '20480',
  'etcd.database.coreos.com/backup-sha256': 'b'.repeat(64),
  'etcd.database.coreos.com/backup-etcd-version': '3.6.14',
}

t.test('the first sync creates the Job and its service account, valid Kubernetes objects', async t => {
  const response = sync()
  const job = jobOf(response)!
  t.ok(job, 'a Job')
  t.equal(job.metadata.name, NAME, 'named after the backup')
  for (const child of response.children) await t.resolves(validateKubeObject(child), `${child.kind} ${child.metadata.name} is valid`)
  t.same(response.children.map(c => `${c.kind}/${c.metadata.name}`), [`Job/${NAME}`, `ServiceAccount/${NAME}-backup`, `Role/${NAME}-backup`, `RoleBinding/${NAME}-backup`])
  t.same(response.children.find(c => c.kind === 'Role')?.rules, [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['patch'] }], 'patch on jobs only')
  const spec = job.spec as Record<string, unknown>
  t.equal(spec.backoffLimit, 0, 'one run')
  t.equal(spec.activeDeadlineSeconds, 600, 'the default timeout')
  t.notOk('ttlSecondsAfterFinished' in spec, 'the Job stays as the record')
  const pod = podOf(job)
  t.equal(pod.serviceAccountName, `${NAME}-backup`)
  const [snapshot] = pod.initContainers
  const [upload] = pod.containers
  t.equal(snapshot?.image, 'registry.example.com/etcd:v3.6.14', 'the etcdctl of the cluster\'s version and repository')
  t.ok(snapshot?.args.includes(`--endpoints=http://${CLUSTER}-client.${NS}.svc:2379`), 'the cluster\'s client Service')
  t.equal(upload?.image, RUNNER, 'the runner image from the settings')
  t.ok(upload?.args.includes('--s3-object=etcd-backups/example/nightly.db'), 's3.path is the exact object')
  t.notOk(upload?.args.some(a => a.startsWith('--max-backups')), 'no retention for one backup')
  t.match(response.status, { conditions: [{ type: 'Succeeded', status: 'False', reason: 'JobCreated' }, { type: 'Failed', status: 'False', reason: 'JobCreated' }] })
  t.equal(response.status.succeeded, undefined, 'not finished')
  const labels = job.metadata.labels ?? {}
  t.notOk('app' in labels || 'etcd_cluster' in labels, 'not the member labels the client Services and the scheduled backups select')
})

t.test('a cluster with client TLS: https and the operator Secret; a timeout from backupPolicy', async t => {
  const job = jobOf(sync({ spec: { ...S3_SPEC, backupPolicy: { timeoutInSecond: 120 } }, related: [etcdCluster({ TLS, pod: { ClusterDomain: '.cluster.local' } })] }))!
  await validateKubeObject(job)
  t.equal((job.spec as { activeDeadlineSeconds: number }).activeDeadlineSeconds, 120)
  const pod = podOf(job)
  const args = pod.initContainers[0]?.args ?? []
  t.ok(args.includes(`--endpoints=https://${CLUSTER}-client.${NS}.svc.cluster.local:2379`))
  t.ok(args.includes('--cert=/etc/etcd-backup/client-tls/etcd-client.crt'))
  t.ok(pod.volumes.some(v => v.secret?.secretName === 'operator'), 'the cluster\'s operatorSecret is mounted')
})

t.test('bare endpoints to a PVC: the first endpoint, the default etcd image, spec.clientTLSSecret', async t => {
  const spec: EtcdBackupSpec = { etcdEndpoints: ['https://etcd-a:2379', 'https://etcd-b:2379'], clientTLSSecret: 'etcd-client', pvc: { claimName: 'backups', path: 'prod/nightly.db' } }
  const job = jobOf(sync({ spec, related: [secret('etcd-client')] }))!
  await validateKubeObject(job)
  const pod = podOf(job)
  t.equal(pod.initContainers[0]?.image, 'quay.io/coreos/etcd:v3.6.14')
  t.ok(pod.initContainers[0]?.args.includes('--endpoints=https://etcd-a:2379'))
  t.ok(pod.volumes.some(v => v.secret?.secretName === 'etcd-client'))
  t.ok(pod.volumes.some(v => v.persistentVolumeClaim?.claimName === 'backups'))
  t.match(pod.containers[0]?.args, ['upload', '--snapshot=/snapshot/etcd.db', `--cluster=${NAME}`, '--store=pvc', '--pvc-dir=/backup-store', '--pvc-claim=backups', '--pvc-file=prod/nightly.db'])
  // Without the Secret: Failed, no Job.
  const missing = sync({ spec, related: [] })
  t.equal(jobOf(missing), undefined, 'no Job without its Secret')
  t.match(missing.status, { succeeded: false, reason: /client TLS secret prod\/etcd-client not found/ })
  t.match(conditionOf(missing.status, 'Failed'), { status: 'True', reason: 'CredentialsNotFound' })
  const incomplete = sync({ spec, related: [secret('etcd-client', ['etcd-client.crt'])] })
  t.match(incomplete.status.reason, /lacks etcd-client.key, etcd-client-ca.crt/)
})

t.test('a missing cluster, or one without credentials: Failed, with a reason, and no Job', async t => {
  const response = sync({ related: [] })
  t.equal(jobOf(response), undefined, 'no Job')
  t.match(response.status, { succeeded: false, reason: `EtcdCluster ${NS}/${CLUSTER} not found (spec.clusterName)` })
  t.match(conditionOf(response.status, 'Failed'), { status: 'True', reason: 'ClusterNotFound' })
  t.match(conditionOf(response.status, 'Succeeded'), { status: 'False', reason: 'ClusterNotFound' })
  t.ok(response.children.every(c => c.kind !== 'Job'))
  const noOperator = sync({ related: [etcdCluster({ TLS: { static: { member: { serverSecret: 'server' } } } })] })
  t.equal(jobOf(noOperator), undefined)
  t.match(conditionOf(noOperator.status, 'Failed'), { status: 'True', reason: 'CredentialsMissing' })
  // The cluster appears: the backup runs (it never ran).
  const later = sync({ status: response.status }, LATER)
  t.ok(jobOf(later), 'a Job once the cluster is there')
  t.match(conditionOf(later.status, 'Failed'), { status: 'False', reason: 'JobCreated' })
})

t.test('status from a succeeded Job and what its runner recorded', async t => {
  const response = sync({ job: succeededJob(RECORDED) })
  t.match(response.status, {
    succeeded: true,
    etcdVersion: '3.6.14',
    etcdRevision: 4711,
    lastSuccessDate: '2026-11-26T10:00:40Z',
    object: 's3://etcd-backups/example/nightly.db',
    size: 20480,
    sha256: 'b'.repeat(64),
  })
  t.equal(response.status.reason, undefined, 'no reason on success')
  t.match(conditionOf(response.status, 'Succeeded'), { status: 'True', reason: 'BackupSucceeded', message: 'snapshot at revision 4711 stored as s3://etcd-backups/example/nightly.db' })
  t.match(conditionOf(response.status, 'Failed'), { status: 'False' })
  const job = jobOf(response)!
  t.equal(job.metadata.name, NAME, 'the Job is kept')
  t.notOk('status' in job, 'as observed, without what the API server owns')
  t.equal(job.metadata.annotations?.['metacontroller.k8s.io/last-applied-configuration'], undefined)
  t.equal(response.resyncAfterSeconds, 0, 'finished: no resync needed')
  const bare = sync({ job: succeededJob({}) })
  t.match(bare.status, { succeeded: true, lastSuccessDate: '2026-11-26T10:00:40Z' })
  t.match(conditionOf(bare.status, 'Succeeded')?.message, /no details recorded/)
  const running = sync({ job: observed(created(), { startTime: '2026-11-26T10:00:02Z', active: 1 }) })
  t.match(conditionOf(running.status, 'Succeeded'), { status: 'False', reason: 'Running' })
  t.equal(running.resyncAfterSeconds, 30)
})

t.test('status from a failed Job: its Failed condition', async t => {
  const response = sync({ job: failedJob() })
  t.match(response.status, { succeeded: false, reason: 'DeadlineExceeded: Job was active longer than specified deadline' })
  t.match(conditionOf(response.status, 'Failed'), { status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' })
  t.match(conditionOf(response.status, 'Succeeded'), { status: 'False', reason: 'DeadlineExceeded' })
  t.ok(jobOf(response), 'the failed Job is kept as the record, not retried')
})

t.test('status from a failed Job whose runner recorded its error: the store\'s own words', async t => {
  const job = observed(created(), {
    startTime: '2026-11-26T10:00:02Z',
    conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: '2026-11-26T10:00:09Z' }],
  }, { 'etcd.database.coreos.com/backup-error': 'upload of s3://missing-bucket/x.db failed: NoSuchBucket: The specified bucket does not exist' })
  const response = sync({ job })
  t.match(response.status, { succeeded: false, reason: /^BackoffLimitExceeded: Job has reached the specified backoff limit: upload of s3:\/\/missing-bucket\/x\.db failed: NoSuchBucket/ })
  t.match(conditionOf(response.status, 'Failed'), { status: 'True', reason: 'BackoffLimitExceeded', message: /NoSuchBucket: The specified bucket does not exist$/ })
})

t.test('the Job is never re-created once the backup finished', async t => {
  for (const [why, job] of [['succeeded', succeededJob(RECORDED)], ['failed', failedJob()]] as const) {
    const done = sync({ job })
    // The Job deleted since (by hand, or with a TTL): no second run, and the
    // status stays as it was.
    const after = sync({ status: done.status }, LATER)
    t.equal(jobOf(after), undefined, `${why}: no new Job`)
    t.same(after.status, done.status, `${why}: the status is kept`)
    t.same(after.children.map(c => c.kind), ['ServiceAccount', 'Role', 'RoleBinding'])
    // Even with the cluster gone.
    t.equal(jobOf(sync({ status: done.status, related: [] }, LATER)), undefined, `${why}: nor with the cluster gone`)
  }
  // A finished Job still there, the cluster gone since: kept, status unchanged.
  const done = sync({ job: succeededJob(RECORDED) })
  const gone = sync({ job: succeededJob(RECORDED), status: done.status, related: [] }, LATER)
  t.same(gone.status, done.status, 'the Job is the record, whatever happened to the cluster')
})

t.test('the same request twice gives the same answer, and an unchanged world an unchanged status', async t => {
  const fixtures: Array<[string, Fixture]> = [
    ['new', {}],
    ['missing cluster', { related: [] }],
    ['running', { job: observed(created(), { active: 1 }) }],
    ['succeeded', { job: succeededJob(RECORDED) }],
    ['failed', { job: failedJob() }],
  ]
  for (const [why, fixture] of fixtures) {
    const req = request(fixture)
    const copy = structuredClone(req)
    const first = syncBackup(req, NOW, settings).response
    t.same(syncBackup(req, NOW, settings).response, first, `${why}: the same answer`)
    t.same(req, copy, `${why}: the request is not mutated`)
    // The next sync sees the status Metacontroller wrote, a minute later.
    const next = syncBackup(request({ ...fixture, status: first.status }), LATER, settings).response
    t.same(next.status, first.status, `${why}: the status does not change`)
  }
})

t.test('the customize hook asks for the cluster, or the Secret bare endpoints need', async t => {
  t.same(backupRelatedResources({ metadata: { name: NAME, namespace: NS }, spec: { clusterName: CLUSTER } }), [
    { apiVersion: 'etcd.database.coreos.com/v1beta2', resource: 'etcdclusters', namespace: NS, names: [CLUSTER] },
  ])
  t.same(backupRelatedResources({ metadata: { name: NAME }, spec: { clientTLSSecret: 'etcd-client' } }), [
    { apiVersion: 'v1', resource: 'secrets', namespace: 'default', names: ['etcd-client'] },
  ])
  t.same(backupRelatedResources({ metadata: { name: NAME }, spec: {} }), [])
})

// HTTP, through the app the server runs.
function app () {
  const membership: MembershipClient = {
    observe: () => Promise.reject(new Error('an EtcdBackup sync never calls etcd')),
    execute: () => Promise.reject(new Error('an EtcdBackup sync never calls etcd')),
  }
  const built = buildApp({ membership, now: () => NOW, settings })
  t.teardown(() => built.close())
  return built
}
const post = (url: string, payload: unknown) => ({ method: 'POST' as const, url, payload: payload as string })

t.test('POST /backup/sync', async t => {
  const server = app()
  const res = await server.inject(post('/backup/sync', request()))
  t.equal(res.statusCode, 200)
  const body = res.json<BackupSyncResponse>()
  t.same(Object.keys(body).sort(), ['children', 'resyncAfterSeconds', 'status'], 'only the keys a v2 hook accepts')
  t.same(body, syncBackup(request(), NOW, settings).response, 'the controller\'s answer')
  t.equal(jobOf(body)?.kind, 'Job')

  const wrongShape = structuredClone(request()) as unknown as { parent: { spec: Record<string, unknown> } }
  wrongShape.parent.spec.backupPolicy = { timeoutInSecond: 'soon' }
  const shape = await server.inject(post('/backup/sync', wrongShape))
  t.equal(shape.statusCode, 422)
  t.match(shape.json(), { error: 'Unprocessable Entity', message: /backupPolicy\/timeoutInSecond/ }, 'names the field')

  const both = request({ spec: { ...S3_SPEC, pvc: { claimName: 'backups', path: 'x.db' } } })
  const rule = await server.inject(post('/backup/sync', both))
  t.equal(rule.statusCode, 422)
  t.same(rule.json(), { error: 'Unprocessable Entity', message: 'spec: exactly one of s3 and pvc says where the snapshot goes' })

  const cluster = await server.inject(post('/sync', { parent: request().parent }))
  t.equal(cluster.statusCode, 422, 'an EtcdBackup is no EtcdCluster: /sync refuses it')
})

t.test('POST /backup/customize', async t => {
  const server = app()
  const res = await server.inject(post('/backup/customize', { controller: {}, parent: request().parent }))
  t.equal(res.statusCode, 200)
  t.same(res.json(), { relatedResources: [{ apiVersion: 'etcd.database.coreos.com/v1beta2', resource: 'etcdclusters', namespace: NS, names: [CLUSTER] }] })
  const bad = await server.inject(post('/backup/customize', { parent: { metadata: {} } }))
  t.equal(bad.statusCode, 422)
  const wrongMethod = await server.inject({ method: 'GET', url: '/backup/sync' })
  t.equal(wrongMethod.statusCode, 405)
})
