// The seed's restore init containers as the hook renders them, run for
// real on etcd 3.4: each image mapped to the local binary (the operator
// image to the runner's own entry code, the etcd image to etcdctl), the
// pod's paths to a temporary dir standing for the member's volume, its
// peer and client URLs to loopback ports. A backup in s3rver becomes a
// member's data dir, etcd started with the seed's own arguments serves
// exactly the keys of the snapshot at its revision, a second run keeps
// the data, and a corrupt snapshot fails before any data dir exists, with
// the words the hook then shows in the Restored condition.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Restore } from '../../hooks/api/backup.js'
import type { KubeObject } from '../../hooks/api/kube.js'
import { plan } from '../../hooks/cluster/plan.js'
import { RESTORE_CONTAINERS } from '../../hooks/cluster/render/restore.js'
import { run } from '../../hooks/runner/cli.js'
import { upload } from '../../hooks/runner/upload.js'
import { uploadOptions } from '../../hooks/runner/options.js'
import { NAME, NOW, syncRequest, unreachable } from '../helpers/fixtures.js'
import { ETCD, ETCDCTL } from '../helpers/requirements.js'
import { flagsFor } from './args.js'
import { BUCKET, MARKER, STATUS_TOOL, cleanEnv, corruptCopy, exec, freePorts, keyFilesDir, needsEtcd, quiet, startEtcd, startS3, tempDir } from './helpers.js'

interface Container { name: string, image: string, command: string[], args: string[] }
const POD = `${NAME}-0`
const PEER = `http://${POD}.${NAME}.default.svc:2380`

// One run of an init container, as the kubelet reports it.
interface Ran { name: string, exitCode: number, message: string }

