// Backup and restore of a 1 GiB database, timed on this machine against
// what a person would do by hand, in the same run:
//   backup:  `etcdctl snapshot save` + copy of the file into the store dir
//            vs `etcdctl snapshot save` + the runner's upload (checks the
//            snapshot, streams it, retention) to a directory (PVC) and to
//            an S3-protocol server (s3rver, multipart);
//   restore: copy out of the store + `etcdctl snapshot restore`
//            vs the runner's fetch + `etcdctl snapshot restore` into staging
//            + the runner's commit (what the seed's init containers run).
// One etcd 3.4 on 127.0.0.1 ports, everything in a temp dir removed at the
// end. Writes bench/backup-results.md.
//
//   node .bench/bench/backup.js [--mib=1024]
import { execFile, spawn } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import S3rver from 's3rver'

const ETCD = '/usr/bin/etcd'
const ETCDCTL = '/usr/bin/etcdctl'
const ROOT = new URL('../..', import.meta.url).pathname
const RUNNER = join(ROOT, '.bench/hooks/runner/main.js')
const VALUE_BYTES = 1024 * 1024
const run = promisify(execFile)
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD'))), ETCDCTL_API: '3' }
const log = (line: string) => { process.stderr.write(`${line}\n`) }

const mib = Number(/^--mib=(\d+)$/.exec(process.argv.find(a => a.startsWith('--mib=')) ?? '')?.[1] ?? 1024)

async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => { resolve(port) })
    })
  })
}

