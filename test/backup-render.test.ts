// Scheduled backups as the hook renders them: the CronJob `<name>-backup`
// and the service account its runner records results with, for etcd 3.4,
// 3.5 and 3.6, with TLS and without, to S3 and to a PVC. Each is valid
// against the Kubernetes schemas; commands are plain binaries (no shell).
import t from 'tap'
import type { ClusterSpec, SyncResponse } from '../hooks/api/cluster.js'
import type { KubeObject } from '../hooks/api/kube.js'
import { relatedResources } from '../hooks/cluster/customize.js'
import { plan } from '../hooks/cluster/plan.js'
import type { MembershipClient, Observation } from '../hooks/etcd/types.js'
import { problemsOf } from '../hooks/api/validate.js'
import { buildApp } from '../hooks/server/app.js'
import { readConfig } from '../hooks/server/config.js'
import { HookMetrics } from '../hooks/server/metrics.js'
import { NAME, NOW, members, memberId, syncRequest, type RequestFixture } from './helpers/fixtures.js'
import { child, childrenOfKind, conditionOf } from './helpers/inspect.js'
import { validateKubeObject } from './helpers/kube-schema.js'

const ready = (...ordinals: number[]) => ordinals.map(ordinal => ({ ordinal }))
const s3 = { schedule: '*/30 * * * *', maxBackups: 48, timeoutSeconds: 900, s3: { path: 'etcd-backups/prod', awsSecret: 's3-creds', endpoint: 'https://minio.storage:9000', forcePathStyle: true } }
const healthy: Observation = { reachable: true, clusterId: '7', leaderId: memberId(0), members: members(0, 1, 2), answering: [0, 1, 2].map(memberId) }
const steady = (spec: Partial<ClusterSpec>, pods: RequestFixture['pods'] = ready(0, 1, 2)) => plan(syncRequest({ spec, pods }), healthy, NOW)

interface Container { name: string, image: string, command: string[], args: string[], env?: unknown[] }
interface PodSpec { initContainers: Container[], containers: Container[], volumes: Array<{ name: string, secret?: { secretName: string }, persistentVolumeClaim?: { claimName: string } }>, serviceAccountName: string, restartPolicy: string }
const podSpecOf = (cronJob: KubeObject) =>
  (cronJob.spec as { jobTemplate: { spec: { template: { spec: PodSpec } } } }).jobTemplate.spec.template.spec

t.test('a CronJob, its service account and a Role that may only patch jobs, all valid Kubernetes objects', async t => {
  const p = steady({ backup: s3 })
  const cronJob = child(p.response, 'CronJob', `${NAME}-backup`)
  await validateKubeObject(cronJob)
  for (const kind of ['ServiceAccount', 'Role', 'RoleBinding']) await validateKubeObject(child(p.response, kind, `${NAME}-backup`))
  t.match(cronJob.spec, {
    schedule: '*/30 * * * *',
    concurrencyPolicy: 'Forbid',
    suspend: false,
    jobTemplate: { spec: { backoffLimit: 0, activeDeadlineSeconds: 900 } },
  })
  t.same(child(p.response, 'Role', `${NAME}-backup`).rules, [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['patch'] }], 'patch on jobs, nothing else')
  const pod = podSpecOf(cronJob)
  t.equal(pod.serviceAccountName, `${NAME}-backup`)
  t.equal(pod.restartPolicy, 'Never')
  const [snapshot] = pod.initContainers
  const [upload] = pod.containers
  t.same(snapshot?.command, ['/usr/local/bin/etcdctl'], 'etcd\'s own etcdctl, no shell')
  t.same(snapshot?.args.slice(-3), ['snapshot', 'save', '/snapshot/etcd.db'])
  t.ok(snapshot?.args.includes(`--endpoints=http://${NAME}-client.default.svc:2379`), 'one endpoint: the client Service (voters only)')
  t.equal(snapshot?.image, 'quay.io/coreos/etcd:v3.5.21', 'the etcdctl of the version the cluster runs')
  t.same(upload?.command, ['node', '/app/dist/runner/main.js'])
  t.same(upload?.args, [
    'upload', '--snapshot=/snapshot/etcd.db', `--cluster=${NAME}`,
    '--store=s3', '--s3-path=etcd-backups/prod', '--aws-dir=/etc/etcd-backup/aws', '--s3-endpoint=https://minio.storage:9000', '--s3-force-path-style',
    '--max-backups=48', '--status-tool=/usr/local/bin/etcdutl', '--status-tool-kind=etcdutl',
    '--job=$(JOB_NAME)', '--namespace=$(JOB_NAMESPACE)',
  ])
  t.ok(pod.volumes.some(v => v.secret?.secretName === 's3-creds'), 'the AWS secret is mounted')
  t.same(childrenOfKind(steady({}).response, 'CronJob'), [], 'no backup spec: no CronJob (a 200 then deletes it)')
})

