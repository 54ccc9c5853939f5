// `npm run bench`: the hook's own cost per sync, against a fastify route that
// only parses and echoes the same body. Each server runs in a child process
// pinned to core 0 (taskset); autocannon runs here, pinned to core 1. Then,
// when etcd is installed, the cost of one real membership read against a
// local three-member etcd, and what both mean for clusters per replica.
//
//   node .bench/bench/run.js [--soak] [--profile] [--etcd | --no-etcd]
//     [--sizes=1,3,5,7,9] [--duration=12] [--rounds=6] [--warmup=3] [--connections=100]
//     [--rates=100,400]   (req/s of the open-loop latency rows; default 100, and
//     a quarter and half of the hook's saturated throughput)
//     [--server-flags="..."] [--no-image-env]   (node flags of both servers; the
//     image's NODE_OPTIONS and MALLOC_ARENA_MAX unless --no-image-env)
import { execFileSync, fork, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import autocannon, { type Result } from 'autocannon'
import { RESYNC_STEADY } from '../hooks/cluster/plan.js'
import type { SyncResponse } from '../hooks/api/cluster.js'
import type { FromChild, ToChild } from './child.js'
import { measureObserve, percentile, type EtcdFigures } from './etcd-observe.js'
import type { OpenLoopMessage, OpenLoopResult, OpenLoopTask } from './open-loop.js'
import { formatProfile, summariseProfile } from './profile.js'
import { steadyRequest } from './requests.js'

const ETCD = '/usr/bin/etcd'
const RESULTS = new URL('../../bench/results.md', import.meta.url).pathname
// Metacontroller's defaults: `--workers` 5 syncs in flight, and the chart's
// resyncPeriodSeconds 60 on top of the hook's own steady resyncAfterSeconds.
const METACONTROLLER_WORKERS = 5
const RESYNC_PERIOD_SECONDS = 60
// Share of one core we plan to use in steady state: the rest absorbs bursts
// (every cluster resyncs after a hook restart; converging clusters every 2 s).
const CPU_BUDGET = 0.5
const TARGETS = { ratio: 0.7, p99Ms: 5, rssMB: 100 }

const args = new Map(process.argv.slice(2).map(a => {
  const [key, ...value] = a.replace(/^--/, '').split('=')
  return [key ?? '', value.length > 0 ? value.join('=') : 'true']
}))
const option = (name: string, fallback: number) => Number(args.get(name) ?? fallback)
const sizes = (args.get('sizes') ?? '1,3,5,7,9').split(',').map(Number)
const largest = Math.max(...sizes)
const duration = option('duration', 12)
const rounds = option('rounds', 6)
const roundSeconds = duration / rounds
const warmup = option('warmup', 3)
const connections = option('connections', 100)
const soakSeconds = option('soak-seconds', 60)
const soakWarmup = 10
// Both servers run with the memory settings the image sets (NODE_OPTIONS
// and MALLOC_ARENA_MAX in the Dockerfile), so memory is measured as
// shipped; --no-image-env leaves Node's defaults, --server-flags adds flags.
const serverEnv = args.has('no-image-env') ? {} : imageMemoryEnv()
const serverFlags = (args.get('server-flags') ?? '').split(' ').filter(f => f !== '')

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const log = (line: string) => process.stderr.write(`${line}\n`)

// ---- processes, cores and memory -------------------------------------------

const cores = availableParallelism()
const haveTaskset = (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()
function pin (pid: number, core: number): boolean {
  if (!haveTaskset) return false
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' })
  return true
}

function procStatusKB (pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? NaN)
}
// Writing 5 to clear_refs resets VmHWM (Linux 4.0+): a peak per measurement.
function resetPeak (pid: number): void {
  try { writeFileSync(`/proc/${pid}/clear_refs`, '5') } catch { /* peak since start instead */ }
}
// utime + stime of every thread, in seconds.
function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

// Busy jiffies of one CPU (all processes), from /proc/stat.
function cpuBusy (core: number): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find(l => l.startsWith(`cpu${core} `))
  // user nice system idle iowait irq softirq steal, in USER_HZ (100 a second);
  // steal is time the hypervisor gave to someone else.
  const [, user, nice, system, , , irq, softirq, steal] = (line ?? '').trim().split(/\s+/).map(Number)
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100
}

interface Server { name: string, child: ChildProcess, pid: number, port: number, output: () => string }
const children: ChildProcess[] = []
const cleanup = () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL') }
process.on('exit', cleanup)
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => {
  cleanup()
  process.exit(130)
})

