// End to end, issue 14 (backups): the hook's backup Jobs run for real. A
// CronJob run (the test triggers it: no cron timing) or an EtcdBackup's Job
// makes a pod whose init container is etcd's own `etcdctl snapshot save`
// against the cluster's client Service and whose container is the operator
// image's runner (`node dist/runner/main.js upload`), against s3rver in a
// namespace of its own or a directory standing for a PVC; the runner PATCHes
// its result onto its Job through the harness's API server endpoint (its
// service account token, RBAC from the hook's own Role), and the hook turns
// it into status. Scenarios: scheduled, retention, upload-failure,
// etcdbackup, pvc (E2E_ONLY=a,b runs a subset; see test/e2e/README.md).
import fs from 'node:fs'
import path from 'node:path'
import { type Test } from 'tap'
import { type Cluster, type EtcdBackupRun, waitFor } from './harness/world.js'
import { POD, PVC, type Obj } from './harness/store.js'
import { put } from './harness/etcd.js'
import { JOB } from './harness/apiserver.js'
import { CRONJOB, finished } from './harness/jobs.js'
import { sha256, type S3Store } from './harness/s3.js'
import { BACKUP_ANNOTATION_PREFIX } from '../../hooks/api/backup.js'
import { Suite } from './harness/scenario.js'

const SECRET_NAME = 's3-creds'
const BUCKET = 'etcd-backups'
// Never due while the test runs (BackupHealthy would turn False after two
// missed periods): runs come from trigger().
const SCHEDULE = '0 3 * * *'
const N = 40