t.test('with client TLS the snapshot uses the operator certificate over https', async t => {
  const tls = { static: { member: { peerSecret: 'peer', serverSecret: 'server' }, operatorSecret: 'operator' } }
  const cronJob = child(steady({ TLS: tls, backup: s3 }).response, 'CronJob', `${NAME}-backup`)
  await validateKubeObject(cronJob)
  const pod = podSpecOf(cronJob)
  const args = pod.initContainers[0]?.args ?? []
  t.ok(args.includes(`--endpoints=https://${NAME}-client.default.svc:2379`))
  t.ok(args.includes('--cert=/etc/etcd-backup/client-tls/etcd-client.crt') && args.includes('--key=/etc/etcd-backup/client-tls/etcd-client.key') && args.includes('--cacert=/etc/etcd-backup/client-tls/etcd-client-ca.crt'))
  t.ok(pod.volumes.some(v => v.secret?.secretName === 'operator'))
})

t.test('to a PVC', async t => {
  const cronJob = child(steady({ backup: { schedule: '0 3 * * *', timeZone: 'Etc/UTC', pvc: { claimName: 'etcd-backups', subPath: 'prod' } } }).response, 'CronJob', `${NAME}-backup`)
  await validateKubeObject(cronJob)
  t.equal((cronJob.spec as { timeZone: string }).timeZone, 'Etc/UTC')
  const pod = podSpecOf(cronJob)
  t.ok(pod.volumes.some(v => v.persistentVolumeClaim?.claimName === 'etcd-backups'))
  t.match(pod.containers[0]?.args, ['upload', '--snapshot=/snapshot/etcd.db', `--cluster=${NAME}`, '--store=pvc', '--pvc-dir=/backup-store', '--pvc-claim=etcd-backups', '--pvc-subpath=prod'])
})

t.test('the snapshot is taken with the etcdctl of the version the cluster runs', async t => {
  for (const version of ['3.4.23', '3.5.33', '3.6.14']) {
    const cronJob = child(steady({ version, backup: s3 }, [0, 1, 2].map(ordinal => ({ ordinal, image: `quay.io/coreos/etcd:v${version}` }))).response, 'CronJob', `${NAME}-backup`)
    await validateKubeObject(cronJob)
    t.equal(podSpecOf(cronJob).initContainers[0]?.image, `quay.io/coreos/etcd:v${version}`, version)
  }
  // Mid-upgrade: the oldest version's etcdctl.
  const rolling = steady({ version: '3.5.33', backup: s3 }, [{ ordinal: 0, image: 'quay.io/coreos/etcd:v3.4.23' }, ...ready(1, 2)])
  t.equal(podSpecOf(child(rolling.response, 'CronJob', `${NAME}-backup`)).initContainers[0]?.image, 'quay.io/coreos/etcd:v3.4.23')
})

const job = (name: string, started: string, outcome: 'succeeded' | 'failed' | 'running', annotations: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, namespace: 'default', creationTimestamp: started, labels: { 'app': 'etcd', 'etcd_cluster': NAME, 'app.kubernetes.io/component': 'backup', 'batch.kubernetes.io/job-name': name }, annotations },
  status: {
    startTime: started,
    ...(outcome === 'succeeded' ? { completionTime: started.replace(':00Z', ':42Z'), conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: started.replace(':00Z', ':42Z') }] } : {}),
    ...(outcome === 'failed' ? { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: started.replace(':00Z', ':30Z') }] } : {}),
  },
})
const recorded = (revision: number) => ({
  'etcd.database.coreos.com/backup-object': `s3://etcd-backups/prod/${NAME}-r${revision}.db`,
  'etcd.database.coreos.com/backup-revision': String(revision),
  'etcd.database.coreos.com/backup-size': '20480',
  'etcd.database.coreos.com/backup-sha256': 'a'.repeat(64),
})
const withJobs = (jobs: KubeObject[], status?: RequestFixture['status']) => {
  const request = syncRequest({ spec: { backup: s3 }, pods: ready(0, 1, 2), ...(status !== undefined ? { status } : {}) })
  request.related = { 'Job.batch/v1': Object.fromEntries(jobs.map(j => [j.metadata.name, j])) }
  return plan(request, healthy, NOW)
}