async function startServer (name: string, script: string, extraArgs: string[] = []): Promise<Server> {
  const child = fork(new URL(script, import.meta.url).pathname, [], {
    execArgv: ['--expose-gc', ...serverFlags, ...extraArgs],
    env: { ...process.env, LOG_LEVEL: 'info', ...serverEnv },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  children.push(child)
  let output = ''
  const keep = (d: Buffer) => { output = (output + d.toString()).slice(-20_000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (m: FromChild) => { if (m.type === 'listening') resolve(m.port) })
    child.once('exit', code => reject(new Error(`${name} exited with ${code} before listening:\n${output}`)))
  })
  const pid = child.pid!
  pin(pid, 0)
  return { name, child, pid, port, output: () => output }
}

async function childMemory (server: Server): Promise<{ rss: number, heapUsed: number }> {
  return new Promise(resolve => {
    const onMessage = (m: FromChild) => {
      if (m.type !== 'memory') return
      server.child.off('message', onMessage)
      resolve(m)
    }
    server.child.on('message', onMessage)
    server.child.send({ type: 'memory' } satisfies ToChild)
  })
}

async function stopServer (server: Server): Promise<void> {
  // A function, not a narrowed field: the child exits while we wait.
  const running = () => server.child.exitCode === null
  if (!running()) return
  const exited = new Promise(resolve => server.child.once('exit', resolve))
  server.child.send({ type: 'exit' } satisfies ToChild)
  await Promise.race([exited, sleep(10_000)])
  if (running()) server.child.kill('SIGKILL')
}

// ---- load ------------------------------------------------------------------

function post (port: number, body: string, agent?: Agent): Promise<{ status: number, text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/sync', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function load (port: number, body: string, seconds: number): Promise<Result> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/sync`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
    // Far above any answer time we accept: a slow answer is measured, not cut.
    timeout: 30,
  })
  if (result.non2xx > 0) throw new Error(`port ${port}: ${result.non2xx} answers were not 2xx: ${JSON.stringify(result.statusCodeStats)}`)
  return result
}

interface Round {
  requests: number
  seconds: number
  cpu: number // CPU seconds the server used (user + system, all threads)
  p50: number
  p99: number
  loaderCpu: number // cores autocannon used
  otherLoad: number // cores that other processes (or the hypervisor) took from the server's core
  failures: number // connection errors and timeouts
}

interface Measurement {
  reqPerSec: number
  cpuPerRequestMs: number
  p50: number // medians over the rounds
  p99: number
  peakRssMB: number
  rounds: Round[]
}

async function round (server: Server, body: string): Promise<Round> {
  const cpuBefore = cpuSeconds(server.pid)
  const coreBefore = cpuBusy(0)
  const loaderBefore = process.cpuUsage()
  const started = performance.now()
  const result = await load(server.port, body, roundSeconds)
  const elapsed = (performance.now() - started) / 1000
  const loader = process.cpuUsage(loaderBefore)
  const cpu = cpuSeconds(server.pid) - cpuBefore
  return {
    requests: result.requests.total,
    seconds: result.duration,
    cpu,
    p50: result.latency.p50,
    p99: result.latency.p99,
    loaderCpu: (loader.user + loader.system) / 1e6 / elapsed,
    otherLoad: Math.max(0, (cpuBusy(0) - coreBefore - cpu) / elapsed),
    failures: result.errors + result.timeouts,
  }
}

// The hook and the baseline take turns in short rounds (ABBA order), so a
// neighbour's burst on this shared machine hits both alike; the ratio is
// the median of the rounds' ratios.
async function measurePair (hook: Server, baseline: Server, body: string): Promise<{ hook: Measurement, baseline: Measurement, ratio: number, cpuRatio: number }> {
  await load(hook.port, body, warmup)
  await load(baseline.port, body, warmup)
  resetPeak(hook.pid)
  resetPeak(baseline.pid)
  const hookRounds: Round[] = []
  const baselineRounds: Round[] = []
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      hookRounds.push(await round(hook, body))
      baselineRounds.push(await round(baseline, body))
    } else {
      baselineRounds.push(await round(baseline, body))
      hookRounds.push(await round(hook, body))
    }
  }
  const summary = (server: Server, all: Round[]): Measurement => {
    const requests = sum(all.map(r => r.requests))
    return {
      reqPerSec: requests / sum(all.map(r => r.seconds)),
      cpuPerRequestMs: 1000 * sum(all.map(r => r.cpu)) / requests,
      p50: median(all.map(r => r.p50)),
      p99: median(all.map(r => r.p99)),
      peakRssMB: procStatusKB(server.pid, 'VmHWM') / 1024,
      rounds: all,
    }
  }
  const h = summary(hook, hookRounds)
  const b = summary(baseline, baselineRounds)
  return {
    hook: h,
    baseline: b,
    ratio: median(hookRounds.map((r, i) => (r.requests / r.seconds) / ((baselineRounds[i]!).requests / (baselineRounds[i]!).seconds))),
    cpuRatio: b.cpuPerRequestMs / h.cpuPerRequestMs,
  }
}