t.test('the rendered restore init containers on etcd 3.4: from a backup to a serving member', needsEtcd(), async t => {
  const [source, s3, work] = await Promise.all([startEtcd(t), startS3(t), tempDir(t, 'seed-restore')])
  const keys = await keyFilesDir(t)
  for (let i = 0; i < 20; i++) await source.put(`/restore/${String(i).padStart(2, '0')}`, `value-${i}`)
  await source.put('/restore/marker', MARKER.repeat(20))
  const snapshot = join(work, 'snapshot.db')
  await source.snapshot(snapshot)
  const revision = await source.revision()
  await source.put('/restore/after-the-backup', 'not in the snapshot')
  const uploaded = await upload(uploadOptions(flagsFor('upload', [
    '--store', 's3', '--s3-endpoint', s3.endpoint, '--s3-force-path-style', '--aws-dir', keys,
    '--s3-object', `${BUCKET}/prod/prod.db`, '--snapshot', snapshot, '--status-tool', STATUS_TOOL.path,
  ])), quiet)
  t.equal(uploaded.revision, revision)

  const restore: Restore = { s3: { path: `${BUCKET}/prod/prod.db`, awsSecret: 's3-creds', endpoint: s3.endpoint, forcePathStyle: true } }
  const seed = renderedSeed(restore)
  const [peerPort = 0, clientPort = 0, metricsPort = 0] = await freePorts(3)
  const volume = join(work, 'volume')
  await mkdir(volume)
  const local: Local = { volume, keys, peerPort, clientPort, metricsPort, terminationLog: join(work, 'termination-log') }

  const first = await runInitContainers(seed, local)
  t.same(first.map(r => [r.name, r.exitCode]), RESTORE_CONTAINERS.map(name => [name, 0]), 'fetch, restore, commit: each exits 0')
  t.match(JSON.parse(first[0]!.message), { object: `s3://${BUCKET}/prod/prod.db`, revision }, 'fetch reports the object and its revision')
  t.match(JSON.parse(first[2]!.message), { committed: true })
  t.same(await readdir(volume), ['data'], 'only the data dir is left on the volume (staging and the fetched file are gone)')

  // etcd, started with the seed's own arguments, serves the snapshot.
  const etcd = await startMember(t, seed, local, clientPort)
  const listed = await etcd('get', '/restore/', '--prefix', '--keys-only')
  t.same(listed.split('\n').filter(line => line !== ''), [...Array.from({ length: 20 }, (_, i) => `/restore/${String(i).padStart(2, '0')}`), '/restore/marker'], 'exactly the keys of the snapshot')
  t.equal((await etcd('get', '/restore/07', '--print-value-only')).trim(), 'value-7')
  const status = JSON.parse(await etcd('endpoint', 'status', '-w', 'json')) as Array<{ Status: { header: { revision: number } } }>
  t.equal(status[0]?.Status.header.revision, revision, 'at the snapshot\'s revision (etcd 3.4.23 cannot bump it)')
  await etcd('put', '/restore/written-after', 'kept')

  // The pod comes back on its volume: the init containers run again, the
  // data stays as it is.
  await etcd.stop()
  const second = await runInitContainers(seed, local)
  t.same(second.map(r => r.exitCode), [0, 0, 0], 'a rerun succeeds')
  t.match(JSON.parse(second[2]!.message), { committed: false, message: /member exists: kept the data there/ })
  const again = await startMember(t, seed, local, clientPort)
  t.equal((await again('get', '/restore/written-after', '--print-value-only')).trim(), 'kept', 'what was written after the restore survives a rerun')
  await again.stop()

  // The hook reads the kubelet's report of these runs.
  t.same(hookStatusFor(seed, first, restore).restore, { object: `s3://${BUCKET}/prod/prod.db`, revision, time: '2026-11-26T09:00:30Z' })

  t.test('a corrupt snapshot: fetch fails with the reason, no data dir appears', async t => {
    const corrupt = await corruptCopy(snapshot, join(work, 'corrupt.db'), MARKER)
    await mkdir(join(work, 'pvc'))
    await writeFile(join(work, 'pvc', 'corrupt.db'), await readFile(corrupt))
    const bad: Restore = { pvc: { claimName: 'backups', path: 'corrupt.db' } }
    const badSeed = renderedSeed(bad)
    const badVolume = join(work, 'bad-volume')
    await mkdir(badVolume)
    const runs = await runInitContainers(badSeed, { ...local, volume: badVolume, pvc: join(work, 'pvc') })
    t.same(runs.map(r => [r.name, r.exitCode]), [[RESTORE_CONTAINERS[0], 1]], 'the first container fails; the next never runs')
    t.match(runs[0]!.message, /^runner fetch: snapshot integrity check failed for pvc:\/\/backups\/corrupt\.db: /)
    t.notOk(existsSync(join(badVolume, 'data')), 'no data dir for etcd to start from')
    const status = hookStatusFor(badSeed, runs, bad)
    t.match(status.conditions?.find(c => c.type === 'Restored'), { status: 'False', reason: 'RestoreFailed', message: /^example-0: restore-fetch failed: runner fetch: snapshot integrity check failed for pvc:\/\/backups\/corrupt\.db: / })
  })
})

function renderedSeed (restore: Restore): KubeObject {
  const response = plan(syncRequest({ spec: { size: 3, version: '3.4.23', restore } }), unreachable, NOW).response
  const seed = response.children.find(c => c.kind === 'Pod' && c.metadata.name === POD)
  if (seed === undefined) throw new Error('no seed pod')
  return seed
}