t.test('the customize hook asks for the backup Jobs (the CronJob owns them) and the operator Secret', async t => {
  t.same(relatedResources({ metadata: { name: NAME, namespace: 'prod' }, spec: { backup: s3, TLS: { static: { operatorSecret: 'op' } } } }), [
    { apiVersion: 'v1', resource: 'secrets', namespace: 'prod', names: ['op'] },
    { apiVersion: 'batch/v1', resource: 'jobs', namespace: 'prod', labelSelector: { matchLabels: { 'app': 'etcd', 'etcd_cluster': NAME, 'app.kubernetes.io/component': 'backup' } } },
  ])
  t.same(relatedResources({ metadata: { name: NAME }, spec: {} }), [], 'nothing without TLS or backups')
  // The Jobs the CronJob makes carry the labels the customize hook selects.
  const template = (child(steady({ backup: s3 }).response, 'CronJob', `${NAME}-backup`).spec as { jobTemplate: { metadata: { labels: Record<string, string> } } }).jobTemplate
  t.match(template.metadata.labels, { 'app': 'etcd', 'etcd_cluster': NAME, 'app.kubernetes.io/component': 'backup' })
})

t.test('status.backup: the last success with what the runner recorded, failures in a row, BackupHealthy', async t => {
  const p = withJobs([
    job(`${NAME}-backup-1`, '2026-11-26T08:00:00Z', 'succeeded', recorded(100)),
    job(`${NAME}-backup-2`, '2026-11-26T08:30:00Z', 'succeeded', recorded(180)),
    job(`${NAME}-backup-3`, '2026-11-26T09:00:00Z', 'failed'),
    job(`${NAME}-backup-4`, '2026-11-26T09:30:00Z', 'running'),
  ])
  t.same(p.response.status.backup, {
    failuresInARow: 1,
    lastSuccess: { time: '2026-11-26T08:30:42Z', object: `s3://etcd-backups/prod/${NAME}-r180.db`, revision: 180, size: 20480, sha256: 'a'.repeat(64) },
    lastFailure: { time: '2026-11-26T09:00:30Z', reason: 'BackoffLimitExceeded: Job has reached the specified backoff limit' },
    successDueBy: '2026-11-26T09:45:00.000Z',
  })
  t.match(conditionOf(p.response, 'BackupHealthy'), { status: 'True', reason: 'BackupSucceeded' })
  // Three failures in a row (the threshold): BackupHealthy False.
  const failing = withJobs([
    job(`${NAME}-backup-2`, '2026-11-26T08:30:00Z', 'succeeded', recorded(180)),
    ...['08:45', '09:00', '09:15'].map((at, i) => job(`${NAME}-backup-${i + 3}`, `2026-11-26T${at}:00Z`, 'failed')),
  ])
  t.match(conditionOf(failing.response, 'BackupHealthy'), { status: 'False', reason: 'BackupsFailing', message: /3 backups failed in a row/ })
  // What the runner said went wrong reaches the status (the pod's log does not).
  const said = withJobs([job(`${NAME}-backup-5`, '2026-11-26T09:00:00Z', 'failed', { 'etcd.database.coreos.com/backup-error': 'connect ECONNREFUSED 10.0.0.9:9000' })])
  t.match(said.response.status.backup?.lastFailure, { reason: 'BackoffLimitExceeded: Job has reached the specified backoff limit: connect ECONNREFUSED 10.0.0.9:9000' })
  // The Jobs aged out of the history: the status an earlier sync wrote is kept.
  const aged = withJobs([], p.response.status)
  t.same(aged.response.status.backup?.lastSuccess, p.response.status.backup?.lastSuccess, 'the last success is not lost')
  // A success with no details recorded (its PATCH failed) still counts.
  const bare = withJobs([job(`${NAME}-backup-7`, '2026-11-26T09:40:00Z', 'succeeded')])
  t.match(bare.response.status.backup?.lastSuccess, { time: '2026-11-26T09:40:42Z', object: /no details recorded/ })
  t.equal(bare.response.status.backup?.failuresInARow, 0)
})