const sum = (values: number[]) => values.reduce((a, v) => a + v, 0)
function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : ((sorted[mid - 1]!) + (sorted[mid]!)) / 2
}

interface Latency { p50: number, p99: number, count: number, peakRssMB: number, loaderDelayP99?: number, loaderDelayMax?: number, ownP99Ms?: number }

// A fresh server compiles its hot paths over its first thousands of
// requests; a hook in production has long done so. Warm it up the way
// Metacontroller calls it (5 at a time), so the rows time the warm server
// without the memory of 100 connections.
const WARM_UP_REQUESTS = 4000
async function warmUp (server: Server, body: string): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: METACONTROLLER_WORKERS })
  try {
    let left = WARM_UP_REQUESTS
    const worker = async () => {
      for (; left > 0; left--) {
        const { status } = await post(server.port, body, agent)
        if (status !== 200) throw new Error(`warm-up: status ${status}`)
      }
    }
    await Promise.all(Array.from({ length: METACONTROLLER_WORKERS }, worker))
  } finally {
    agent.destroy()
  }
}

// `concurrency` keep-alive connections, each sending its next request when
// the last is answered, timed to the microsecond: the latency Metacontroller
// sees at its own concurrency, without the queueing of 100 connections.
async function latencyAt (server: Server, body: string, concurrency: number, seconds: number): Promise<Latency> {
  await warmUp(server, body)
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  try {
    const times: number[] = []
    const worker = async (end: number, record: boolean) => {
      while (performance.now() < end) {
        const start = performance.now()
        const { status } = await post(server.port, body, agent)
        if (status !== 200) throw new Error(`status ${status}`)
        if (record) times.push(performance.now() - start)
      }
    }
    const until = (s: number) => performance.now() + s * 1000
    const warm = until(2)
    await Promise.all(Array.from({ length: concurrency }, () => worker(warm, false)))
    resetPeak(server.pid)
    const end = until(seconds)
    await Promise.all(Array.from({ length: concurrency }, () => worker(end, true)))
    times.sort((a, b) => a - b)
    return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), count: times.length, peakRssMB: procStatusKB(server.pid, 'VmHWM') / 1024 }
  } finally {
    agent.destroy()
  }
}

// Requests sent at a fixed rate over `concurrency` keep-alive connections,
// whether or not earlier ones were answered (an open loop), each timed from
// when it was due: queueing in the client counts, as it would for a caller.
async function latencyAtRate (server: Server, body: string, concurrency: number, rate: number, seconds: number): Promise<Latency> {
  await warmUp(server, body)
  // A process of its own (bench/open-loop.ts), on this process's core: this
  // one's heap, grown by autocannon, would stall the load with its own
  // collections. A young generation large enough for the whole row.
  const task: OpenLoopTask = { port: server.port, body, connections: concurrency, rate, seconds }
  const loader = fork(new URL('./open-loop.js', import.meta.url).pathname, [JSON.stringify(task)], {
    execArgv: ['--max-semi-space-size=64'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  children.push(loader)
  let result: OpenLoopResult | undefined
  // The hook's own time per sync, from its sync-duration histogram over the
  // timed part: what the hook adds, without the queueing before it reads a
  // request.
  let bucketsBefore: Promise<Map<number, number> | undefined> = Promise.resolve(undefined)
  loader.on('message', (m: OpenLoopMessage) => {
    if ('timing' in m) {
      // The peak is taken over the timed part only, after the lead-in.
      resetPeak(server.pid)
      if (server.name === 'hook') bucketsBefore = syncDurationBuckets(server.port)
    } else result = m
  })
  const code = await new Promise<number | null>(resolve => loader.once('exit', resolve))
  if (result === undefined) throw new Error(`the open-loop load at ${rate} req/s failed (exit ${code})`)
  const before = await bucketsBefore
  const ownP99Ms = before === undefined ? undefined : p99Bound(before, await syncDurationBuckets(server.port))
  return { ...result, peakRssMB: procStatusKB(server.pid, 'VmHWM') / 1024, ...(ownP99Ms !== undefined ? { ownP99Ms } : {}) }
}

// Cumulative counts of etcd_operator_sync_duration_seconds{outcome="ok"},
// by upper bound in ms, from the hook's /metrics.
async function syncDurationBuckets (port: number): Promise<Map<number, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/metrics' }, res => {
      let data = ''
      res.on('data', (chunk: Buffer) => { data += chunk.toString() })
      res.on('end', () => resolve(data))
      res.on('error', reject)
    }).on('error', reject).end()
  })
  const buckets = new Map<number, number>()
  for (const match of text.matchAll(/^etcd_operator_sync_duration_seconds_bucket\{le="([^"]+)",outcome="ok"\} (\d+)$/gm)) {
    buckets.set(match[1] === '+Inf' ? Infinity : 1000 * Number(match[1]), Number(match[2]))
  }
  return buckets
}

