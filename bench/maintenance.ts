// `npm run bench:maintenance` (issue 15): what the maintenance decision
// costs a healthy steady cluster's sync, with the feature and without it,
// in one run.
// 1. The hook's own work per sync (parse the request, plan, write the
//    answer) for a steady cluster of 3, 5 and 9 members: once as before
//    the feature (no quota, defrag off, no backend sizes in the
//    observation), once with it (quota and compaction set, defrag on, each
//    member's dbSize and dbSizeInUse observed, status.maintenance written).
//    Rounds alternate so both see the same machine; CPU and latency ratios.
// 2. The etcd requests of one observe() against a real three-member etcd:
//    their paths, counted with node's http diagnostics channel, on a
//    healthy cluster (no maintenance call at all) and with a defrag
//    recorded (one probe more).
//
//   node .bench/bench/maintenance.js [--rounds=10] [--calls=2000]
import { spawn, type ChildProcess } from 'node:child_process'
import { subscribe } from 'node:diagnostics_channel'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import type { ClientRequest } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { ClusterSpec, SyncRequest } from '../hooks/api/cluster.js'
import { readCluster } from '../hooks/cluster/observe/cluster.js'
import { plan } from '../hooks/cluster/plan.js'
import { observeTarget } from '../hooks/cluster/targets.js'
import { EtcdGateway } from '../hooks/etcd/gateway.js'
import type { Observation, ObserveExtras } from '../hooks/etcd/types.js'
import { NOW, syncRequest } from '../test/helpers/fixtures.js'
import { percentile } from './etcd-observe.js'
import { healthyObservation } from './healthy-membership.js'

const args = new Map(process.argv.slice(2).map(a => {
  const [key, value] = a.replace(/^--/, '').split('=')
  return [key ?? '', value ?? 'true']
}))
const ROUNDS = Number(args.get('rounds') ?? 10)
const CALLS = Number(args.get('calls') ?? 2000)
const MiB = 1024 * 1024
const log = (line: string) => process.stdout.write(`${line}\n`)
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

interface Variant { text: string, observation: Observation }

// A steady cluster's request as Metacontroller sends it (the status from
// the previous sync), and the observation the gateway gives for it.
function variant (size: number, withFeature: boolean): Variant {
  const spec: Partial<ClusterSpec> = withFeature
    ? { size, quotaBackendBytes: '8Gi', autoCompaction: { mode: 'periodic', retention: '1h' } }
    : { size, defrag: { enabled: false } }
  const fixture = { spec, pods: Array.from({ length: size }, (_, ordinal) => ({ ordinal })) }
  const first = syncRequest(fixture)
  const base = healthyObservation(observeTarget(readCluster(first)))
  const observation: Observation = withFeature && base.reachable
    ? { ...base, space: Object.fromEntries(base.members.map(m => [m.id, { dbSize: 64 * MiB, dbSizeInUse: 60 * MiB }])), revision: '123456' }
    : base
  const previous = plan(first, observation, NOW)
  if (previous.rule !== 'steady') throw new Error(`size ${size}: not steady (${previous.rule})`)
  const request = syncRequest({ ...fixture, status: previous.response.status })
  return { text: JSON.stringify(request), observation }
}

// One round: parse, plan, stringify, `CALLS` times; CPU and latencies.
function round (v: Variant): { cpuUs: number, times: number[] } {
  const times: number[] = []
  const cpu = process.cpuUsage()
  for (let i = 0; i < CALLS; i++) {
    const start = performance.now()
    const result = plan(JSON.parse(v.text) as SyncRequest, v.observation, NOW)
    JSON.stringify(result.response)
    times.push(performance.now() - start)
  }
  const used = process.cpuUsage(cpu)
  return { cpuUs: (used.user + used.system) / CALLS, times }
}