t.test('BackupHealthy turns False when no backup succeeded within two schedule periods (runs that never start fail no Job)', async t => {
  // s3: every 30 minutes, timeoutSeconds 900. The last success 08:30:42;
  // due again 09:00 and 09:30, which may run until 09:45.
  const lastSucceeded = [job(`${NAME}-backup-1`, '2026-11-26T08:30:00Z', 'succeeded', recorded(100))]
  const syncAt = (time: string, jobs: KubeObject[], backup: Record<string, unknown> = s3, cronJobCreated?: string) => {
    const request = syncRequest({ spec: { backup: backup as ClusterSpec['backup'] }, pods: ready(0, 1, 2) })
    request.related = { 'Job.batch/v1': Object.fromEntries(jobs.map(j => [j.metadata.name, j])) }
    if (cronJobCreated !== undefined) {
      const cronJob = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: `${NAME}-backup`, namespace: 'default', creationTimestamp: cronJobCreated } }
      request.children = { ...request.children, 'CronJob.batch/v1': { [`${NAME}-backup`]: cronJob } }
    }
    return plan(request, healthy, new Date(time)).response
  }
  const at = (...args: Parameters<typeof syncAt>) => conditionOf(syncAt(...args), 'BackupHealthy')
  // The deadline is in status too (an alert reads it as a metric).
  t.equal(syncAt('2026-11-26T09:00:00Z', lastSucceeded).status.backup?.successDueBy, '2026-11-26T09:45:00.000Z', 'due: second run after the last success, plus timeoutSeconds')
  t.equal(syncAt('2026-11-26T08:20:00Z', [], s3, '2026-11-26T08:10:00Z').status.backup?.successDueBy, '2026-11-26T09:15:00.000Z', 'none yet: counted from the CronJob')
  t.equal(syncAt('2026-11-26T09:00:00Z', lastSucceeded, { ...s3, suspend: true }).status.backup?.successDueBy, undefined, 'suspended: nothing is due')
  t.match(at('2026-11-26T09:44:00Z', lastSucceeded), { status: 'True', reason: 'BackupSucceeded' }, 'the second due run may still be within its timeout')
  t.match(at('2026-11-26T09:46:00Z', lastSucceeded), { status: 'False', reason: 'BackupsOverdue', message: /no backup succeeded since 2026-11-26T08:30:42Z.*due by 2026-11-26T09:45:00.000Z/ })
  t.match(at('2026-11-26T09:46:00Z', [...lastSucceeded, job(`${NAME}-backup-2`, '2026-11-26T09:30:00Z', 'running')]), { status: 'True' }, 'a Job still running reports first')
  t.match(at('2026-11-26T12:00:00Z', lastSucceeded, { ...s3, suspend: true }), { status: 'True' }, 'suspended on purpose: not overdue')
  // None succeeded yet: due since the CronJob was created.
  t.match(at('2026-11-26T09:14:00Z', [], s3, '2026-11-26T08:10:00Z'), { status: 'True', reason: 'NoBackupYet' })
  t.match(at('2026-11-26T09:16:00Z', [], s3, '2026-11-26T08:10:00Z'), { status: 'False', reason: 'BackupsOverdue', message: /since 2026-11-26T08:10:00Z/ })
  t.match(at('2026-11-27T09:16:00Z', []), { status: 'True', reason: 'NoBackupYet' }, 'no CronJob observed yet: nothing is due')
  const noTimes = { ...job(`${NAME}-backup-9`, '', 'succeeded'), status: { conditions: [{ type: 'Complete', status: 'True' }] } }
  t.match(at('2026-11-27T09:16:00Z', [noTimes]), { status: 'True', reason: 'BackupSucceeded' }, 'a success without times: not taken as overdue')
  // The schedule's time zone moves when it is due: 03:00 in Berlin is 02:00 UTC in November.
  const nightly = { ...s3, schedule: '0 3 * * *', timeZone: 'Europe/Berlin', timeoutSeconds: 600 }
  t.match(at('2026-11-28T02:09:00Z', lastSucceeded, nightly), { status: 'True' })
  t.match(at('2026-11-28T02:11:00Z', lastSucceeded, nightly), { status: 'False', message: /due by 2026-11-28T02:10:00.000Z/ })
  t.match(at('2026-11-28T02:11:00Z', lastSucceeded, { ...nightly, timeZone: undefined }), { status: 'True' }, 'in UTC it is due at 03:00')
})