// The smallest bucket bound under which 99% of the syncs between the two
// readings finished.
function p99Bound (before: Map<number, number>, after: Map<number, number>): number | undefined {
  const bounds = [...after.keys()].sort((a, b) => a - b)
  const count = (bound: number) => (after.get(bound) ?? 0) - (before.get(bound) ?? 0)
  const total = count(Infinity)
  if (total === 0) return undefined
  return bounds.find(bound => count(bound) >= 0.99 * total)
}

// ---- the run ---------------------------------------------------------------

const md: string[] = []
const out = (line = '') => {
  md.push(line)
  process.stdout.write(`${line}\n`)
}
const f1 = (n: number) => n.toFixed(1)
const f0 = (n: number) => Math.round(n).toLocaleString('en-US')

const loaderPinned = cores >= 2 && pin(process.pid, 1)
log(`cores: ${cores}; servers on core 0${haveTaskset ? '' : ' (taskset missing: NOT pinned)'}; autocannon ${loaderPinned ? 'on core 1' : 'NOT pinned'}`)

const bodies = new Map(sizes.map(size => [size, JSON.stringify(steadyRequest(size))]))
const hook = await startServer('hook', './hook-server.js')
const baseline = await startServer('baseline', './baseline-server.js')
await sleep(500)
const idleRssMB = { hook: procStatusKB(hook.pid, 'VmRSS') / 1024, baseline: procStatusKB(baseline.pid, 'VmRSS') / 1024 }

// The hook must answer these requests the way a steady cluster is answered.
for (const [size, body] of bodies) {
  const answer = await post(hook.port, body)
  if (answer.status !== 200) throw new Error(`size ${size}: hook answered ${answer.status}: ${answer.text}`)
  const response = JSON.parse(answer.text) as SyncResponse
  const pods = response.children.filter(c => c.kind === 'Pod').length
  if (pods !== size || response.resyncAfterSeconds !== RESYNC_STEADY || response.status.phase !== 'Running') {
    throw new Error(`size ${size}: not a steady answer: ${pods} pods, resync ${response.resyncAfterSeconds}, phase ${response.status.phase}`)
  }
  const echo = await post(baseline.port, body)
  if (echo.status !== 200 || echo.text.length !== body.length) throw new Error(`size ${size}: baseline did not echo the body`)
}

const rows: Array<{ size: number, bytes: number, hook: Measurement, baseline: Measurement, ratio: number, cpuRatio: number }> = []
for (const size of sizes) {
  const body = bodies.get(size)!
  log(`size ${size} (${f1(body.length / 1024)} KiB): ${rounds} rounds of ${roundSeconds} s each, hook and baseline in turn...`)
  rows.push({ size, bytes: body.length, ...await measurePair(hook, baseline, body) })
}
const largestBody = bodies.get(largest)!
const largestRow = rows.find(r => r.size === largest)!
const latencies: Array<{ concurrency: number, rate?: number, hook: Latency, baseline: Latency }> = []
// Open-loop rates over all the connections: 100 req/s is about what the
// clusters one replica serves send (2,000 × 0.05 syncs/s, see below); then a
// quarter and half of what the hook serves saturated.
const openLoopRates = args.has('rates')
  ? (args.get('rates') ?? '').split(',').map(Number)
  : [100, Math.round(0.25 * largestRow.hook.reqPerSec), Math.round(0.5 * largestRow.hook.reqPerSec)]
