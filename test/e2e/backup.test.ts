// End to end, issue 14 (backups and restores): the hook's backup Jobs run for real. A
// CronJob run (the test triggers it: no cron timing) or an EtcdBackup's Job
// makes a pod whose init container is etcd's own `etcdctl snapshot save`
// against the cluster's client Service and whose container is the operator
// image's runner (`node dist/runner/main.js upload`), against s3rver in a
// namespace of its own or a directory standing for a PVC; the runner PATCHes
// its result onto its Job through the harness's API server endpoint (its
// service account token, RBAC from the hook's own Role), and the hook turns
// it into status. Scenarios: scheduled, retention, upload-failure,
// etcdbackup, pvc, tls, etcdbackup-failure, restore, restore-corrupt,
// restore-pvc, restore-missing (E2E_ONLY=a,b runs a subset; see test/e2e/README.md).
import fs from 'node:fs'
import path from 'node:path'
import { type Test } from 'tap'
import { type Cluster, type EtcdBackupRun, waitFor } from './harness/world.js'
import { POD, PVC, type Obj } from './harness/store.js'
import { put, etcdPost, b64 } from './harness/etcd.js'
import { cleanEnv, run } from './harness/util.js'
import { JOB } from './harness/apiserver.js'
import { CRONJOB, finished } from './harness/jobs.js'
import { sha256, type S3Store } from './harness/s3.js'
import { BACKUP_ANNOTATION_PREFIX } from '../../hooks/api/backup.js'
import { Suite, VERSION } from './harness/scenario.js'

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
  // The claim the pvc scenario backs up to (the user's, made first).
  world.store.create({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'backup-store', namespace: world.store.namespace }, spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } } })
  const s3Spec = (prefix: string) => ({ path: `${BUCKET}/${prefix}`, awsSecret: SECRET_NAME, endpoint: s3.endpoint, forcePathStyle: true })
  const backupSpec = (extra: Record<string, unknown>) => ({ size: 1, backup: { schedule: SCHEDULE, ...extra } })

  // N keys through the client Service; the revision of the last write.
  const writeKeys = async (c: Cluster, prefix: string, n: number): Promise<number> => {
    let rev = 0
    // The client Service's proxy may take a moment to route to the pod.
    await world.services.settled()
    const putOne = (key: string, value: string) => waitFor(async () => {
      try {
        return Number(await put(world.network, c.clientIP!, key, value, 3000, c.via()))
      } catch {
        return undefined
      }
    }, { timeoutMs: 15_000, intervalMs: 300, what: `put ${key} through ${c.name}-client` })
    for (let i = 0; i < n; i++) rev = await putOne(`${prefix}${String(i).padStart(4, '0')}`, `v${i}`)
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
    // The runner's record on its own Job (only a success has one).
    if (expect === 'Complete') t.match(recorded(done, 'object'), /^(s3|pvc):\/\//, `the runner recorded its result on Job ${job.metadata.name} (${recorded(done, 'object')})`)
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
    // The object is a snapshot etcd reads, at the revision status names.
    const file = path.join(world.dir, `check-${Date.now()}.db`)
    fs.writeFileSync(file, bytes)
    const r = await run('/usr/bin/etcdctl', ['snapshot', 'status', '--write-out=json', file], { env: cleanEnv({ ETCDCTL_API: '3' }), timeoutMs: 30_000 })
    fs.rmSync(file, { force: true })
    const snap = JSON.parse(r.stdout || '{}')
    t.equal(snap.revision, status.revision ?? status.etcdRevision, `etcdctl snapshot status of the object: revision ${snap.revision}, ${snap.totalKey} keys`)
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
    const b = await backupStatusAfter(c, job, x => x.lastSuccess !== undefined && x.lastSuccess.object === recorded(job, 'object'))
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
      t.match(b1.lastFailure?.reason, /ECONNREFUSED/, `lastFailure names the store's error (the runner records it on its Job): ${JSON.stringify(b1.lastFailure)}`)
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
    const b = await backupStatusAfter(c, job, x => x.lastSuccess !== undefined && x.lastSuccess.object === recorded(job, 'object'))
    t.comment(`status.backup: ${JSON.stringify(b)}`)
    t.match(b.lastSuccess.object, /^pvc:\/\/backup-store\/prod\//, `object ${b.lastSuccess.object}: pvc://<claim>/<path>`)
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

  scenario('tls', 'B6. a cluster with client TLS: the snapshot is taken over https with the operator certificate', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const rev = await writeKeys(c, 'tls/', N)
    const job = await runBackup(t, c, 'Complete')
    const b = await backupStatusAfter(c, job, x => x.lastSuccess !== undefined && x.lastSuccess.object === recorded(job, 'object'))
    t.ok(b.lastSuccess.revision >= rev, `revision ${b.lastSuccess.revision} covers the last write (${rev})`)
    await checkObject(t, s3, b.lastSuccess.object, b.lastSuccess)
    const snapshotArgs: string[] = podOf(job)?.spec?.initContainers?.[0]?.args ?? []
    t.ok(snapshotArgs.some(a => a.startsWith('--endpoints=https://')) && snapshotArgs.some(a => a.startsWith('--cert=')), `etcdctl spoke https with a client certificate: ${snapshotArgs.join(' ')}`)
  }, backupSpec({ s3: s3Spec('tls') }), { tls: true })

  scenario('etcdbackup-failure', 'B7. an EtcdBackup into a bucket that does not exist: succeeded false, Failed True; the runner names the store\'s error; nothing written', async (t, c) => {
    await c.waitSteady({ timeoutMs: 60_000 })
    await writeKeys(c, 'ebf/', 5)
    const before = await s3.keys()
    let b: EtcdBackupRun | undefined
    try {
      b = world.createBackup('nobucket', { clusterName: c.name, s3: { ...s3Spec(''), path: 'no-such-bucket/x.db' } })
      const backup = b
      const st = await waitFor(() => backup.status.succeeded === false && backup.status.conditions?.some((x: any) => x.type === 'Failed' && x.status === 'True') ? backup.status : undefined, { timeoutMs: 90_000, what: 'EtcdBackup failed', describe: () => backup.describe() })
      t.match(st.reason, /NoSuchBucket|does not exist/, `the EtcdBackup's reason names the store's error: ${st.reason}`)
      t.equal(st.object, undefined, 'no object in status')
      const pod = podOf(backup.job()!)
      t.match(containerLog(pod!, 'upload'), /NoSuchBucket|does not exist/, 'the runner\'s log names the store\'s error')
      t.same(await s3.keys(), before, 'nothing written to the store')
      for (let i = 0; i < 2; i++) await backup.mc.nextSync()
      t.equal(world.store.list(JOB).filter(j => (j.metadata.ownerReferences ?? []).some(r => r.uid === backup.parent?.metadata.uid)).length, 1, 'one Job: a failed backup is not retried into a second snapshot')
      t.same(backup.mc.violations, [], 'every EtcdBackup response kept the Metacontroller contract')
    } finally {
      await b?.delete()
    }
  }, { size: 1 })

  // A new 3-member cluster restored from `object` (s3://bucket/key), and
  // the checks of its own Metacontroller loop.
  const restoredCluster = (source: Cluster, object: string, restore?: Record<string, unknown>) => world.createCluster(`${source.name}-new`, {
    size: 3, version: VERSION, restore: restore ?? { s3: { ...s3Spec(''), path: object.slice('s3://'.length) } },
  })
  const contract = (t: Test, c: Cluster) => {
    t.same(c.mc.rejectedUpdates, [], `${c.name}: the hook never asked for a pod change the API server refuses`)
    t.same(c.mc.violations, [], `${c.name}: every response kept the Metacontroller contract`)
  }
  // The revision a member serves (the header of a read).
  const revisionOf = async (c: Cluster, pod: string): Promise<number> => Number((await etcdPost(world.network, c.podIP(pod)!, '/v3/kv/range', { key: b64('rs/0000'), serializable: true }, 3000, c.via(pod))).header?.revision)
  const initStatus = (c: Cluster, pod: string, container: string) => (c.pod(pod)?.status?.initContainerStatuses ?? []).find((x: any) => x.name === container)

  scenario('restore', 'R1. restore into a new 3-member cluster: exactly the N keys of the snapshot at its revision; a reboot of the seed does not restore again', async (t, c) => {
    await c.waitSteady({ timeoutMs: 60_000 })
    await writeKeys(c, 'rs/', N)
    const job = await runBackup(t, c, 'Complete')
    const object = String(recorded(job, 'object'))
    const revision = Number(recorded(job, 'revision'))
    await writeKeys(c, 'rs-after/', 5)
    const target = await restoredCluster(c, object)
    try {
      suite.converged(t, 'restore (3 members)', await target.waitSteady({ timeoutMs: 180_000 }))
      for (const [pod, kv] of await target.readEveryMember('rs')) {
        t.same([...kv.keys()].sort(), Array.from({ length: N }, (_, i) => `rs/${String(i).padStart(4, '0')}`), `${pod} has exactly the ${N} keys of the snapshot`)
        t.equal(kv.get('rs/0007'), 'v7', `${pod}: values as written`)
        t.equal(await revisionOf(target, pod), revision, `${pod} serves revision ${revision}, the snapshot's (3.4: no --bump-revision)`)
      }
      t.match(target.status.restore, { object, revision }, `status.restore: ${JSON.stringify(target.status.restore)}`)
      t.equal(target.condition('Restored')?.status, 'True', `Restored: ${target.condition('Restored')?.message}`)
      // A reboot of the seed's node: a new sandbox runs the init
      // containers again over the data it has.
      const seed = `${target.name}-0`
      const firstCommit = initStatus(target, seed, 'restore-commit')?.containerID
      await waitFor(() => put(world.network, target.clientIP!, 'post/1', 'after the restore', 3000, target.via()).catch(() => undefined), { timeoutMs: 15_000, what: 'put post/1' })
      await world.kubelet.nodeDown(seed)
      await world.kubelet.nodeUp(seed)
      const commit = await target.waitFor(() => {
        const st = initStatus(target, seed, 'restore-commit')
        return st?.containerID !== firstCommit && st?.state?.terminated?.exitCode === 0 ? st : undefined
      }, { timeoutMs: 60_000, what: 'the seed\'s restore-commit to run again' })
      t.match(JSON.parse(commit.state.terminated.message), { committed: false }, `the rerun kept the data: ${commit.state.terminated.message}`)
      await target.waitSteady({ timeoutMs: 90_000 })
      for (const [pod, kv] of await target.readEveryMember('post/')) t.equal(kv.get('post/1'), 'after the restore', `${pod} still has the write made after the restore`)
      t.ok(await revisionOf(target, seed) > revision, 'the seed did not go back to the snapshot\'s revision')
      contract(t, target)
    } finally {
      if (!t.passing()) t.comment(`diagnostics for ${target.name}:\n${target.describe()}`)
      await target.delete()
    }
  }, backupSpec({ s3: s3Spec('restore') }))

  scenario('restore-corrupt', 'R2. a corrupt snapshot: Restored False (RestoreFailed) with the runner\'s words; the seed never starts etcd, no data dir, no other member', async (t, c) => {
    await c.waitSteady({ timeoutMs: 60_000 })
    await writeKeys(c, 'rc/', N)
    const job = await runBackup(t, c, 'Complete')
    const good = await s3.object(String(recorded(job, 'object')).slice(`s3://${BUCKET}/`.length))
    const bad = Buffer.from(good)
    for (let i = 0; i < 64; i++) bad.writeUInt8(bad.readUInt8(Math.floor(bad.length / 2) + i) ^ 0xff, Math.floor(bad.length / 2) + i)
    await s3.put('corrupt/bad.db', bad)
    const target = await restoredCluster(c, `s3://${BUCKET}/corrupt/bad.db`)
    try {
      const cond = await target.waitFor(() => target.condition('Restored')?.reason === 'RestoreFailed' && target.condition('Restored'), { timeoutMs: 60_000, what: 'Restored False (RestoreFailed)' })
      t.equal(cond.status, 'False', `Restored False: ${cond.message}`)
      t.match(cond.message, /restore-fetch/, 'the condition names the init container that failed')
      const seed = `${target.name}-0`
      await target.waitFor(() => initStatus(target, seed, 'restore-fetch')?.restartCount >= 2, { timeoutMs: 60_000, what: 'the fetch retried twice (crash loop)' })
      const pods = target.pods()
      t.same(pods.map(p => p.metadata.name), [seed], 'only the seed pod exists')
      const etcd = pods[0]?.status?.containerStatuses?.[0]
      t.same([etcd?.restartCount, etcd?.state?.waiting?.reason], [0, 'PodInitializing'], 'etcd never started')
      const restoreRan = initStatus(target, seed, 'restore-snapshot')
      t.same([restoreRan?.restartCount, restoreRan?.state?.waiting?.reason, restoreRan?.lastState?.terminated], [0, 'PodInitializing', undefined], 'etcdctl snapshot restore never ran')
      const podDir = fs.readdirSync(path.join(world.dir, 'pods')).find(d => d.startsWith(`${seed}-`))
      const members = podDir ? (fs.readdirSync(path.join(world.dir, 'pods', podDir), { recursive: true }) as string[]).filter(f => path.basename(f) === 'member') : []
      t.same(members, [], 'no member dir anywhere on the seed\'s volumes')
      t.equal(target.condition('Available')?.status === 'True', false, 'the cluster is not Available')
      contract(t, target)
    } finally {
      if (!t.passing()) t.comment(`diagnostics for ${target.name}:\n${target.describe()}`)
      await target.delete()
    }
  }, backupSpec({ s3: s3Spec('restore-corrupt') }))

  scenario('restore-pvc', 'R3. restore from a PVC store with latest: true: the newest of two backups, exactly its keys', async (t, c) => {
    await c.waitSteady({ timeoutMs: 60_000 })
    await writeKeys(c, 'rs/', N / 2)
    await runBackup(t, c, 'Complete')
    await new Promise(resolve => setTimeout(resolve, 1100))
    await writeKeys(c, 'rs/', N)
    const newest = await runBackup(t, c, 'Complete')
    const revision = Number(recorded(newest, 'revision'))
    await writeKeys(c, 'rs-after/', 5)
    const target = await restoredCluster(c, '', { pvc: { claimName: 'backup-store', path: 'restore-pvc' }, latest: true })
    try {
      suite.converged(t, 'restore from a PVC (3 members)', await target.waitSteady({ timeoutMs: 180_000 }))
      for (const [pod, kv] of await target.readEveryMember('rs')) {
        t.equal(kv.size, N, `${pod} has exactly the ${N} keys of the newest backup`)
        t.equal(await revisionOf(target, pod), revision, `${pod} serves revision ${revision}, the newest backup's`)
      }
      t.match(target.status.restore, { revision }, `status.restore: ${JSON.stringify(target.status.restore)}`)
      t.equal(target.status.restore?.object, recorded(newest, 'object'), 'status.restore names the newest backup')
      contract(t, target)
    } finally {
      if (!t.passing()) t.comment(`diagnostics for ${target.name}:\n${target.describe()}`)
      await target.delete()
    }
  }, backupSpec({ pvc: { claimName: 'backup-store', subPath: 'restore-pvc' } }))

  scenario('restore-missing', 'R4. a snapshot that is not in the store: Restored False (RestoreFailed) with the store\'s words; etcd never starts', async (t, c) => {
    await c.waitSteady({ timeoutMs: 60_000 })
    const target = await restoredCluster(c, `s3://${BUCKET}/missing/none.db`)
    try {
      const cond = await target.waitFor(() => target.condition('Restored')?.reason === 'RestoreFailed' && target.condition('Restored'), { timeoutMs: 60_000, what: 'Restored False (RestoreFailed)' })
      t.equal(cond.status, 'False', `Restored False: ${cond.message}`)
      t.match(cond.message, /restore-fetch.*(NoSuchKey|does not exist|not found)/i, 'the condition carries the store\'s own error')
      t.same(target.pods().map(p => [p.metadata.name, p.status?.containerStatuses?.[0]?.state?.waiting?.reason]), [[`${target.name}-0`, 'PodInitializing']], 'only the seed, waiting for its init containers')
      contract(t, target)
    } finally {
      if (!t.passing()) t.comment(`diagnostics for ${target.name}:\n${target.describe()}`)
      await target.delete()
    }
  }, { size: 1 })
}