// What stands for the pod's images, volumes and network here.
interface Local { volume: string, keys: string, peerPort: number, clientPort: number, metricsPort: number, terminationLog: string, pvc?: string }
function localArg (arg: string, local: Local): string {
  return arg
    .replaceAll(PEER, `http://127.0.0.1:${local.peerPort}`)
    .replaceAll(`http://${POD}.${NAME}.default.svc:2379`, `http://127.0.0.1:${local.clientPort}`)
    .replaceAll('0.0.0.0:2380', `127.0.0.1:${local.peerPort}`)
    .replaceAll('0.0.0.0:2379', `127.0.0.1:${local.clientPort}`)
    .replaceAll('0.0.0.0:2381', `127.0.0.1:${local.metricsPort}`)
    .replaceAll('/var/etcd', local.volume)
    .replaceAll('/etc/etcd-restore/aws', local.keys)
    .replaceAll('/restore-store', local.pvc ?? '/nonexistent')
    .replaceAll('/dev/termination-log', local.terminationLog)
    // The operator image's etcdutl is etcd 3.4's etcdctl here.
    .replace(/^--status-tool=.*/, `--status-tool=${ETCDCTL}`)
    .replace(/^--status-tool-kind=.*/, '--status-tool-kind=etcdctl')
}

// Runs them in order, as the kubelet does: the next only after one exits 0.
async function runInitContainers (seed: KubeObject, local: Local): Promise<Ran[]> {
  const ran: Ran[] = []
  for (const container of (seed.spec as { initContainers: Container[] }).initContainers) {
    await writeFile(local.terminationLog, '')
    const args = container.args.map(arg => localArg(arg, local))
    let exitCode: number
    let log = ''
    if (container.command[0] === 'node') {
      exitCode = await run(args, { env: cleanEnv, out: () => undefined, err: line => { log += `${line}\n` } })
    } else {
      // etcd 3.4's image: its etcdctl.
      if (container.command[0] !== '/usr/local/bin/etcdctl') throw new Error(`unexpected command ${container.command.join(' ')}`)
      // The pod sets no ETCDCTL_API: etcdctl 3.4 speaks v3 by default.
      exitCode = await exec(ETCDCTL, args, { env: cleanEnv }).then(() => 0, (error: { code?: number, stderr?: string }) => {
        log = error.stderr ?? ''
        return error.code ?? 1
      })
    }
    // FallbackToLogsOnError: an empty termination log on failure shows the log.
    const written = await readFile(local.terminationLog, 'utf8')
    ran.push({ name: container.name, exitCode, message: written !== '' ? written : exitCode !== 0 ? log : '' })
    if (exitCode !== 0) break
  }
  return ran
}

// The seed's etcd container, its arguments mapped to loopback.
async function startMember (t: Test, seed: KubeObject, local: Local, clientPort: number): Promise<((...args: string[]) => Promise<string>) & { stop: () => Promise<void> }> {
  const etcd = (seed.spec as { containers: Container[] }).containers[0]!
  t.same(etcd.command, ['/usr/local/bin/etcd'])
  const child = spawn(ETCD, etcd.args.map(arg => localArg(arg, local)), { env: cleanEnv, stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr.on('data', (chunk: Buffer) => { log = (log + chunk.toString()).slice(-4000) })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  t.teardown(stop)
  const ctl = async (...args: string[]) => (await exec(ETCDCTL, ['--endpoints', `http://127.0.0.1:${clientPort}`, ...args], { env: { ...cleanEnv, ETCDCTL_API: '3' } })).stdout
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      await ctl('endpoint', 'health', '--command-timeout', '1s')
      break
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the restored member did not become healthy: ${String(error)}; log: ${log}`, { cause: error })
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  return Object.assign(ctl, { stop })
}

// The sync after these runs, with the seed as the kubelet reports it.
function hookStatusFor (seed: KubeObject, runs: Ran[], restore: Restore) {
  const reported = structuredClone(seed)
  const failed = runs.some(r => r.exitCode !== 0)
  reported.status = {
    phase: failed ? 'Pending' : 'Running',
    initContainerStatuses: runs.map(r => ({ name: r.name, state: { terminated: { exitCode: r.exitCode, reason: r.exitCode === 0 ? 'Completed' : 'Error', message: r.message, finishedAt: '2026-11-26T09:00:30Z' } } })),
  }
  const request = syncRequest({ spec: { size: 3, version: '3.4.23', restore } })
  request.children = { ...request.children, 'Pod.v1': { [POD]: reported } }
  return plan(request, unreachable, NOW).response.status
}