function plannerRows (): void {
  log('| members | sync CPU without (us) | with (us) | CPU ratio | p50 without (us) | p50 with (us) | p99 without (us) | p99 with (us) | latency ratio (p50) |')
  log('|---|---|---|---|---|---|---|---|---|')
  for (const size of [3, 5, 9]) {
    const without = variant(size, false)
    const withIt = variant(size, true)
    // Warm up both.
    for (let i = 0; i < 3; i++) {
      round(without)
      round(withIt)
    }
    const a = { cpu: [] as number[], times: [] as number[] }
    const b = { cpu: [] as number[], times: [] as number[] }
    for (let r = 0; r < ROUNDS; r++) {
      const [first, second] = r % 2 === 0 ? [[without, a], [withIt, b]] as const : [[withIt, b], [without, a]] as const
      for (const [v, into] of [first, second]) {
        const { cpuUs, times } = round(v)
        into.cpu.push(cpuUs)
        into.times.push(...times)
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN
    const us = (ms: number) => (ms * 1000).toFixed(1)
    a.times.sort((x, y) => x - y)
    b.times.sort((x, y) => x - y)
    const [ca, cb] = [median(a.cpu), median(b.cpu)]
    const [pa, pb] = [percentile(a.times, 0.5), percentile(b.times, 0.5)]
    log(`| ${size} | ${ca.toFixed(1)} | ${cb.toFixed(1)} | ${(cb / ca).toFixed(2)} | ${us(pa)} | ${us(pb)} | ${us(percentile(a.times, 0.99))} | ${us(percentile(b.times, 0.99))} | ${(pb / pa).toFixed(2)} |`)
  }
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise(resolve => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

// Three etcd members on loopback; the endpoints, and a stop function.
async function startEtcd (dir: string): Promise<{ endpoints: string[], stop: () => void }> {
  const members = []
  for (let i = 0; i < 3; i++) members.push({ name: `m${i}`, client: await freePort(), peer: await freePort() })
  const initial = members.map(m => `${m.name}=http://127.0.0.1:${m.peer}`).join(',')
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD')))
  const processes: ChildProcess[] = members.map(m => spawn('/usr/bin/etcd', [
    `--name=${m.name}`, `--data-dir=${join(dir, m.name)}`, `--listen-client-urls=http://127.0.0.1:${m.client}`,
    `--advertise-client-urls=http://127.0.0.1:${m.client}`, `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`, `--initial-cluster=${initial}`, '--initial-cluster-token=maint-bench',
    '--quota-backend-bytes=8589934592', '--log-level=error',
  ], { stdio: 'ignore', env }))
  return { endpoints: members.map(m => `http://127.0.0.1:${m.client}`), stop: () => { for (const p of processes) p.kill('SIGKILL') } }
}

async function etcdRows (): Promise<void> {
  if (!existsSync('/usr/bin/etcd')) {
    log('\n(etcd not installed: no etcd rows)')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'maint-bench-'))
  const { endpoints, stop } = await startEtcd(dir)
  const paths: string[] = []
  subscribe('http.client.request.start', message => { paths.push((message as { request: ClientRequest }).request.path) })
  const gateway = new EtcdGateway({ requestTimeoutMs: 1500 })
  try {
    for (let i = 0; i < 150; i++) {
      const seen = await gateway.observe({ endpoints })
      if (seen.reachable && seen.leaderId !== undefined && (seen.answering?.length ?? 0) === 3) break
      await sleep(200)
    }
    log('\n| observe() of a 3-member etcd 3.4 | requests | paths |')
    log('|---|---|---|')
    const cases: Array<[string, ObserveExtras]> = [['healthy, steady', {}], ['a defrag recorded (backend probe)', { probeBackend: [endpoints[1] ?? ''] }]]
    for (const [what, extras] of cases) {
      paths.length = 0
      const seen = await gateway.observe({ endpoints }, Infinity, extras)
      if (!seen.reachable) throw new Error(seen.error)
      const counts = new Map<string, number>()
      for (const p of paths) counts.set(p, (counts.get(p) ?? 0) + 1)
      log(`| ${what} | ${paths.length} | ${[...counts].map(([p, n]) => `${p} x${n}`).join(', ')} |`)
    }
  } finally {
    gateway.close()
    stop()
    await sleep(200)
    rmSync(dir, { recursive: true, force: true })
  }
}

log(`maintenance decision cost, ${new Date().toISOString()}, node ${process.version}, ${ROUNDS} rounds x ${CALLS} syncs each way\n`)
plannerRows()
await etcdRows()