t.test('a schedule or time zone the API server would refuse is refused by the hook, naming the field', async t => {
  const problems = (backup: Record<string, unknown>) => problemsOf(syncRequest({ spec: { backup: { ...s3, ...backup } } }).parent)
  t.same(problems({}), [])
  t.same(problems({ schedule: '@hourly' }), [], 'a descriptor Kubernetes knows')
  t.same(problems({ schedule: '30 2 * * 1-5', timeZone: 'Europe/Berlin' }), [], 'weekdays at 02:30 in Berlin')
  t.match(problems({ schedule: '*/30 * * * * *' }), [/^spec\.backup\.schedule: '\*\/30 \* \* \* \* \*' has 6 fields; a schedule has five/], 'cron-parser would take seconds; Kubernetes does not')
  t.match(problems({ schedule: '61 * * * *' }), [/^spec\.backup\.schedule: '61 \* \* \* \*' is not a schedule: .*59/])
  t.match(problems({ schedule: '@fortnightly' }), [/^spec\.backup\.schedule: '@fortnightly' is not a schedule: the descriptors are @yearly/])
  t.match(problems({ schedule: 'TZ=Europe/Berlin 0 3 * * *' }), [/^spec\.backup\.schedule: .*TZ= prefix is not allowed: set timeZone instead/])
  t.match(problems({ timeZone: 'Mars/Olympus' }), [/^spec\.backup\.timeZone: 'Mars\/Olympus' is not a time zone name/])
  const app = buildApp({ membership: { observe: () => Promise.resolve(healthy), execute: () => Promise.reject(new Error('no write')) }, now: () => NOW })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/sync', payload: syncRequest({ spec: { backup: { ...s3, schedule: '0 25 * * *' } }, pods: ready(0, 1, 2) }) })
  t.equal(res.statusCode, 422, 'nothing changes until the schedule is fixed')
  t.match(res.body, /spec\.backup\.schedule/)
})

t.test('the runner image is the hook\'s own (RUNNER_IMAGE, set by the chart), through the HTTP route', async t => {
  t.equal(readConfig({}).runnerImage, 'ghcr.io/etcd-operator/etcd-operator-hook:0.1.0')
  t.equal(readConfig({ RUNNER_IMAGE: 'registry.example.com/etcd-operator:1.2.3' }).runnerImage, 'registry.example.com/etcd-operator:1.2.3')
  const fake: MembershipClient = { observe: () => Promise.resolve(healthy), execute: () => Promise.reject(new Error('no write expected')) }
  const app = buildApp({ membership: fake, now: () => NOW, settings: { runnerImage: 'registry.example.com/etcd-operator:1.2.3' } })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/sync', payload: syncRequest({ spec: { backup: s3 }, pods: ready(0, 1, 2) }) })
  t.equal(res.statusCode, 200)
  const cronJob = res.json<SyncResponse>().children.find(c => c.kind === 'CronJob')
  t.equal(cronJob && podSpecOf(cronJob).containers[0]?.image, 'registry.example.com/etcd-operator:1.2.3')
})

t.test('metrics: the last success and the time a backup is due, per cluster, only while backups are on', async t => {
  const metrics = new HookMetrics()
  const app = buildApp({ membership: { observe: () => Promise.resolve(healthy), execute: () => Promise.resolve() }, now: () => new Date('2026-11-26T09:00:00Z'), metrics })
  t.teardown(() => app.close())
  const request = syncRequest({ spec: { backup: s3 }, pods: ready(0, 1, 2) })
  request.related = { 'Job.batch/v1': { [`${NAME}-backup-1`]: job(`${NAME}-backup-1`, '2026-11-26T08:30:00Z', 'succeeded', recorded(100)) } }
  t.equal((await app.inject({ method: 'POST', url: '/sync', payload: request })).statusCode, 200)
  const scrape = async () => (await app.inject('/metrics')).body
  const labels = `{etcd_namespace="default",etcd_cluster="${NAME}"}`
  let text = await scrape()
  t.ok(text.includes(`etcd_operator_backup_last_success_timestamp_seconds${labels} ${Date.parse('2026-11-26T08:30:42Z') / 1000}`), 'the last success, in Unix seconds')
  t.ok(text.includes(`etcd_operator_backup_success_due_timestamp_seconds${labels} ${Date.parse('2026-11-26T09:45:00Z') / 1000}`), 'due: the second run after it, plus timeoutSeconds')
  // Backups turned off: the series go (the status keeps its record).
  await app.inject({ method: 'POST', url: '/sync', payload: syncRequest({ pods: ready(0, 1, 2), status: { backup: { lastSuccess: { time: '2026-11-26T08:30:42Z', object: 's3://x/y' } } } }) })
  text = await scrape()
  t.notOk(text.includes(`etcd_operator_backup_last_success_timestamp_seconds${labels}`), 'no series once spec.backup is gone')
})
