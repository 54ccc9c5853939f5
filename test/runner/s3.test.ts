// `upload` and `fetch` against s3rver through the AWS SDK, with snapshots
// of a real etcd: generated names, sha256 and size, retention, failures
// that delete nothing, multipart and its abort, and the credential forms.
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import t from 'tap'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { flagsFor } from './args.js'
import {
  BUCKET, MARKER, MiB, STATUS_TOOL, bigSnapshot, corruptCopy, freePorts, keyFilesDir, needsEtcd, quiet, s3Settings,
  sha256Of, snapshotAt, spiedStore, startEtcd, startS3, storedKeys, tempDir,
} from './helpers.js'
import { fetchOptions, uploadOptions } from '../../hooks/runner/options.js'
import { fetchBackup } from '../../hooks/runner/restore.js'
import { s3ClientConfig } from '../../hooks/runner/s3.js'
import { upload, type Context } from '../../hooks/runner/upload.js'

const day = (n: number) => new Date(Date.UTC(2024, 0, n, 3, 4, 5))

t.test('the runner against s3rver', needsEtcd(), async t => {
  const [etcd, s3, work] = await Promise.all([startEtcd(t), startS3(t), tempDir(t, 's3-work')])
  const keys = await keyFilesDir(t)
  for (const index of [1, 2, 3]) await etcd.put(`/k/${index}`, `value ${index}`)
  const small = join(work, 'small.db')
  await etcd.snapshot(small)
  const revision = await etcd.revision()
  const settings = s3Settings(s3.endpoint, keys)
  const client = new S3Client(await s3ClientConfig(settings))
  t.teardown(() => { client.destroy() })
  const s3Args = (...more: string[]) => ['--store', 's3', '--s3-endpoint', s3.endpoint, '--s3-force-path-style', '--aws-dir', keys, ...more]
  const runUpload = (args: string[], context: Partial<Context> = {}) =>
    upload(uploadOptions(flagsFor('upload', [...args, '--status-tool', STATUS_TOOL.path, '--status-tool-kind', 'etcdctl'])), { ...quiet, ...context })
  const objectBytes = async (key: string) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray())
  const under = async (prefix: string) => (await storedKeys(s3)).objects.filter(key => key.startsWith(`${prefix}/`))

  t.test('upload: the generated name, its revision, sha256 and size', async t => {
    const file = await snapshotAt(small, join(work, 'named.db'), new Date('2024-01-02T03:04:05.678Z'))
    const result = await runUpload(s3Args('--snapshot', file, '--s3-path', `${BUCKET}/etcd/named/`, '--cluster', 'prod'))
    const key = `etcd/named/prod-20240102T030405Z-r${revision}.db`
    t.same(result, { object: `s3://${BUCKET}/${key}`, revision, size: (await readFile(small)).length, sha256: sha256Of(await readFile(small)) })
    t.equal(sha256Of(await objectBytes(key)), result.sha256, 'the stored object is the file')
    t.same(await under('etcd/named'), [key])
  })

  t.test('retention keeps exactly the newest N of the cluster, and nothing else is touched', async t => {
    const prefix = 'etcd/keep'
    const others = [`${prefix}/prod-b-20200101T000000Z-r1.db`, `${prefix}/notes.txt`, `${prefix}/deeper/prod-20200101T000000Z-r1.db`]
    for (const key of others) await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'other' }))
    // Out of order on purpose: the names, not the upload order, decide.
    for (const n of [3, 1, 5, 2, 4]) {
      const file = await snapshotAt(small, join(work, `keep-${n}.db`), day(n))
      const result = await runUpload(s3Args('--snapshot', file, '--s3-path', `${BUCKET}/${prefix}`, '--cluster', 'prod', '--max-backups', '3'))
      t.ok(Array.isArray(result.deleted), `retention ran after day ${n}`)
    }
    const ours = [3, 4, 5].map(n => `${prefix}/prod-2024010${n}T030405Z-r${revision}.db`)
    t.same(await under(prefix), [...others, ...ours].sort(), 'days 3 to 5 stay, and every other file')
    const again = await runUpload(s3Args('--snapshot', await snapshotAt(small, join(work, 'keep-6.db'), day(6)), '--s3-path', `${BUCKET}/${prefix}`, '--cluster', 'prod', '--max-backups', '3'))
    t.same(again.deleted, [`s3://${BUCKET}/${ours[0]!}`], 'the next one deletes the oldest')
  })

  t.test('a failed upload deletes nothing', async t => {
    const prefix = 'etcd/fail'
    for (const n of [1, 2]) await runUpload(s3Args('--snapshot', await snapshotAt(small, join(work, `fail-${n}.db`), day(n)), '--s3-path', `${BUCKET}/${prefix}`, '--cluster', 'prod'))
    const before = await under(prefix)
    t.equal(before.length, 2)
    const later = await snapshotAt(small, join(work, 'fail-9.db'), day(9))
    const [closed = 0] = await freePorts(1)
    const args = (endpoint: string) => ['--store', 's3', '--s3-endpoint', endpoint, '--s3-force-path-style', '--aws-dir', keys, '--snapshot', later, '--s3-path', `${BUCKET}/${prefix}`, '--cluster', 'prod', '--max-backups', '1']
    await t.rejects(runUpload(args(`http://127.0.0.1:${closed}`)), { name: 'RunnerError', message: new RegExp(`^s3 upload to s3://${BUCKET}/${prefix}/prod-20240109T030405Z-r${revision}.db failed: .*ECONNREFUSED 127.0.0.1:${closed}`) })
    t.same(await under(prefix), before, 'a closed port: the old backups remain')

    // A second s3rver that stops before the upload, on the same directory.
    const other = await startS3(t)
    await runUpload(['--store', 's3', '--s3-endpoint', other.endpoint, '--s3-force-path-style', '--aws-dir', keys, '--snapshot', await snapshotAt(small, join(work, 'fail-3.db'), day(3)), '--s3-path', `${BUCKET}/${prefix}`, '--cluster', 'prod'])
    await other.close()
    await t.rejects(runUpload(args(other.endpoint)), { message: /ECONNREFUSED/ })
    t.same((await storedKeys(other)).objects, [`${prefix}/prod-20240103T030405Z-r${revision}.db`], 'a stopped s3rver: its backup remains')

    // A store error in the middle of a multipart upload.
    const big = join(work, 'big.db')
    await bigSnapshot(etcd, big, 12)
    const { store, commands } = await spiedStore(settings, 5 * MiB)
    let parts = 0
    store.client.middlewareStack.add(next => async args => {
      if ((args.input as { PartNumber?: number }).PartNumber !== undefined && ++parts === 2) throw Object.assign(new Error('injected: the disk is full'), { name: 'InternalError' })
      return next(args)
    }, { step: 'initialize', name: 'failSecondPart' })
    await t.rejects(runUpload(s3Args('--snapshot', big, '--s3-path', `${BUCKET}/${prefix}`, '--cluster', 'prod', '--max-backups', '1'), { store }), {
      message: /^s3 upload to s3:\/\/backups\/etcd\/fail\/prod-\d{8}T\d{6}Z-r\d+\.db failed: InternalError: injected: the disk is full; aborting the multipart upload failed too .*MethodNotAllowed/,
    }, 'the store\'s first error, not the abort\'s (s3rver implements no abort)')
    t.ok(commands.includes('AbortMultipartUploadCommand'), 'the multipart upload was aborted')
    t.notOk(commands.includes('CompleteMultipartUploadCommand'))
    t.notOk(commands.some(command => /List|Delete/.test(command)), 'retention never ran')
    t.same(await under(prefix), before, 'no new object, none deleted')
  })

  t.test('multipart: 12 MiB in 5 MiB parts, streamed; an aborted one leaves no object', async t => {
    const big = join(work, 'multi.db')
    await bigSnapshot(etcd, big, 12)
    const data = await readFile(big)
    t.ok(data.length > 12 * MiB, `${data.length} bytes`)
    const { store, commands } = await spiedStore(settings, 5 * MiB)
    const result = await runUpload(s3Args('--snapshot', big, '--s3-path', `${BUCKET}/etcd/multi`, '--cluster', 'prod'), { store })
    t.same(commands.filter(command => command !== 'UploadPartCommand'), ['CreateMultipartUploadCommand', 'CompleteMultipartUploadCommand'])
    t.equal(commands.filter(command => command === 'UploadPartCommand').length, Math.ceil(data.length / (5 * MiB)), 'parts of 5 MiB')
    t.equal(result.size, data.length)
    t.equal(result.sha256, sha256Of(data))
    t.equal(sha256Of(await objectBytes(result.object.slice(`s3://${BUCKET}/`.length))), sha256Of(data), 'the parts make the file')

    const corrupt = await corruptCopy(big, join(work, 'multi-corrupt.db'), MARKER)
    const spied = await spiedStore(settings, 5 * MiB)
    await t.rejects(runUpload(s3Args('--snapshot', corrupt, '--s3-object', `${BUCKET}/etcd/multi/exact.db`), { store: spied.store }), {
      message: /^snapshot integrity check failed for \S+multi-corrupt.db: the sha256 etcd appended does not match the content \(corrupt file\); nothing stored under s3:\/\/backups\/etcd\/multi\/exact.db/,
    })
    t.ok(spied.commands.includes('CreateMultipartUploadCommand') && spied.commands.includes('UploadPartCommand'), 'parts were on their way')
    t.ok(spied.commands.includes('AbortMultipartUploadCommand'), 'and the upload aborted')
    t.notOk(spied.commands.includes('CompleteMultipartUploadCommand'))
    t.notOk((await storedKeys(s3)).objects.includes('etcd/multi/exact.db'), 'no object under the final name')
  })

  t.test('credentials: a CoreOS credentials/config Secret, key files, and wrong ones', async t => {
    const coreos = await tempDir(t, 'aws-coreos')
    await writeFile(join(coreos, 'credentials'), '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n')
    await writeFile(join(coreos, 'config'), '[default]\nregion = us-east-1\n')
    const file = await snapshotAt(small, join(work, 'creds.db'), day(1))
    const object = (dir: string, name: string) => ['--store', 's3', '--s3-endpoint', s3.endpoint, '--s3-force-path-style', '--aws-dir', dir, '--snapshot', file, '--s3-object', `${BUCKET}/creds/${name}`]
    t.equal((await runUpload(object(coreos, 'coreos.db'))).object, `s3://${BUCKET}/creds/coreos.db`, 'credentials and config files')
    t.equal((await runUpload(object(keys, 'keys.db'))).object, `s3://${BUCKET}/creds/keys.db`, 'key files')
    const onlyCredentials = await tempDir(t, 'aws-credentials-only')
    await writeFile(join(onlyCredentials, 'credentials'), '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n')
    t.equal((await runUpload(object(onlyCredentials, 'credentials-only.db'))).object, `s3://${BUCKET}/creds/credentials-only.db`, 'credentials without config')

    const wrongId = await tempDir(t, 'aws-wrong-id')
    await writeFile(join(wrongId, 'credentials'), '[default]\naws_access_key_id = NOBODY\naws_secret_access_key = S3RVER\n')
    await t.rejects(runUpload(object(wrongId, 'no.db')), { message: /^s3 upload to s3:\/\/backups\/creds\/no.db failed: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records. \(HTTP 403\)$/ })
    await t.rejects(runUpload(object(await tempDir(t, 'aws-empty'), 'no.db')), { message: /^--aws-dir \S+: expected files credentials \(and config\), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY$/ })
    const noKeys = await tempDir(t, 'aws-no-keys')
    await writeFile(join(noKeys, 'config'), '[default]\nregion = us-east-1\n')
    await t.rejects(runUpload(object(noKeys, 'no.db')), { message: /^s3 upload to s3:\/\/backups\/creds\/no.db failed: CredentialsProviderError: / })
    t.same((await storedKeys(s3)).objects.filter(key => key.startsWith('creds/')), ['creds/coreos.db', 'creds/credentials-only.db', 'creds/keys.db'])
  })

  t.test('fetch: the latest or an exact object, whole; the store\'s own errors', async t => {
    const to = join(work, 'restore', 'fetched.db')
    const fetch = (...args: string[]) => fetchBackup(fetchOptions(flagsFor('fetch', s3Args(...args, '--to', to))))
    const prefix = 'etcd/fetch'
    for (const [n, cluster] of [[1, 'prod'], [4, 'prod'], [2, 'prod'], [7, 'other']] as const) {
      await runUpload(s3Args('--snapshot', await snapshotAt(small, join(work, `fetch-${n}.db`), day(n)), '--s3-path', `${BUCKET}/${prefix}`, '--cluster', cluster))
    }
    const sha256 = sha256Of(await readFile(small))
    const size = (await readFile(small)).length
    t.same(await fetch('--s3-path', `${BUCKET}/${prefix}`, '--latest', '--cluster', 'prod'), { object: `s3://${BUCKET}/${prefix}/prod-20240104T030405Z-r${revision}.db`, size, sha256 })
    t.equal(sha256Of(await readFile(to)), sha256, 'the file is the object')
    t.equal((await fetch('--s3-path', `${BUCKET}/${prefix}`, '--latest')).object, `s3://${BUCKET}/${prefix}/other-20240107T030405Z-r${revision}.db`, 'any cluster: the newest of all')
    t.equal((await fetch('--s3-object', `${BUCKET}/${prefix}/prod-20240101T030405Z-r${revision}.db`)).object, `s3://${BUCKET}/${prefix}/prod-20240101T030405Z-r${revision}.db`, 'an existing --to is replaced (a rerun)')
    await mkdir(join(work, 'restore'), { recursive: true })

    await t.rejects(fetch('--s3-object', `${BUCKET}/${prefix}/missing.db`), { message: /^s3 download of s3:\/\/backups\/etcd\/fetch\/missing.db failed: NoSuchKey: The specified key does not exist. \(HTTP 404\)$/ })
    await t.rejects(fetch('--s3-path', `${BUCKET}/nothing-here`, '--latest', '--cluster', 'prod'), { message: /^fetch --latest: no backup of cluster prod under s3:\/\/backups\/nothing-here\/$/ })
    await t.rejects(fetchBackup(fetchOptions(flagsFor('fetch', ['--store', 's3', '--s3-endpoint', s3.endpoint, '--s3-force-path-style', '--aws-dir', await keyFilesDir(t, 'NOBODY'), '--s3-object', `${BUCKET}/${prefix}/x.db`, '--to', to]))), { message: /InvalidAccessKeyId/ })
    await t.rejects(fetch('--s3-object', `nobucket/${prefix}/x.db`), { message: /NoSuchBucket/ })
    const [closed = 0] = await freePorts(1)
    await t.rejects(fetchBackup(fetchOptions(flagsFor('fetch', ['--store', 's3', '--s3-endpoint', `http://127.0.0.1:${closed}`, '--s3-force-path-style', '--aws-dir', keys, '--s3-object', `${BUCKET}/x.db`, '--to', to]))), { message: /^s3 download of s3:\/\/backups\/x.db failed: .*ECONNREFUSED/ })
    t.equal(sha256Of(await readFile(to)), sha256, 'a failed fetch leaves the file there as it was')
  })
})
