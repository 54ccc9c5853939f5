// Real snapshots of a real etcd (3.4: `etcdctl snapshot status`): the
// revision in the name is the one etcd reports; a corrupt file fails with a
// clear message and nothing is stored; and a stored backup restores: fetch,
// etcdctl snapshot restore into a staging dir, commit, etcd starts on it.
import t from 'tap'
import { readFile, readdir, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { flagsFor } from './args.js'
import {
  BUCKET, MARKER, STATUS_TOOL, cleanEnv, corruptCopy, exec, freePorts, keyFilesDir, needsEtcd, quiet, startEtcd, startS3,
  storedKeys, tempDir,
} from './helpers.js'
import { commitOptions, COMMIT_FLAGS, fetchOptions, uploadOptions } from '../../hooks/runner/options.js'
import { parseFlags } from '../../hooks/runner/flags.js'
import { commitRestore, fetchBackup } from '../../hooks/runner/restore.js'
import { upload } from '../../hooks/runner/upload.js'
import { ETCDCTL } from '../helpers/requirements.js'

t.test('real snapshots', needsEtcd(), async t => {
  const [etcd, s3, work, pvc] = await Promise.all([startEtcd(t), startS3(t), tempDir(t, 'snap-work'), tempDir(t, 'snap-pvc')])
  const keys = await keyFilesDir(t)
  for (let index = 0; index < 25; index++) await etcd.put(`/app/key-${index}`, `value ${index}`)
  await etcd.put('/app/marker', MARKER.repeat(100))
  await etcd.ctl('del', '/app/key-3')
  const revision = await etcd.revision()
  const snapshot = join(work, 'snapshot.db')
  await etcd.snapshot(snapshot)
  const s3Args = ['--store', 's3', '--s3-endpoint', s3.endpoint, '--s3-force-path-style', '--aws-dir', keys, '--s3-path', `${BUCKET}/etcd`]
  const pvcArgs = ['--store', 'pvc', '--pvc-dir', pvc, '--pvc-subpath', 'etcd']
  const runUpload = (file: string, store: string[]) => upload(uploadOptions(flagsFor('upload', [
    ...store, '--snapshot', file, '--cluster', 'prod', '--max-backups', '1', '--status-tool', STATUS_TOOL.path, '--status-tool-kind', 'etcdctl',
  ])), quiet)

  t.test('the revision in the name is the one etcd reports', async t => {
    t.ok(revision > 25, `etcd's revision: ${revision}`)
    const viaS3 = await runUpload(snapshot, s3Args)
    t.equal(viaS3.revision, revision)
    t.match(viaS3.object, new RegExp(`^s3://${BUCKET}/etcd/prod-\\d{8}T\\d{6}Z-r${revision}\\.db$`))
    const viaPvc = await runUpload(snapshot, pvcArgs)
    t.match(viaPvc.object, new RegExp(`^pvc://etcd/prod-\\d{8}T\\d{6}Z-r${revision}\\.db$`))
    t.equal(viaPvc.sha256, viaS3.sha256)
    t.notOk('etcdVersion' in viaS3, '3.4 reports no storage version')
  })

  t.test('a corrupt snapshot fails the check and stores nothing', async t => {
    const before = { s3: (await storedKeys(s3)).objects, pvc: await readdir(join(pvc, 'etcd')) }
    const flipped = await corruptCopy(snapshot, join(work, 'flipped.db'), MARKER)
    const truncated = join(work, 'truncated.db')
    await writeFile(truncated, await readFile(snapshot))
    await truncate(truncated, 10_000)
    const garbage = join(work, 'garbage.db')
    await writeFile(garbage, 'not a database at all')
    for (const store of [s3Args, pvcArgs]) {
      await t.rejects(runUpload(flipped, store), { message: /^snapshot integrity check failed for \S+flipped\.db: the sha256 etcd appended does not match the content \(corrupt file\)/ })
      // etcdctl 3.4 may read past the end and crash, or read what is left.
      await t.rejects(runUpload(truncated, store), { message: /^snapshot (integrity check failed for \S+truncated\.db: 10000 bytes is not a snapshot with etcd's appended sha256|check failed for \S+truncated\.db: etcdctl snapshot status exited \d+: (unexpected fault address|panic:|fatal error:))/ })
      await t.rejects(runUpload(garbage, store), { message: /^snapshot check failed for \S+garbage\.db: etcdctl snapshot status exited 1: Error: / }, 'etcdctl\'s own words')
      await t.rejects(runUpload(join(work, 'missing.db'), store), { message: /^--snapshot \S+missing\.db: ENOENT: no such file or directory/ })
    }
    t.same((await storedKeys(s3)).objects, before.s3, 'no object')
    t.same(await readdir(join(pvc, 'etcd')), before.pvc, 'no file, not even a temporary one')
    await t.rejects(upload(uploadOptions(flagsFor('upload', [...pvcArgs, '--snapshot', snapshot, '--cluster', 'prod', '--status-tool', join(work, 'no-etcdutl')])), quiet), { message: /^snapshot check: --status-tool \S+no-etcdutl not found$/ })
  })

  t.test('a backup restores: fetch, etcdctl snapshot restore, commit, etcd serves the keys', async t => {
    const member = await tempDir(t, 'restored-member')
    const file = join(member, 'restore', 'snapshot.db')
    const fetched = await fetchBackup(fetchOptions(flagsFor('fetch', [...s3Args, '--latest', '--cluster', 'prod', '--to', file])))
    t.equal(fetched.size, (await readFile(snapshot)).length)
    const [peer = 0] = await freePorts(1)
    const staging = join(member, 'staging')
    const dataDir = join(member, 'data')
    await exec(ETCDCTL, ['snapshot', 'restore', file, '--data-dir', staging, '--name', 'default', '--initial-cluster', `default=http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`], { env: { ...cleanEnv, ETCDCTL_API: '3' } })
    const committed = await commitRestore(commitOptions(parseFlags('commit', ['--staging', staging, '--data-dir', dataDir], COMMIT_FLAGS)))
    t.same(committed, { dataDir, committed: true, message: `moved the restored ${staging} to ${dataDir}` })
    const restored = await startEtcd(t, dataDir, peer)
    t.equal(JSON.parse(await restored.ctl('get', '/app/key-7', '-w', 'json')).kvs?.length, 1, 'a key is back')
    t.equal(JSON.parse(await restored.ctl('get', '/app/key-3', '-w', 'json')).kvs, undefined, 'a deleted key stays deleted')
    t.equal(await restored.revision(), revision, 'at the revision of the backup')
  })
})
