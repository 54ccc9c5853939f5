// Scheduled backups as the hook renders them: the CronJob `<name>-backup`
// and the service account its runner records results with, for etcd 3.4,
// 3.5 and 3.6, with TLS and without, to S3 and to a PVC. Each is valid
// against the Kubernetes schemas; commands are plain binaries (no shell).
import t from 'tap'
import type { ClusterSpec } from '../hooks/api/cluster.js'
import type { KubeObject } from '../hooks/api/kube.js'
import { plan } from '../hooks/cluster/plan.js'
import type { Observation } from '../hooks/etcd/types.js'
import { NAME, NOW, members, memberId, syncRequest, type RequestFixture } from './helpers/fixtures.js'
import { child, childrenOfKind } from './helpers/inspect.js'
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
  t.match(pod.containers[0]?.args, ['upload', '--snapshot=/snapshot/etcd.db', `--cluster=${NAME}`, '--store=pvc', '--pvc-dir=/backup-store', '--pvc-subpath=prod'])
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
