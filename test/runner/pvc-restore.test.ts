// The PVC store (a directory standing for the mounted volume): whole files
// only, retention, fetch of the latest; and commit, which moves a restored
// staging dir into place only where no data is, and never deletes data.
import t from 'tap'
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { flagsFor } from './args.js'
import { MARKER, STATUS_TOOL, corruptCopy, needsEtcd, quiet, sha256Of, snapshotAt, startEtcd, tempDir } from './helpers.js'
import { parseFlags } from '../../hooks/runner/flags.js'
import { COMMIT_FLAGS, commitOptions, fetchOptions, uploadOptions } from '../../hooks/runner/options.js'
import { commitRestore, fetchBackup } from '../../hooks/runner/restore.js'
import { upload } from '../../hooks/runner/upload.js'

const day = (n: number) => new Date(Date.UTC(2024, 4, n, 1, 2, 3))

t.test('the pvc store', needsEtcd(), async t => {
  const [etcd, work, pvc] = await Promise.all([startEtcd(t), tempDir(t, 'pvc-work'), tempDir(t, 'pvc')])
  await etcd.put('/app/marker', MARKER.repeat(100))
  const snapshot = join(work, 'snapshot.db')
  await etcd.snapshot(snapshot)
  const revision = await etcd.revision()
  const data = await readFile(snapshot)
  const runUpload = (...args: string[]) => upload(uploadOptions(flagsFor('upload', ['--store', 'pvc', '--pvc-dir', pvc, '--status-tool', STATUS_TOOL.path, ...args])), quiet)
  const fetch = (...args: string[]) => fetchBackup(fetchOptions(flagsFor('fetch', ['--store', 'pvc', '--pvc-dir', pvc, ...args])))
  const files = async (dir: string) => (await readdir(join(pvc, dir))).sort()

  t.test('upload: a whole file under the subpath; retention; nothing else touched', async t => {
    await mkdir(join(pvc, 'etcd', 'prod'), { recursive: true })
    await writeFile(join(pvc, 'etcd', 'prod', 'prod-b-20200101T000000Z-r1.db'), 'another cluster')
    for (const n of [2, 1, 4, 3]) {
      const result = await runUpload('--snapshot', await snapshotAt(snapshot, join(work, `s${n}.db`), day(n)), '--pvc-subpath', 'etcd/prod', '--cluster', 'prod', '--max-backups', '2')
      t.equal(result.object, `pvc://etcd/prod/prod-2024050${n}T010203Z-r${revision}.db`)
      t.equal(result.sha256, sha256Of(data))
    }
    t.same(await files('etcd/prod'), [`prod-20240503T010203Z-r${revision}.db`, `prod-20240504T010203Z-r${revision}.db`, 'prod-b-20200101T000000Z-r1.db'], 'the newest two, the other cluster\'s file, no temporary file')
    t.equal(sha256Of(await readFile(join(pvc, 'etcd', 'prod', `prod-20240504T010203Z-r${revision}.db`))), sha256Of(data))
    t.equal((await stat(join(pvc, 'etcd', 'prod', `prod-20240504T010203Z-r${revision}.db`))).mode & 0o777, 0o600, 'readable by the runner only')

    const before = await files('etcd/prod')
    await t.rejects(runUpload('--snapshot', await corruptCopy(snapshot, join(work, 'bad.db'), MARKER), '--pvc-subpath', 'etcd/prod', '--cluster', 'prod', '--max-backups', '1'), { message: /integrity check failed/ })
    t.same(await files('etcd/prod'), before, 'a failed upload: nothing new, nothing deleted, no temporary file')

    t.equal((await runUpload('--snapshot', snapshot, '--pvc-file', 'exact/name.db')).object, 'pvc://exact/name.db', 'an exact name (directories made)')
    t.same(await files('exact'), ['name.db'])
  })

  t.test('a store that cannot be written: the error names it', async t => {
    const blocked = join(work, 'not-a-dir')
    await writeFile(blocked, 'a file where the volume should be')
    await t.rejects(upload(uploadOptions(flagsFor('upload', ['--store', 'pvc', '--pvc-dir', blocked, '--snapshot', snapshot, '--cluster', 'prod', '--status-tool', STATUS_TOOL.path])), quiet), {
      message: /^pvc write pvc:\/\/prod-\d{8}T\d{6}Z-r\d+\.db \(in \S+not-a-dir\) failed: (ENOTDIR|EEXIST)/,
    })
  })

  t.test('fetch: the latest, an exact file, and what is missing', async t => {
    const to = join(work, 'fetched', 'snapshot.db')
    t.same(await fetch('--pvc-subpath', 'etcd/prod', '--latest', '--cluster', 'prod', '--to', to), { object: `pvc://etcd/prod/prod-20240504T010203Z-r${revision}.db`, size: data.length, sha256: sha256Of(data) })
    t.equal(sha256Of(await readFile(to)), sha256Of(data))
    t.same(await readdir(join(work, 'fetched')), ['snapshot.db'], 'no temporary file left')
    t.equal((await fetch('--pvc-subpath', 'etcd/prod', '--latest', '--to', to)).object, `pvc://etcd/prod/prod-20240504T010203Z-r${revision}.db`, 'any cluster: by stamp')
    t.equal((await fetch('--pvc-file', 'exact/name.db', '--to', to)).object, 'pvc://exact/name.db')
    await t.rejects(fetch('--pvc-file', 'exact/missing.db', '--to', to), { message: /^pvc read pvc:\/\/exact\/missing.db \(in \S+\) failed: ENOENT: no such file or directory/ })
    await t.rejects(fetch('--pvc-subpath', 'nothing', '--latest', '--cluster', 'prod', '--to', to), { message: /^fetch --latest: no backup of cluster prod under pvc:\/\/nothing\/$/ })
    await writeFile(join(pvc, 'exact', 'broken.db'), data.subarray(0, data.length - 1))
    await t.rejects(fetch('--pvc-file', 'exact/broken.db', '--to', to), { message: /^snapshot integrity check failed for pvc:\/\/exact\/broken.db: / }, 'a broken backup fails at fetch, not halfway through a restore')
    t.equal(sha256Of(await readFile(to)), sha256Of(data), 'and leaves --to as it was')
  })

  t.test('fetch --staging --data-dir clears a leftover staging dir first', async t => {
    const member = await tempDir(t, 'pvc-member')
    await mkdir(join(member, 'staging', 'member', 'snap'), { recursive: true })
    await mkdir(join(member, 'data'), { recursive: true })
    await writeFile(join(member, 'data', 'keep'), 'x')
    await fetch('--pvc-file', 'exact/name.db', '--to', join(member, 'snapshot.db'), '--staging', join(member, 'staging'), '--data-dir', join(member, 'data'))
    t.same((await readdir(member)).sort(), ['data', 'snapshot.db'])
    t.same(await readdir(join(member, 'data')), ['keep'], 'the data dir untouched')
  })
})

