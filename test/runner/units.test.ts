// The runner's pure parts: flags and what each command makes of them,
// generated names, retention, the status tool's JSON, the digest stream,
// and the Job's merge patch.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import { Digest } from '../../hooks/runner/digest.js'
import { UsageError, describe } from '../../hooks/runner/errors.js'
import { parseFlags } from '../../hooks/runner/flags.js'
import { annotationsPatch } from '../../hooks/runner/job.js'
import { backupName, compareNames, keyUnder, parseBackupName, stamp } from '../../hooks/runner/naming.js'
import { COMMIT_FLAGS, FETCH_FLAGS, UPLOAD_FLAGS, commitOptions, fetchOptions, uploadOptions } from '../../hooks/runner/options.js'
import { expiredBackups, latestBackup } from '../../hooks/runner/retention.js'
import { firstComplaint, parseStatus } from '../../hooks/runner/snapshot.js'

const upload = (...args: string[]) => uploadOptions(parseFlags('upload', args, UPLOAD_FLAGS))
const fetch = (...args: string[]) => fetchOptions(parseFlags('fetch', args, FETCH_FLAGS))
const commit = (...args: string[]) => commitOptions(parseFlags('commit', args, COMMIT_FLAGS))
const S3 = ['--snapshot', '/tmp/s.db', '--store', 's3']