const latencyPlans: Array<{ concurrency: number, rate?: number }> = [
  { concurrency: 1 }, { concurrency: METACONTROLLER_WORKERS },
  ...openLoopRates.map(rate => ({ concurrency: connections, rate })),
]
for (const { concurrency, rate } of latencyPlans) {
  log(`size ${largest}: ${concurrency} connection(s)${rate !== undefined ? ` at ${rate} req/s` : ''}...`)
  // Fresh processes: memory taken under 100 connections is not given back,
  // and would hide what this concurrency needs.
  const [freshHook, freshBaseline] = [await startServer('hook', './hook-server.js'), await startServer('baseline', './baseline-server.js')]
  const measureOne = (server: Server) => rate === undefined ? latencyAt(server, largestBody, concurrency, 4) : latencyAtRate(server, largestBody, concurrency, rate, 6)
  latencies.push({ concurrency, ...(rate !== undefined ? { rate } : {}), hook: await measureOne(freshHook), baseline: await measureOne(freshBaseline) })
  await stopServer(freshHook)
  await stopServer(freshBaseline)
}
const hookService = (latencies[0] as { hook: Latency }).hook
const loaderDelay = (l: Latency) => l.loaderDelayP99 === undefined ? '–' : `${l.loaderDelayP99.toFixed(1)} / ${(l.loaderDelayMax ?? 0).toFixed(1)} ms`