const suite = await Suite.start('backup.test.ts')
if (suite) {
  const world = suite.world
  const scenario = suite.scenario.bind(suite)
  const s3 = await world.s3(BUCKET)
  // The user's Secret in the CoreOS format (files credentials and config).
  world.store.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET_NAME, namespace: world.store.namespace }, type: 'Opaque', data: s3.secretData() })
  const s3Spec = (prefix: string) => ({ path: `${BUCKET}/${prefix}`, awsSecret: SECRET_NAME, endpoint: s3.endpoint, forcePathStyle: true })
  const backupSpec = (extra: Record<string, unknown>) => ({ size: 1, backup: { schedule: SCHEDULE, ...extra } })

  // N keys through the client Service; the revision of the last write.
  const writeKeys = async (c: Cluster, prefix: string, n: number): Promise<number> => {
    let rev = 0
    for (let i = 0; i < n; i++) rev = Number(await put(world.network, c.clientIP!, `${prefix}${String(i).padStart(4, '0')}`, `v${i}`, 3000, c.via()))
    return rev
  }

  // One run of the cluster's CronJob, to the end: the finished Job.
  const runBackup = async (t: Test, c: Cluster, expect: 'Complete' | 'Failed'): Promise<Obj> => {
    const cronJob = `${c.name}-backup`
    await c.waitFor(() => world.store.get(CRONJOB, cronJob), { timeoutMs: 20_000, what: `CronJob ${cronJob}` })
    const job = world.jobs.trigger(cronJob)
    if (!job) throw new Error(`CronJob ${cronJob} refused a run`)
    const done = await c.waitFor(() => {
      const j = world.store.get(JOB, job.metadata.name)
      return j && finished(j) ? j : undefined
    }, { timeoutMs: 90_000, what: `backup Job ${job.metadata.name} to finish` })
    t.equal(finished(done), expect, `backup Job ${job.metadata.name}: ${finished(done)}`)
    return done
  }

  // The status the hook reports once it has seen that Job.
  const backupStatusAfter = (c: Cluster, job: Obj, pick: (b: any) => boolean): Promise<any> =>
    c.waitFor(() => {
      const b = c.status.backup
      return b && pick(b) && c.mc.lastRecord && !c.mc.lastRecord.error ? b : undefined
    }, { timeoutMs: 30_000, what: `status.backup to report Job ${job.metadata.name}` })

  const recorded = (job: Obj, key: string) => world.store.get(JOB, job.metadata.name)?.metadata.annotations?.[`${BACKUP_ANNOTATION_PREFIX}${key}`]

  // The generated names of this cluster under prefix, with their revisions.
  const named = (keys: string[], prefix: string, cluster: string) => keys.map(k => ({ k, m: new RegExp(`^${prefix}/${cluster}-(\\d{8}T\\d{6}Z)-r(\\d+)\\.db$`).exec(k) }))

  // The object in s3rver is what status says: size, sha256, revision in its name.
  const checkObject = async (t: Test, store: S3Store, object: string, status: any): Promise<void> => {
    t.match(object, /^s3:\/\/etcd-backups\//, `object ${object} is s3://bucket/key`)
    const bytes = await store.object(object.slice(`s3://${BUCKET}/`.length))
    t.equal(status.size, bytes.length, `size ${status.size} is the object's`)
    t.equal(status.sha256, sha256(bytes), 'sha256 is the object\'s')
    t.match(status.sha256, /^[0-9a-f]{64}$/, 'sha256 lowercase hex')
  }

  const podOf = (job: Obj): Obj | undefined => world.store.list(POD).find(p => (p.metadata.ownerReferences ?? []).some(r => r.uid === job.metadata.uid))
  const containerLog = (pod: Obj, container: string): string => {
    const dir = path.join(world.dir, 'logs')
    const file = fs.readdirSync(dir).find(f => f.startsWith(`${pod.metadata.name}-`) && f.endsWith(`-${container}.log`))
    return file ? fs.readFileSync(path.join(dir, file), 'utf8') : ''
  }

  // Only PATCHes of jobs in this namespace by the backup's service account,
  // all allowed (the hook's Role is enough and is what is used).
  const checkApiCalls = (t: Test, since: number, serviceAccount: string): void => {
    const calls = world.api.requests.slice(since)
    t.ok(calls.length > 0, `${calls.length} API calls from the runner(s)`)
    t.same(calls.filter(r => r.method !== 'PATCH' || !r.path.startsWith('/apis/batch/v1/namespaces/default/jobs/') || r.code !== 200 || r.user !== `system:serviceaccount:default:${serviceAccount}`).map(r => `${r.method} ${r.path} by ${r.user}: ${r.code} ${r.message.slice(0, 120)}`), [], 'every API call: an allowed PATCH of a Job in the namespace by the backup service account')
  }

  scenario('scheduled', 'B1. a scheduled backup: the CronJob\'s run uploads <prefix>/<cluster>-<UTC>-r<rev>.db; status.backup.lastSuccess carries its revision, size and sha256', async (t, c) => {
    await c.waitSteady({ timeoutMs: 60_000 })
    for (const k of ['ServiceAccount.v1', 'Role.rbac.authorization.k8s.io/v1', 'RoleBinding.rbac.authorization.k8s.io/v1']) t.ok(c.children(k).some(o => o.metadata.name === `${c.name}-backup`), `${k} ${c.name}-backup is a child`)
    const rev = await writeKeys(c, 'sched/', N)
    const apiBefore = world.api.requests.length
    const job = await runBackup(t, c, 'Complete')
    const b = await backupStatusAfter(c, job, x => x.lastSuccess?.object === recorded(job, 'object'))
    t.comment(`status.backup: ${JSON.stringify(b)}`)
    const keys = await s3.keys('scheduled/')
    const names = named(keys, 'scheduled', c.name)
    t.equal(keys.length, 1, `one object under scheduled/: ${keys.join(', ')}`)
    t.ok(names[0]?.m, `${keys[0]} is <prefix>/<cluster>-<yyyymmddThhmmssZ>-r<revision>.db`)
    t.equal(b.lastSuccess.object, `s3://${BUCKET}/${keys[0]}`, 'lastSuccess.object names it')
    t.equal(b.lastSuccess.revision, Number(names[0]?.m?.[2]), 'lastSuccess.revision is the revision in the name')
    t.ok(b.lastSuccess.revision >= rev, `the snapshot's revision ${b.lastSuccess.revision} covers the last write (${rev})`)
    await checkObject(t, s3, b.lastSuccess.object, b.lastSuccess)
    t.equal(b.failuresInARow, 0, 'no failure in a row')
    t.equal(c.condition('BackupHealthy')?.status, 'True', `BackupHealthy True: ${c.condition('BackupHealthy')?.message}`)
    checkApiCalls(t, apiBefore, `${c.name}-backup`)
    // The runner's annotations survive the syncs that follow (the Job is
    // no child; the CronJob is not rewritten).
    const syncs = c.mc.records.length
    await c.waitSteady({ timeoutMs: 30_000 })
    t.equal(recorded(job, 'sha256'), b.lastSuccess.sha256, 'the Job still carries the runner\'s annotations after more syncs')
    t.same(c.mc.records.slice(syncs).flatMap(r => r.updates), [], 'no child updated after the run')
  }, backupSpec({ s3: s3Spec('scheduled') }))

  scenario('retention', 'B2. retention: after 4 runs with maxBackups 2, exactly the newest 2 objects remain', async (t, c) => {
    await c.waitSteady({ timeoutMs: 60_000 })
    const made: string[] = []
    for (let run = 0; run < 4; run++) {
      await writeKeys(c, `ret${run}/`, 5)
      const job = await runBackup(t, c, 'Complete')
      made.push(String(recorded(job, 'object')))
      const keys = await s3.keys('retention/')
      t.ok(keys.length <= 2, `after run ${run + 1}: ${keys.length} objects (${keys.join(', ')})`)
      // Names carry seconds: the next run gets a later name.
      await new Promise(resolve => setTimeout(resolve, 1100))
    }
    const keys = await s3.keys('retention/')
    t.same(keys.map(k => `s3://${BUCKET}/${k}`), made.slice(-2).sort(), 'the newest two remain')
    t.equal(new Set(made).size, 4, 'each run wrote its own object')
    await backupStatusAfter(c, world.store.list(JOB).at(-1)!, x => x.lastSuccess?.object === made.at(-1))
  }, backupSpec({ maxBackups: 2, s3: s3Spec('retention') }))

  scenario('upload-failure', 'B3. the store down: failed runs keep every older object, status reports lastFailure and failuresInARow, BackupHealthy False at the threshold; back up: a success again', async (t, c) => {
    await c.waitSteady({ timeoutMs: 60_000 })
    for (let run = 0; run < 2; run++) {
      await writeKeys(c, `uf${run}/`, 5)
      await runBackup(t, c, 'Complete')
      await new Promise(resolve => setTimeout(resolve, 1100))
    }
    const before = await s3.keys('failure/')
    t.equal(before.length, 2, `two objects before: ${before.join(', ')}`)
    await s3.stop()
    try {
      const first = await runBackup(t, c, 'Failed')
      const b1 = await backupStatusAfter(c, first, x => x.failuresInARow === 1)
      t.ok(b1.lastFailure?.reason, `lastFailure: ${JSON.stringify(b1.lastFailure)}`)
      t.equal(c.condition('BackupHealthy')?.status, 'True', 'one failure is below failureThreshold 2')
      const second = await runBackup(t, c, 'Failed')
      await backupStatusAfter(c, second, x => x.failuresInARow === 2)
      const healthy = await c.waitFor(() => c.condition('BackupHealthy')?.status === 'False' && c.condition('BackupHealthy'), { timeoutMs: 20_000, what: 'BackupHealthy False' })
      t.pass(`BackupHealthy False: ${healthy.reason}: ${healthy.message}`)
      t.equal(recorded(second, 'object'), undefined, 'a failed run records no object on its Job')
      // Why it failed, as the pod shows it (the hook sees only the Job).
      const pod = podOf(second)
      t.equal(pod?.status?.phase, 'Failed', `the run's pod ${pod?.metadata.name} Failed`)
      t.equal(pod?.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 0, 'its snapshot init container succeeded')
      t.equal(pod?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 1, 'its upload container exited 1')
      t.match(containerLog(pod!, 'upload'), /s3 upload to s3:\/\/etcd-backups\/failure\/.* failed: connect ECONNREFUSED/, 'the runner names the store\'s error')
    } finally {
      await s3.start()
    }
    t.same(await s3.keys('failure/'), before, 'every older object is still there, nothing half-written')
    const ok = await runBackup(t, c, 'Complete')
    const b = await backupStatusAfter(c, ok, x => x.failuresInARow === 0 && x.lastSuccess?.object === recorded(ok, 'object'))
    await checkObject(t, s3, b.lastSuccess.object, b.lastSuccess)
    await c.waitFor(() => c.condition('BackupHealthy')?.status === 'True', { timeoutMs: 20_000, what: 'BackupHealthy True again' })
    t.same((await s3.keys('failure/')).map(k => `s3://${BUCKET}/${k}`), [`s3://${BUCKET}/${before[1]}`, b.lastSuccess.object].sort(), 'retention ran after the success: the newest two')
  }, backupSpec({ maxBackups: 2, failureThreshold: 2, s3: s3Spec('failure') }))

  scenario('etcdbackup', 'B4. an EtcdBackup (second controller, /backup/sync): one Job, status succeeded with revision, size, sha256 and the exact object', async (t, c) => {
    await c.waitSteady({ timeoutMs: 60_000 })
    const rev = await writeKeys(c, 'ondemand/', N)
    const apiBefore = world.api.requests.length
    const object = `ondemand/${c.name}-now.db`
    let b: EtcdBackupRun | undefined
    try {
      b = world.createBackup('ondemand', { clusterName: c.name, storageType: 'S3', s3: { ...s3Spec(''), path: `${BUCKET}/${object}` } })
      const backup = b
      const st = await waitFor(() => backup.status.succeeded === true && backup.status.etcdRevision !== undefined ? backup.status : undefined, { timeoutMs: 90_000, what: 'EtcdBackup succeeded', describe: () => backup.describe() })
      t.comment(`EtcdBackup status: ${JSON.stringify(st)}`)
      t.equal(st.object, `s3://${BUCKET}/${object}`, 'status.object is spec.s3.path')
      t.ok(st.etcdRevision >= rev, `etcdRevision ${st.etcdRevision} covers the last write (${rev})`)
      await checkObject(t, s3, st.object, st)
      t.equal(st.conditions?.find((x: any) => x.type === 'Succeeded')?.status, 'True', 'condition Succeeded True')
      t.ok(st.lastSuccessDate, `lastSuccessDate ${st.lastSuccessDate}`)
      checkApiCalls(t, apiBefore, 'ondemand-backup')
      const job = backup.job()!
      for (let i = 0; i < 2; i++) t.notOk((await backup.mc.nextSync()).error, 'a later sync of the EtcdBackup answered')
      t.equal(world.store.get(JOB, job.metadata.name)?.metadata.annotations?.[`${BACKUP_ANNOTATION_PREFIX}sha256`], st.sha256, 'the Job keeps the runner\'s annotations over later syncs')
      t.same(backup.mc.violations, [], 'every EtcdBackup response kept the Metacontroller contract')
      t.equal(world.store.list(JOB).filter(j => (j.metadata.ownerReferences ?? []).some(r => r.uid === backup.parent?.metadata.uid)).length, 1, 'one Job')
    } finally {
      await b?.delete()
    }
  }, { size: 1 })

  scenario('pvc', 'B5. a PVC store: the run writes <subPath>/<cluster>-<UTC>-r<rev>.db into the claim; status pvc://...', async (t, c) => {
    await c.waitSteady({ timeoutMs: 60_000 })
    await writeKeys(c, 'pvc/', N)
    const job = await runBackup(t, c, 'Complete')
    const b = await backupStatusAfter(c, job, x => x.lastSuccess?.object === recorded(job, 'object'))
    t.comment(`status.backup: ${JSON.stringify(b)}`)
    t.match(b.lastSuccess.object, /^pvc:\/\//, `object ${b.lastSuccess.object}`)
    const claim = world.store.get(PVC, 'backup-store')!
    const dir = path.join(world.kubelet.pvcDir(claim), 'prod')
    const files = fs.readdirSync(dir)
    t.equal(files.length, 1, `one file in the claim's prod/: ${files.join(', ')}`)
    t.match(files[0], new RegExp(`^${c.name}-\\d{8}T\\d{6}Z-r${b.lastSuccess.revision}\\.db$`), 'named with the time and revision')
    const bytes = fs.readFileSync(path.join(dir, files[0]!))
    t.equal(b.lastSuccess.size, bytes.length, 'size is the file\'s')
    t.equal(b.lastSuccess.sha256, sha256(bytes), 'sha256 is the file\'s')
    t.ok(b.lastSuccess.object.endsWith(`prod/${files[0]}`), 'the object names the file')
  }, backupSpec({ pvc: { claimName: 'backup-store', subPath: 'prod' } }))

  // The claim the pvc scenario backs up to (the user's, made first).
  world.store.create({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'backup-store', namespace: world.store.namespace }, spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } } })
}