t.test('commit', async t => {
  const commit = (staging: string, dataDir: string) => commitRestore(commitOptions(parseFlags('commit', ['--staging', staging, '--data-dir', dataDir], COMMIT_FLAGS)))
  const restored = async (dir: string, content: string) => {
    await mkdir(join(dir, 'member', 'snap'), { recursive: true })
    await writeFile(join(dir, 'member', 'snap', 'db'), content)
  }

  t.test('an existing member dir is never overwritten', async t => {
    const root = await tempDir(t, 'commit-keep')
    await restored(join(root, 'data'), 'live data')
    await restored(join(root, 'staging'), 'restored data')
    t.same(await commit(join(root, 'staging'), join(root, 'data')), {
      dataDir: join(root, 'data'), committed: false, message: `${join(root, 'data')}/member exists: kept the data there, removed the stale ${join(root, 'staging')}`,
    })
    t.equal(await readFile(join(root, 'data', 'member', 'snap', 'db'), 'utf8'), 'live data')
    t.same(await readdir(root), ['data'], 'the stale staging dir is gone (the next restore would refuse it)')
    t.equal((await commit(join(root, 'staging'), join(root, 'data'))).message, `${join(root, 'data')}/member exists: kept the data there`, 'again: nothing to do')
  })

  t.test('a staged member moves into place: no data dir, or an empty one', async t => {
    for (const existing of [false, true]) {
      const root = await tempDir(t, 'commit-move')
      if (existing) await mkdir(join(root, 'var', 'data'), { recursive: true })
      await restored(join(root, 'var', 'staging'), 'restored data')
      const result = await commit(join(root, 'var', 'staging'), join(root, 'var', 'data'))
      t.equal(result.committed, true)
      t.equal(await readFile(join(root, 'var', 'data', 'member', 'snap', 'db'), 'utf8'), 'restored data')
      t.same(await readdir(join(root, 'var')), ['data'], existing ? 'the empty data dir replaced' : 'the staging dir renamed')
    }
  })

  t.test('nothing staged, or a data dir with something else in it: fails, touches nothing', async t => {
    const root = await tempDir(t, 'commit-fail')
    await t.rejects(commit(join(root, 'staging'), join(root, 'data')), { message: /^commit: nothing restored: \S+\/staging\/member does not exist \(did etcdutl snapshot restore --data-dir \S+ run\?\)$/ })
    await mkdir(join(root, 'staging'))
    await t.rejects(commit(join(root, 'staging'), join(root, 'data')), { message: /^commit: nothing restored/ }, 'an empty staging dir')
    await restored(join(root, 'staging'), 'restored data')
    await mkdir(join(root, 'data', 'lost+found'), { recursive: true })
    await t.rejects(commit(join(root, 'staging'), join(root, 'data')), { message: /^commit: --data-dir \S+\/data has no member\/ but is not empty \(lost\+found\): refusing to replace it$/ })
    t.same(await readdir(join(root, 'data')), ['lost+found'])
    t.same(await readdir(join(root, 'staging')), ['member'], 'the staging dir stays for a look')
  })
})