out('## Hook vs. baseline')
out()
out(`\`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cores} cores (${cpuModel()}). Each server is one process pinned to one core (\`taskset -c 0\`); autocannon on the other core, ${connections} connections. Per size: ${warmup} s warm-up each, then ${rounds} rounds of ${roundSeconds} s, hook and baseline in turn. Ratio: the median of the rounds' hook/baseline req/s. CPU ratio: baseline CPU per request / hook CPU per request (user + system time of the server; what one dedicated core would serve). Latency is autocannon's (1 ms resolution), the median over the rounds; peak RSS is the server's VmHWM over the rounds.`)
out()
out('| size | body | hook req/s | baseline req/s | ratio | CPU ratio | hook CPU/req | hook p50 | hook p99 | baseline p99 | hook peak RSS | baseline peak RSS |')
out('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const r of rows) {
  out(`| ${r.size} | ${f1(r.bytes / 1024)} KiB | ${f0(r.hook.reqPerSec)} | ${f0(r.baseline.reqPerSec)} | ${r.ratio.toFixed(2)} | ${r.cpuRatio.toFixed(2)} | ${r.hook.cpuPerRequestMs.toFixed(3)} ms | ${r.hook.p50} ms | ${r.hook.p99} ms | ${r.baseline.p99} ms | ${f1(r.hook.peakRssMB)} MB | ${f1(r.baseline.peakRssMB)} MB |`)
}
out()
out(`Rounds at size ${largest}, hook/baseline req/s: ${largestRow.hook.rounds.map((h, i) => (h.requests / h.seconds / ((largestRow.baseline.rounds[i]!).requests / (largestRow.baseline.rounds[i]!).seconds)).toFixed(2)).join(', ')}.`)
out()
out(`Latency at size ${largest}, timed per request to the microsecond: one connection and Metacontroller's own concurrency (it runs ${METACONTROLLER_WORKERS} syncs at a time by default), each sending its next request when answered, 4 s; then ${connections} connections sending ${openLoopRates.join(', ')} req/s in all, whether answered or not (100 req/s is about the syncs of the clusters one replica serves; the others a quarter and half of the hook's saturated throughput), each timed from when it was due, 6 s after a 2 s lead-in, sent by a process of its own (its heap stays small, so its collections do not stall the load; loader delay: how late its event loop ran, p99 / max, for hook and baseline). Hook p99 inside: the bucket of the hook's own \`etcd_operator_sync_duration_seconds\` histogram (from reading the request to the answer sent) under which 99% of those syncs finished: the hook's time without the wait before it reads a request. Fresh server processes for each row.`)
out()
out('| connections | offered load | hook p50 | hook p99 | hook p99 inside | baseline p50 | baseline p99 | hook peak RSS | baseline peak RSS | loader delay |')
out('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const l of latencies) {
  out(`| ${l.concurrency} | ${l.rate === undefined ? 'closed loop' : `${f0(l.rate)} req/s`} | ${l.hook.p50.toFixed(2)} ms | ${l.hook.p99.toFixed(2)} ms | ${l.hook.ownP99Ms === undefined ? '–' : `≤ ${l.hook.ownP99Ms} ms`} | ${l.baseline.p50.toFixed(2)} ms | ${l.baseline.p99.toFixed(2)} ms | ${f1(l.hook.peakRssMB)} MB | ${f1(l.baseline.peakRssMB)} MB | ${loaderDelay(l.hook)}; ${loaderDelay(l.baseline)} |`)
}
out()
out(`Idle RSS after start: hook ${f1(idleRssMB.hook)} MB, baseline ${f1(idleRssMB.baseline)} MB. Both servers ran with ${Object.keys(serverEnv).length > 0 ? `the image's ${Object.entries(serverEnv).map(([k, v]) => `\`${k}=${v}\``).join(', ')}` : 'Node\'s default memory settings'}${serverFlags.length > 0 ? ` and \`${serverFlags.join(' ')}\`` : ''}.`)
out()
const allRounds = rows.flatMap(r => [...r.hook.rounds, ...r.baseline.rounds])
const busiest = Math.max(...allRounds.map(r => r.loaderCpu))
const saturated = Math.min(...allRounds.map(r => r.cpu / r.seconds))
const interference = Math.max(...allRounds.map(r => r.otherLoad))
const failures = sum(allRounds.map(r => r.failures))
out(`Checks: the servers used at least ${saturated.toFixed(2)} of their core in every round; autocannon at most ${busiest.toFixed(2)} of its own${busiest > 0.9 ? ' (close to saturated: the baseline figures may be low)' : ''}; other processes and the hypervisor (steal) took up to ${interference.toFixed(2)} of core 0 during a round${interference > 0.1 ? ' (**a busy machine: req/s are low and noisy; the ratios, measured in turns, less so**)' : ''}; ${failures} requests failed or timed out (30 s).`)

// ---- optional: soak, profile, etcd -----------------------------------------

let soakGrowthMB: number | undefined
let soakHeapGrowthMB = 0
if (args.has('soak')) {
  log(`soak: ${soakWarmup} s warm-up + ${soakSeconds} s at size ${largest}...`)
  const samples: Array<{ t: number, rssMB: number }> = []
  const start = performance.now()
  const sampler = setInterval(() => samples.push({ t: (performance.now() - start) / 1000, rssMB: procStatusKB(hook.pid, 'VmRSS') / 1024 }), 1000)
  const run = load(hook.port, largestBody, soakWarmup + soakSeconds)
  await sleep(soakWarmup * 1000)
  const heapAfterWarmup = await childMemory(hook)
  await run
  clearInterval(sampler)
  const heapAtEnd = await childMemory(hook)
  // RSS moves by several MB with every collection, so single samples say
  // little: compare the means of the first and the last 10 s, and the heap
  // that survives a full collection (what a leak would grow).
  const window = samples.filter(s => s.t >= soakWarmup)
  const first = window.filter(s => s.t < soakWarmup + 10)
  const final = window.filter(s => s.t >= (window.at(-1)?.t ?? 0) - 10)
  if (first.length === 0 || final.length === 0) throw new Error('no RSS samples')
  const mean = (points: typeof samples) => points.reduce((a, p) => a + p.rssMB, 0) / points.length
  soakGrowthMB = mean(final) - mean(first)
  soakHeapGrowthMB = (heapAtEnd.heapUsed - heapAfterWarmup.heapUsed) / 2 ** 20
  const signed = (n: number) => `${n >= 0 ? '+' : ''}${f1(n)}`
  out()
  out(`## Soak: ${soakSeconds} s at size ${largest}, ${connections} connections`)
  out()
  out(`Mean RSS over the first 10 s after a ${soakWarmup} s warm-up ${f1(mean(first))} MB, over the last 10 s ${f1(mean(final))} MB: ${signed(soakGrowthMB)} MB (min ${f1(Math.min(...window.map(s => s.rssMB)))}, max ${f1(Math.max(...window.map(s => s.rssMB)))} MB over the soak; slope ${f1(slope(window) * 60)} MB/min). Heap after a full GC: ${f1(heapAfterWarmup.heapUsed / 2 ** 20)} MB after warm-up, ${f1(heapAtEnd.heapUsed / 2 ** 20)} MB at the end (${signed(soakHeapGrowthMB)} MB).`)
}

