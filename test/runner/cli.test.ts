// The built entry point, as a Job's container runs it: `node
// dist/runner/main.js <command> [flags]`; one JSON line on stdout and exit
// 0, or one line on stderr and exit 1 (the work failed) or 2 (the flags).
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { copyFile, mkdir, readFile, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import {
  BUCKET, ROOT, cleanEnv, exec, fakeApiServer, freePorts, keyFilesDir, needsEtcd, serviceAccountDir, sha256Of, startEtcd,
  startS3, tempDir,
} from './helpers.js'
import { ETCDCTL } from '../helpers/requirements.js'

const MAIN = join(ROOT, 'dist/runner/main.js')

// `npm test` builds first; a direct run of this file builds when the
// sources are newer than the build (another file's type error does not stop
// tsc from emitting this one).
const sources = join(ROOT, 'hooks/runner')
const newest = Math.max(...readdirSync(sources).map(file => statSync(join(sources, file)).mtimeMs))
if (!existsSync(MAIN) || statSync(MAIN).mtimeMs < newest) {
  await exec('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT }).catch(() => undefined)
}

interface Run { code: number | null, stdout: string, stderr: string }

// Only PATH (and, on Node 20, the SDK's notice about Node 22 turned off).
function runner (...args: string[]): Promise<Run> {
  return new Promise(resolve => {
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr })
    })
  })
}

const lines = (text: string) => text.split('\n').filter(line => line !== '')

t.test('bad command lines: exit 2, one line naming the flag', async t => {
  const cases: Array<[string[], string]> = [
    [[], 'runner: no command: expected upload, fetch, commit (node dist/runner/main.js <command> --flag value ...)'],
    [['backup'], 'runner: unknown command \'backup\': expected upload, fetch, commit (node dist/runner/main.js <command> --flag value ...)'],
    [['upload', '--snapshot'], 'runner upload: --snapshot needs a value'],
    [['upload', '--snapshot', '/s.db', '--store', 's3', '--s3-path', 'backups/etcd'], 'runner upload: --cluster is required: it starts the generated object name'],
    [['upload', '--snapshot', '/s.db', '--store', 's3', '--s3-object', 'backups/x.db', '--max-backups', 'three'], 'runner upload: --max-backups: expected a whole number (0 or more), got \'three\''],
    [['fetch', '--store', 'pvc', '--pvc-dir', '/b', '--latest'], 'runner fetch: --to is required'],
    [['commit', '--staging', '/var/etcd/data', '--data-dir', '/var/etcd/data'], 'runner commit: --staging /var/etcd/data and --data-dir /var/etcd/data must be separate directories, neither inside the other'],
    // What commit removes is never the data, nor holds it.
    [['commit', '--staging', '/var/etcd/restore/restored', '--data-dir', '/var/etcd/data', '--discard', '/var/etcd'], 'runner commit: --discard /var/etcd and --data-dir /var/etcd/data must be separate directories, neither inside the other'],
    [['fetch', '--store', 'pvc', '--pvc-dir', '/b', '--pvc-file', 'x.db', '--to', '/t.db', '--status-tool-kind', 'etcdsh'], 'runner fetch: --status-tool-kind: expected etcdutl or etcdctl, got \'etcdsh\''],
  ]
  for (const [args, message] of cases) {
    const run = await runner(...args)
    t.equal(run.code, 2, `exit 2: ${args.join(' ')}`)
    t.same(lines(run.stderr), [message])
    t.equal(run.stdout, '')
  }
  const unknown = await runner('commit', '--staging', '/a', '--data-dir', '/b', '--force')
  t.match(lines(unknown.stderr), [/^runner commit: unknown flag --force \(known: --staging --data-dir --discard\)$/])
})