function put (endpoint: string, key: string, value: Buffer): Promise<void> {
  const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: value.toString('base64') })
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}/v3/kv/put`, { method: 'POST', headers: { 'content-type': 'application/json' } }, res => {
      res.resume()
      res.on('end', () => {
        if (res.statusCode === 200) resolve()
        else reject(new Error(`put ${key}: HTTP ${String(res.statusCode)}`))
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

// Seconds a step took.
async function timed (step: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await step()
  return (performance.now() - started) / 1000
}

async function fsyncFile (path: string): Promise<void> {
  const handle = await open(path, 'r')
  await handle.sync()
  await handle.close()
}

const ctl = (endpoint: string, ...args: string[]) => run(ETCDCTL, [`--endpoints=${endpoint}`, ...args], { env, maxBuffer: 1 << 24 })
const runner = (...args: string[]) => run(process.execPath, [RUNNER, ...args], { env, maxBuffer: 1 << 24 })
const restoreArgs = (file: string, dataDir: string) => [
  'snapshot', 'restore', file, `--data-dir=${dataDir}`, '--name=bench-0',
  '--initial-cluster=bench-0=http://127.0.0.1:2380', '--initial-advertise-peer-urls=http://127.0.0.1:2380', '--initial-cluster-token=bench',
]

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-backup-'))
  const [client, peer] = [await freePort(), await freePort()]
  const endpoint = `http://127.0.0.1:${client}`
  const etcd = spawn(ETCD, ['--name=bench', `--data-dir=${join(dir, 'etcd')}`, `--listen-client-urls=${endpoint}`, `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=bench=http://127.0.0.1:${peer}`,
    `--quota-backend-bytes=${8 * 1024 ** 3}`, '--snapshot-count=100000'], { env, stdio: 'ignore' })
  const s3dir = join(dir, 's3rver')
  await mkdir(s3dir)
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: 'backups' }] })
  try {
    const { port: s3port } = await s3.run()
    for (let i = 0; ; i++) {
      try {
        await ctl(endpoint, 'endpoint', 'health')
        break
      } catch (error) {
        if (i > 60) throw error
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    }
    log(`filling etcd with ${mib} MiB (${mib} values of 1 MiB)...`)
    const value = Buffer.alloc(VALUE_BYTES, 'etcd-operator backup bench ')
    for (let i = 0; i < mib; i += 4) await Promise.all([0, 1, 2, 3].filter(j => i + j < mib).map(j => put(endpoint, `/bench/${String(i + j).padStart(6, '0')}`, value)))

    const aws = join(dir, 'aws')
    await mkdir(aws)
    await writeFile(join(aws, 'AWS_ACCESS_KEY_ID'), 'S3RVER\n')
    await writeFile(join(aws, 'AWS_SECRET_ACCESS_KEY'), 'S3RVER\n')
    const s3flags = ['--store=s3', '--s3-path=backups/bench', `--s3-endpoint=http://127.0.0.1:${s3port}`, '--s3-force-path-style', `--aws-dir=${aws}`]
    const pvc = join(dir, 'pvc')
    await mkdir(join(pvc, 'prod'), { recursive: true })
    const pvcflags = ['--store=pvc', `--pvc-dir=${pvc}`, '--pvc-subpath=prod']
    const statusTool = ['--status-tool=' + ETCDCTL, '--status-tool-kind=etcdctl']

    log('backup by hand: etcdctl snapshot save + cp + fsync...')
    const byHandFile = join(dir, 'by-hand.db')
    const save = await timed(() => ctl(endpoint, 'snapshot', 'save', byHandFile))
    const bytes = (await stat(byHandFile)).size
    const copy = await timed(async () => {
      await copyFile(byHandFile, join(pvc, 'by-hand.db'))
      await fsyncFile(join(pvc, 'by-hand.db'))
    })
    const rows: Array<{ what: string, seconds: number, baseline: number }> = []
    for (const [what, flags] of [['backup to a PVC directory (runner upload)', pvcflags], ['backup to S3 (s3rver, multipart)', s3flags]] as const) {
      log(`${what}...`)
      const file = join(dir, 'snapshot.db')
      await rm(file, { force: true })
      const seconds = await timed(async () => {
        await ctl(endpoint, 'snapshot', 'save', file)
        await runner('upload', `--snapshot=${file}`, '--cluster=bench', ...flags, ...statusTool)
      })
      rows.push({ what, seconds, baseline: save + copy })
    }

    log('restore by hand: cp + etcdctl snapshot restore...')
    const restoreByHand = await timed(async () => {
      await copyFile(join(pvc, 'by-hand.db'), join(dir, 'restore-by-hand.db'))
      await run(ETCDCTL, restoreArgs(join(dir, 'restore-by-hand.db'), join(dir, 'restored-by-hand')), { env })
    })
    for (const [what, flags] of [['restore from a PVC directory (fetch, restore, commit)', pvcflags], ['restore from S3 (fetch, restore, commit)', s3flags]] as const) {
      log(`${what}...`)
      const work = join(dir, `restore-${rows.length}`)
      await mkdir(work)
      const seconds = await timed(async () => {
        await runner('fetch', ...flags, '--latest', '--cluster=bench', `--to=${join(work, 'snapshot.db')}`)
        await run(ETCDCTL, restoreArgs(join(work, 'snapshot.db'), join(work, 'staging')), { env })
        await runner('commit', `--staging=${join(work, 'staging')}`, `--data-dir=${join(work, 'data')}`)
      })
      rows.push({ what, seconds, baseline: restoreByHand })
    }

    const mb = bytes / 1e6
    const lines = [
      `# Backup and restore: ${mib} MiB through the runner, against doing it by hand`,
      '',
      `\`npm run bench:backup\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, etcd 3.4.23 on 127.0.0.1, s3rver 3.7 in the same process as the bench. Snapshot ${mb.toFixed(0)} MB (${mib} values of 1 MiB). By hand: \`etcdctl snapshot save\` ${save.toFixed(1)} s + copy and fsync ${copy.toFixed(1)} s = ${(save + copy).toFixed(1)} s (${(mb / (save + copy)).toFixed(0)} MB/s); restore by hand: copy + \`etcdctl snapshot restore\` ${restoreByHand.toFixed(1)} s (${(mb / restoreByHand).toFixed(0)} MB/s).`,
      '',
      '| step | seconds | MB/s | by hand, MB/s | ratio (by hand / runner time) |',
      '|---|---:|---:|---:|---:|',
      ...rows.map(r => `| ${r.what} | ${r.seconds.toFixed(1)} | ${(mb / r.seconds).toFixed(0)} | ${(mb / r.baseline).toFixed(0)} | ${(r.baseline / r.seconds).toFixed(2)} |`),
      '',
      'The runner checks each snapshot while it streams (etcd\'s appended sha256, and `snapshot status` for the revision), names it by time and revision, and never leaves a partial object or file under the final name; s3rver writes every part to disk and then again to assemble the object, so the S3 rows measure it as much as the runner.',
      '',
    ]
    await writeFile(join(ROOT, 'bench/backup-results.md'), lines.join('\n'))
    process.stdout.write(lines.join('\n'))
  } finally {
    etcd.kill('SIGKILL')
    await s3.close().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