if (args.has('profile')) {
  log(`profile: ${duration} s at size ${largest} under node --cpu-prof...`)
  const dir = mkdtempSync(join(tmpdir(), 'hook-prof-'))
  try {
    const profiled = await startServer('hook (profiled)', './hook-server.js', ['--cpu-prof', `--cpu-prof-dir=${dir}`])
    await load(profiled.port, largestBody, warmup)
    await load(profiled.port, largestBody, duration)
    await stopServer(profiled)
    const file = readdirSync(dir).find(name => name.endsWith('.cpuprofile'))
    if (file === undefined) throw new Error('no profile written')
    out()
    out(`## CPU profile of the hook, size ${largest}`)
    out()
    out('```')
    out(formatProfile(summariseProfile(join(dir, file))))
    out('```')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await stopServer(hook)
await stopServer(baseline)

let etcd: EtcdFigures | undefined
const wantEtcd = args.has('etcd') || (!args.has('no-etcd') && existsSync(ETCD))
if (wantEtcd) {
  if (!existsSync(ETCD)) throw new Error(`--etcd: ${ETCD} not found (apt-get install etcd-server)`)
  log('etcd: three members on 127.0.0.1, timing EtcdGateway.observe()...')
  etcd = await measureObserve(ETCD, [
    { endpoints: 3, calls: 500, kept: false },
    { endpoints: 9, calls: 200, kept: false },
    { endpoints: 9, calls: 200, kept: true },
  ])
  out()
  out(`## One real membership read (etcd ${etcd.version}, three members on 127.0.0.1)`)
  out()
  out('| endpoints | connections | calls | mean | p50 | p99 | hook CPU per call |')
  out('|---:|---|---:|---:|---:|---:|---:|')
  for (const r of etcd.results) out(`| ${r.endpoints} | ${r.kept ? 'kept from the last read' : 'none kept'} | ${r.calls} | ${r.meanMs.toFixed(2)} ms | ${r.p50Ms.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms | ${r.cpuMsPerCall.toFixed(2)} ms |`)
  out()
  out('`EtcdGateway.observe()` asks every endpoint for its status, then the answering members for the member list (on the status\'s connection): 2 × endpoints HTTP requests. Connections idle for 3 s close, so a steady cluster (synced every 30 s) connects afresh and a converging one (every 2 s) finds them kept. The 9-endpoint rows repeat the three members, to price a size-9 cluster\'s read.')

  const row = rows.find(r => r.size === largest)
  // Steady clusters, which are nearly all of them, keep no connections.
  const read = etcd.results.find(r => r.endpoints === 9 && !r.kept) ?? etcd.results[0]
  if (row !== undefined && read !== undefined) {
    const perCluster = 1 / RESYNC_STEADY + 1 / RESYNC_PERIOD_SECONDS
    const cpuPerSync = row.hook.cpuPerRequestMs / 1000 + read.cpuMsPerCall / 1000
    const byCpu = CPU_BUDGET / cpuPerSync / perCluster
    const wallPerSync = (hookService.p99 + read.p99Ms) / 1000
    const byWorkers = METACONTROLLER_WORKERS / wallPerSync / perCluster
    out()
    out('## Clusters per hook replica')
    out()
    out(`A steady cluster is synced every ${RESYNC_STEADY} s (the hook's resyncAfterSeconds) and, counted separately to be conservative, every ${RESYNC_PERIOD_SECONDS} s by Metacontroller's resyncPeriodSeconds: ${perCluster.toFixed(3)} syncs/s per cluster. Figures for size-${largest} clusters:`)
    out()
    out(`- CPU: one sync costs the hook ${row.hook.cpuPerRequestMs.toFixed(2)} ms of CPU plus ${read.cpuMsPerCall.toFixed(2)} ms of CPU for the etcd read, whose network wait overlaps other syncs: ${(cpuPerSync * 1000).toFixed(2)} ms. At ${CPU_BUDGET * 100}% of one core (the rest for bursts: a restart resyncs every cluster at once, converging clusters resync every 2 s): **${f0(byCpu)} clusters**.`)
    out(`- Metacontroller runs ${METACONTROLLER_WORKERS} syncs at a time by default (\`--workers\`), each waiting for the hook: p99 ${hookService.p99.toFixed(2)} ms service time + p99 ${read.p99Ms.toFixed(2)} ms etcd read on loopback = ${(wallPerSync * 1000).toFixed(2)} ms, so at most ${f0(METACONTROLLER_WORKERS / wallPerSync)} syncs/s: ${f0(byWorkers)} clusters before its workers, not the hook, are the limit. Real network round trips lengthen the etcd read and lower this bound; raise \`--workers\` for more.`)
    out()
    out(`So one replica on one core serves about **${f0(roundDown(Math.min(byCpu, byWorkers)))} clusters of size ${largest}** at the default resync (the lower bound, rounded down to two digits).`)
  }
}

// ---- targets ---------------------------------------------------------------

const target = rows.find(r => r.size === largest)
out()
out('## Targets (size 9)')
out()
if (target !== undefined && largest === 9) {
  const verdict = (ok: boolean) => ok ? 'met' : '**missed**'
  out(`- throughput ≥ ${TARGETS.ratio} × baseline: ${target.ratio.toFixed(2)} (median of ${rounds} paired rounds; CPU per request gives ${target.cpuRatio.toFixed(2)}): ${verdict(target.ratio >= TARGETS.ratio)}`)
  const openLoop = latencies.filter(l => l.rate !== undefined)
  const met = openLoop.filter(l => l.hook.p99 < TARGETS.p99Ms).map(l => f0(l.rate ?? 0))
  const missed = openLoop.filter(l => l.hook.p99 >= TARGETS.p99Ms).map(l => f0(l.rate ?? 0))
  out(`- p99 < ${TARGETS.p99Ms} ms at ${connections} connections: ${openLoop.map(l => `${l.hook.p99.toFixed(2)} ms at ${f0(l.rate ?? 0)} req/s (baseline ${l.baseline.p99.toFixed(2)} ms)`).join('; ')}: ${missed.length === 0 ? 'met at every offered rate' : met.length === 0 ? '**missed** at every offered rate' : `met at ${met.join(', ')} req/s, **missed** at ${missed.join(', ')} req/s`}; inside the hook (its sync-duration histogram) ${openLoop.map(l => l.hook.ownP99Ms === undefined ? '–' : `≤ ${l.hook.ownP99Ms} ms`).join(', ')}, so the rest is the wait before the hook reads a request, which grows with the offered load and with every stall of the machine (the baseline's p99 shows the machine's share). Saturated (every connection waiting for its answer, as many requests as the core can serve) it is ${target.hook.p99} ms, which is queueing: by Little's law ${connections} connections on one core wait ${connections} / throughput on average (${f0(1000 * connections / target.hook.reqPerSec)} ms here; ${f0(1000 * connections / target.baseline.reqPerSec)} ms for the baseline), so no server under 20,000 req/s meets it saturated. At Metacontroller's ${METACONTROLLER_WORKERS} connections: p99 ${latencies.find(l => l.concurrency === METACONTROLLER_WORKERS)?.hook.p99.toFixed(2)} ms; one connection: ${hookService.p99.toFixed(2)} ms.`)
  const atWorkers = latencies.find(l => l.concurrency === METACONTROLLER_WORKERS)?.hook.peakRssMB ?? NaN
  out(`- peak RSS < ${TARGETS.rssMB} MB: ${f1(target.hook.peakRssMB)} MB at ${connections} connections: ${verdict(target.hook.peakRssMB < TARGETS.rssMB)} (${f1(atWorkers)} MB at ${METACONTROLLER_WORKERS}; idle ${f1(idleRssMB.hook)} MB; the echo baseline ${f1(target.baseline.peakRssMB)} MB)`)
  out(soakGrowthMB === undefined
    ? '- no memory growth over a 60 s soak: not run (`npm run bench -- --soak`)'
    : `- no memory growth over a ${soakSeconds} s soak: ${soakGrowthMB >= 0 ? '+' : ''}${f1(soakGrowthMB)} MB mean RSS, ${soakHeapGrowthMB >= 0 ? '+' : ''}${f1(soakHeapGrowthMB)} MB heap after a full GC: ${verdict(soakGrowthMB < 5 && soakHeapGrowthMB < 1)} (under 5 MB of RSS and 1 MB of heap counts as none)`)
} else {
  out('- size 9 not measured in this run')
}
out()
out(`Command: \`npm run bench${process.argv.slice(2).length > 0 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\``)

writeFileSync(RESULTS, md.join('\n') + '\n')
log(`written: ${RESULTS}`)
process.exit(0)

function slope (points: Array<{ t: number, rssMB: number }>): number {
  const n = points.length
  if (n < 2) return 0
  const mt = points.reduce((a, p) => a + p.t, 0) / n
  const mr = points.reduce((a, p) => a + p.rssMB, 0) / n
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.rssMB - mr), 0)
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0)
  return den === 0 ? 0 : num / den
}

// 1234 → 1200: no more precision than the estimate has.
function roundDown (n: number): number {
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(n)) - 1)
  return Math.floor(n / unit) * unit
}

function imageMemoryEnv (): Record<string, string> {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8')
  const env: Record<string, string> = {}
  for (const name of ['NODE_OPTIONS', 'MALLOC_ARENA_MAX']) {
    const value = new RegExp(`${name}=(\\S+)`).exec(dockerfile)?.[1]
    if (value !== undefined) env[name] = value
  }
  return env
}

function cpuModel (): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown CPU'
  } catch {
    return 'unknown CPU'
  }
}