t.test('end to end: upload, fetch, etcdctl snapshot restore, commit', needsEtcd(), async t => {
  const [etcd, s3, work] = await Promise.all([startEtcd(t), startS3(t), tempDir(t, 'cli')])
  const keys = await keyFilesDir(t)
  for (const index of [1, 2, 3, 4]) await etcd.put(`/cli/${index}`, String(index))
  const snapshot = join(work, 'shared', 'snapshot.db')
  await mkdir(join(work, 'shared'))
  await etcd.snapshot(snapshot)
  const revision = await etcd.revision()
  const api = await fakeApiServer(t, () => 500)
  const sa = await serviceAccountDir(t, api.ca, 'ns')
  const store = ['--store', 's3', '--s3-endpoint', s3.endpoint, '--s3-force-path-style', '--aws-dir', keys]

  const uploaded = await runner('upload', ...store, '--s3-path', `${BUCKET}/etcd`, '--cluster', 'cli', '--max-backups', '2', '--snapshot', snapshot,
    '--status-tool', ETCDCTL, '--status-tool-kind', 'etcdctl', '--job', 'cli-backup', '--kube-api', api.url, '--service-account-dir', sa)
  t.equal(uploaded.code, 0, 'exit 0 although the Job could not be annotated')
  const result = JSON.parse(uploaded.stdout)
  t.equal(lines(uploaded.stdout).length, 1, 'one JSON line')
  t.match(result, { object: new RegExp(`^s3://${BUCKET}/etcd/cli-\\d{8}T\\d{6}Z-r${revision}\\.db$`), revision, size: (await readFile(snapshot)).length, sha256: sha256Of(await readFile(snapshot)), deleted: [] })
  t.match(uploaded.stderr, /runner upload: recording the result on Job ns\/cli-backup failed \(attempt 3 of 3\): PATCH \S+: HTTP 500: .*; the backup itself succeeded/)
  t.equal(api.requests.length, 3)

  const to = join(work, 'restore', 'snapshot.db')
  const fetched = await runner('fetch', ...store, '--s3-path', `${BUCKET}/etcd`, '--latest', '--cluster', 'cli', '--to', to)
  t.equal(fetched.code, 0, fetched.stderr)
  t.same(JSON.parse(fetched.stdout), { object: result.object, size: result.size, sha256: result.sha256 })

  const [peer = 0] = await freePorts(1)
  const staging = join(work, 'etcd', 'restore-staging')
  const dataDir = join(work, 'etcd', 'data')
  await exec(ETCDCTL, ['snapshot', 'restore', to, '--data-dir', staging, '--name', 'default', '--initial-cluster', `default=http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`], { env: { ...cleanEnv, ETCDCTL_API: '3' } })
  const committed = await runner('commit', '--staging', staging, '--data-dir', dataDir)
  t.equal(committed.code, 0)
  t.same(JSON.parse(committed.stdout), { dataDir, committed: true, message: `moved the restored ${staging} to ${dataDir}` })
  const again = await runner('commit', '--staging', staging, '--data-dir', dataDir)
  t.same(JSON.parse(again.stdout), { dataDir, committed: false, message: `${dataDir}/member exists: kept the data there` }, 'a rerun keeps the data')
  const restored = await startEtcd(t, dataDir, peer)
  t.equal((await restored.ctl('get', '/cli/3', '--print-value-only')).trim(), '3')

  const missing = await runner('fetch', ...store, '--s3-object', `${BUCKET}/etcd/none.db`, '--to', to)
  t.equal(missing.code, 1)
  t.same(lines(missing.stderr), [`runner fetch: s3 download of s3://${BUCKET}/etcd/none.db failed: NoSuchKey: The specified key does not exist. (HTTP 404)`])
  const corrupt = join(work, 'shared', 'truncated.db')
  await copyFile(snapshot, corrupt)
  await truncate(corrupt, 8000)
  const bad = await runner('upload', ...store, '--s3-object', `${BUCKET}/etcd/bad.db`, '--snapshot', corrupt, '--status-tool', ETCDCTL)
  t.equal(bad.code, 1)
  t.match(lines(bad.stderr).at(-1), /^runner upload: snapshot (integrity )?check failed for \S+truncated\.db: /, 'the last line says what failed')
  t.equal(lines(bad.stderr).filter(line => line.includes('failed')).length, 1, 'and only it')
  t.equal(bad.stdout, '')
})