t.test('flags: every complaint names the flag or word', async t => {
  const cases: Array<[string[], RegExp]> = [
    [['--snapshot'], /^--snapshot needs a value$/],
    [['--snapshot', '--store', 's3'], /^--snapshot needs a value$/],
    [['--bogus', 'x'], /^unknown flag --bogus \(known: --store .*--snapshot/],
    [['snapshot.db'], /^unexpected argument 'snapshot.db' \(every setting of upload is a --flag\)$/],
    [['--cluster', 'a', '--cluster', 'b'], /^--cluster given twice$/],
    [['--s3-force-path-style=true'], /^--s3-force-path-style is a switch and takes no value$/],
    [['--snapshot='], /^--snapshot must not be empty$/],
  ]
  for (const [args, message] of cases) {
    t.throws(() => upload(...args), { name: 'UsageError', message }, args.join(' '))
  }
})

t.test('upload: flags to settings', async t => {
  const s3 = upload(...S3, '--s3-path', 'backups/etcd/prod/', '--cluster', 'prod', '--max-backups', '3', '--s3-endpoint', 'http://127.0.0.1:9000', '--s3-force-path-style', '--aws-dir', '/secrets/aws')
  t.same(s3.location, {
    store: { kind: 's3', bucket: 'backups', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, awsDir: '/secrets/aws' },
    place: { prefix: 'etcd/prod' },
  })
  t.equal(s3.maxBackups, 3)
  t.same(s3.statusTool, { path: 'etcdutl', kind: 'etcdutl' }, 'etcdutl by default')
  t.same(upload(...S3, '--s3-path', 'backups', '--cluster', 'a').location.place, { prefix: '' }, 'the top of the bucket')
  t.same(upload(...S3, '--s3-object', 'backups/once/x.db', '--s3-region', 'eu-west-1').location, {
    store: { kind: 's3', bucket: 'backups', region: 'eu-west-1', forcePathStyle: false },
    place: { exact: 'once/x.db' },
  }, 'an exact object needs no cluster')
  t.same(upload(...S3, '--s3-object', 'b1b/k', '--status-tool', '/usr/bin/etcdctl').statusTool, { path: '/usr/bin/etcdctl', kind: 'etcdctl' }, 'the kind follows the name')
  const pvc = upload('--snapshot', 's.db', '--store', 'pvc', '--pvc-dir', '/backup', '--pvc-subpath', 'a/b/', '--cluster', 'c')
  t.same(pvc.location, { store: { kind: 'pvc', dir: '/backup' }, place: { prefix: 'a/b' } })
  t.same(upload('--snapshot', 's.db', '--store', 'pvc', '--pvc-dir', '/backup', '--pvc-file', '/backup/x/y.db').location.place, { exact: 'x/y.db' }, 'an absolute --pvc-file inside the dir')
  const job = upload(...S3, '--s3-object', 'b1b/k', '--job', 'backup-1', '--kube-api', 'https://127.0.0.1:6443/', '--service-account-dir', '/sa')
  t.same(job.job, { name: 'backup-1', serviceAccountDir: '/sa', apiBase: 'https://127.0.0.1:6443' })
})

t.test('upload: bad combinations, each named', async t => {
  const cases: Array<[string[], RegExp]> = [
    [['--store', 's3', '--s3-path', 'b1b/p', '--cluster', 'a'], /^--snapshot is required$/],
    [['--snapshot', 's', '--store', 'gcs'], /^--store: expected s3 or pvc, got 'gcs'$/],
    [[...S3, '--cluster', 'a'], /exactly one of --s3-path bucket\/prefix or --s3-object bucket\/key/],
    [[...S3, '--s3-path', 'b1b/p', '--s3-object', 'b1b/k'], /exactly one of --s3-path/],
    [[...S3, '--s3-path', 'b1b/p'], /^--cluster is required: it starts the generated object name$/],
    [[...S3, '--s3-path', 'Bad_Bucket/p', '--cluster', 'a'], /^--s3-path: 'Bad_Bucket' is not an S3 bucket name/],
    [[...S3, '--s3-object', 'b1b'], /^--s3-object: expected bucket\/key/],
    [[...S3, '--s3-object', 'b1b/dir/'], /^--s3-object: expected bucket\/key with a key that is not a folder/],
    [[...S3, '--s3-object', 'b1b/k', '--s3-endpoint', 'ftp://x'], /^--s3-endpoint: expected an http:\/\/ or https:\/\/ URL/],
    [[...S3, '--s3-object', 'b1b/k', '--pvc-dir', '/x'], /^--pvc-dir: not allowed with --store s3$/],
    [[...S3, '--s3-path', 'b1b/p', '--cluster', 'Prod'], /^--cluster: 'Prod' is not a cluster name/],
    [[...S3, '--s3-path', 'b1b/p', '--cluster', 'a', '--max-backups', '-1'], /^--max-backups: expected a whole number/],
    [[...S3, '--s3-object', 'b1b/k', '--max-backups', '2'], /^--max-backups: retention applies to generated names only/],
    [[...S3, '--s3-object', 'b1b/k', '--status-tool-kind', 'etcd'], /^--status-tool-kind: expected etcdutl or etcdctl, got 'etcd'$/],
    [[...S3, '--s3-object', 'b1b/k', '--namespace', 'x'], /^--namespace: not allowed without --job$/],
    [[...S3, '--s3-object', 'b1b/k', '--job', 'j', '--kube-api', 'http://x'], /^--kube-api: expected an https:\/\/ URL/],
    [['--snapshot', 's', '--store', 'pvc', '--cluster', 'a'], /^--pvc-dir is required with --store pvc$/],
    [['--snapshot', 's', '--store', 'pvc', '--pvc-dir', '/b', '--pvc-subpath', '../x', '--cluster', 'a'], /^--pvc-subpath: '..\/x' is not inside --pvc-dir \/b$/],
    [['--snapshot', 's', '--store', 'pvc', '--pvc-dir', '/b', '--pvc-file', '/etc/x.db'], /^--pvc-file: '\/etc\/x.db' is not inside --pvc-dir \/b$/],
    [['--snapshot', 's', '--store', 'pvc', '--pvc-dir', '/b', '--s3-region', 'x'], /^--s3-region: not allowed with --store pvc$/],
  ]
  for (const [args, message] of cases) t.throws(() => upload(...args), { name: 'UsageError', message }, args.join(' '))
})

t.test('fetch and commit: flags', async t => {
  const latest = fetch('--store', 's3', '--s3-path', 'b1b/p', '--latest', '--cluster', 'c', '--to', '/r/s.db', '--staging', '/var/etcd/staging', '--data-dir', '/var/etcd/data')
  t.same(latest.location.place, { prefix: 'p' })
  t.same(latest.clear, { staging: '/var/etcd/staging', dataDir: '/var/etcd/data' })
  t.same(fetch('--store', 'pvc', '--pvc-dir', '/b', '--pvc-file', 'x.db', '--to', '/r/s.db').location.place, { exact: 'x.db' })
  const cases: Array<[() => unknown, RegExp]> = [
    [() => fetch('--store', 's3', '--s3-path', 'b1b/p', '--to', '/x'), /^--latest is required with --s3-path/],
    [() => fetch('--store', 's3', '--s3-object', 'b1b/k', '--latest', '--to', '/x'), /^--latest: not allowed with an exact object/],
    [() => fetch('--store', 's3', '--s3-object', 'b1b/k'), /^--to is required$/],
    [() => fetch('--store', 's3', '--s3-object', 'b1b/k', '--to', '/x', '--staging', '/s'), /^--staging and --data-dir go together/],
    [() => fetch('--store', 's3', '--s3-object', 'b1b/k', '--to', '/x', '--staging', '/d/s', '--data-dir', '/d'), /must be separate directories/],
    [() => commit('--staging', '/d'), /^--data-dir is required$/],
    [() => commit('--staging', '/d', '--data-dir', '/d/'), /^--staging \/d and --data-dir \/d\/ must be separate directories/],
    [() => commit('--staging', '/d/data/x', '--data-dir', '/d/data'), /must be separate directories/],
    [() => commit('--staging', '/d', '--data-dir', '/e', '--to', 'x'), /^unknown flag --to/],
  ]
  for (const [call, message] of cases) t.throws(call, { name: 'UsageError', message })
  t.same(commit('--staging', '/var/etcd/restore', '--data-dir', '/var/etcd/data'), { staging: '/var/etcd/restore', dataDir: '/var/etcd/data' })
})

t.test('names: format, strict parsing, and order by time', async t => {
  const at = new Date('2024-01-02T03:04:05.678Z')
  t.equal(stamp(at), '20240102T030405Z')
  t.equal(backupName('prod', at, 42), 'prod-20240102T030405Z-r42.db')
  t.equal(keyUnder('', 'x.db'), 'x.db')
  t.equal(keyUnder('a/b', 'x.db'), 'a/b/x.db')
  t.same(parseBackupName('prod-20240102T030405Z-r42.db', 'prod'), { cluster: 'prod', stamp: '20240102T030405Z', revision: 42n })
  t.equal(parseBackupName('prod-b-20240102T030405Z-r42.db', 'prod'), undefined, 'cluster prod does not own cluster prod-b\'s backups')
  t.equal(parseBackupName('prod-20240102T030405Z-r42.db.tmp', 'prod'), undefined)
  t.equal(parseBackupName('.prod-20240102T030405Z-r42.db.partial-1-ab', 'prod'), undefined, 'temporary files never match')
  t.equal(parseBackupName('prod-b-20240102T030405Z-r42.db')?.cluster, 'prod-b', 'any cluster when none is given')
  // A year of backups at random times: sorted names are sorted times.
  const times = Array.from({ length: 200 }, () => new Date(Date.UTC(2024, 0, 1) + Math.floor(Math.random() * 365 * 86400) * 1000))
  const names = times.map((time, index) => backupName('c', time, index + 1))
  const byName = names.map((name, index) => ({ name, time: times[index]!.getTime() })).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  t.ok(byName.every((entry, index) => index === 0 || byName[index - 1]!.time <= entry.time), 'plain string order of names is time order')
  t.ok(compareNames('c-20240102T030405Z-r9.db', 'c-20240102T030405Z-r10.db', 'c') < 0, 'within one second, the revision decides (as a number)')
})

t.test('retention: the newest N of this cluster stay; nothing else is touched', async t => {
  const names = [
    'c-20240101T000000Z-r1.db', 'c-20240102T000000Z-r2.db', 'c-20240103T000000Z-r3.db', 'c-20240104T000000Z-r4.db',
    'c-b-20230101T000000Z-r1.db', 'notes.txt', 'c-manual.db',
  ]
  t.same(expiredBackups(names, 'c', 2, 'c-20240104T000000Z-r4.db').sort(), ['c-20240101T000000Z-r1.db', 'c-20240102T000000Z-r2.db'])
  t.same(expiredBackups(names, 'c', 0, 'c-20240104T000000Z-r4.db'), [], '0 keeps all')
  t.same(expiredBackups(names, 'c', 10, 'c-20240104T000000Z-r4.db'), [])
  // A clock set back: the new backup sorts oldest, and stays all the same.
  t.same(expiredBackups(names, 'c', 1, 'c-20240101T000000Z-r1.db').sort(), ['c-20240102T000000Z-r2.db', 'c-20240103T000000Z-r3.db'])
  t.equal(latestBackup(names, 'c'), 'c-20240104T000000Z-r4.db')
  t.equal(latestBackup(names, 'c-b'), 'c-b-20230101T000000Z-r1.db')
  t.equal(latestBackup(['x.db', 'a-20250101T000000Z-r1.db', 'b-20240101T000000Z-r9.db', 'y.txt']), 'a-20250101T000000Z-r1.db', 'any *.db: by stamp across clusters')
  t.equal(latestBackup(['x.db', 'w.db']), 'x.db', 'no generated names: by name')
  t.equal(latestBackup(['y.txt'], undefined), undefined)
  t.equal(latestBackup(names, 'd'), undefined)
})

t.test('status JSON: 3.4, 3.6 and garbage', async t => {
  t.same(parseStatus('{"hash":3173553962,"revision":4,"totalKey":7,"totalSize":20480}\n', 'etcdctl'), { hash: 3173553962, revision: 4, totalKey: 7, totalSize: 20480 })
  t.same(parseStatus('Deprecated: Use `etcdutl snapshot status` instead.\n{"hash":1,"revision":9,"totalKey":2,"totalSize":8192,"version":"3.6.0"}', 'x'), { hash: 1, revision: 9, totalKey: 2, totalSize: 8192, version: '3.6.0' })
  t.same(parseStatus('{"hash":1,"revision":9,"totalKey":2,"totalSize":8192,"version":""}', 'x'), { hash: 1, revision: 9, totalKey: 2, totalSize: 8192 }, 'an empty version (before 3.6) is left out')
  t.throws(() => parseStatus('Error: bad', 'etcdutl snapshot status'), { message: /^snapshot check: etcdutl snapshot status printed no JSON status \(got 'Error: bad'\)$/ })
  t.throws(() => parseStatus('{"hash":1,"totalKey":2,"totalSize":3}', 'x'), { message: /no valid revision/ })
  t.throws(() => parseStatus('{"hash":1,"revision":-1,"totalKey":2,"totalSize":3}', 'x'), { message: /no valid revision/ })
  t.equal(firstComplaint('{"level":"info","msg":"x"}\nError: stat /x.db: no such file or directory\n'), 'Error: stat /x.db: no such file or directory')
  t.equal(firstComplaint('unexpected fault address 0x7f16\nfatal error: fault\n[signal SIGBUS: bus error]\n\ngoroutine 1 [running]:\nruntime.throw(...)\n'), 'unexpected fault address 0x7f16', 'the head of a Go crash, not its stack')
  t.equal(firstComplaint(''), undefined)
})

// What etcdctl snapshot save writes: whole pages, then their sha256.
function fakeSnapshot (pages: number): Buffer {
  const body = randomBytes(pages * 4096)
  return Buffer.concat([body, createHash('sha256').update(body).digest()])
}

async function digestOf (data: Buffer, check: boolean): Promise<Digest> {
  // Chunks of random sizes, some shorter than the 32-byte hash.
  const chunks: Buffer[] = []
  for (let at = 0; at < data.length;) {
    const size = Math.random() < 0.3 ? 1 + Math.floor(Math.random() * 40) : 1 + Math.floor(Math.random() * 9000)
    chunks.push(data.subarray(at, at + size))
    at += size
  }
  const digest = new Digest('test.db', check)
  await pipeline(Readable.from(chunks), digest, new Writable({ write: (_chunk, _encoding, done) => { done() } }))
  return digest
}

t.test('digest: size, sha256, and etcd\'s appended hash', async t => {
  for (let round = 0; round < 20; round++) {
    const data = fakeSnapshot(1 + Math.floor(Math.random() * 8))
    const digest = await digestOf(data, true)
    t.equal(digest.bytes, data.length)
    t.equal(digest.sha256, createHash('sha256').update(data).digest('hex'))
  }
  const flipped = fakeSnapshot(3)
  flipped[5000] = flipped[5000]! ^ 0xff
  await t.rejects(digestOf(flipped, true), { message: 'snapshot integrity check failed for test.db: the sha256 etcd appended does not match the content (corrupt file)' })
  await t.rejects(digestOf(fakeSnapshot(3).subarray(0, 9000), true), { message: /^snapshot integrity check failed for test.db: 9000 bytes is not a snapshot with etcd's appended sha256 \(truncated/ })
  await t.rejects(digestOf(fakeSnapshot(3).subarray(0, 2 * 4096 + 32), true), { message: /does not match the content/ }, 'truncated to a plausible size')
  t.equal((await digestOf(Buffer.from('plain'), false)).bytes, 5, 'unchecked: any bytes')
  const whole = fakeSnapshot(2)
  await t.rejects(pipeline(Readable.from([whole]), new Digest('s3://b/k.db', true, whole.length + 100), new Writable({ write: (_chunk, _encoding, done) => { done() } })), {
    message: `s3://b/k.db: ${whole.length} bytes read, ${whole.length + 100} expected (it changed, or the transfer was cut short)`,
  })
})

t.test('the Job patch and one-line errors', async t => {
  t.same(annotationsPatch({ object: 's3://b/k.db', revision: 42, size: 20512, sha256: 'ab', etcdVersion: '3.6.0' }), {
    metadata: {
      annotations: {
        'etcd.database.coreos.com/backup-object': 's3://b/k.db',
        'etcd.database.coreos.com/backup-revision': '42',
        'etcd.database.coreos.com/backup-size': '20512',
        'etcd.database.coreos.com/backup-sha256': 'ab',
        'etcd.database.coreos.com/backup-etcd-version': '3.6.0',
      },
    },
  })
  t.notOk('etcd.database.coreos.com/backup-etcd-version' in annotationsPatch({ object: 'o', revision: 1, size: 1, sha256: 's' }).metadata.annotations)
  const sdkLike = Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } })
  t.equal(describe(sdkLike), 'NoSuchKey: The specified key does not exist. (HTTP 404)')
  t.equal(describe(new UsageError('--x\nbad')), '--x bad')
  t.equal(describe(new AggregateError([new Error('connect ECONNREFUSED ::1:9'), new Error('connect ECONNREFUSED 127.0.0.1:9')])), 'AggregateError: connect ECONNREFUSED ::1:9; connect ECONNREFUSED 127.0.0.1:9')
})
