// The cost of one real membership read: EtcdGateway.observe() (status of
// every endpoint, then member lists) against a three-member etcd on
// 127.0.0.1 ports, in a temporary data directory removed afterwards.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { EtcdGateway } from '../hooks/etcd/gateway.js'

export interface ObserveCost {
  endpoints: number
  calls: number
  // Connections kept from the previous read (a cluster synced every 2 s
  // while it converges) or none (a steady cluster, synced every 30 s, after
  // the idle ones closed).
  kept: boolean
  meanMs: number
  p50Ms: number
  p99Ms: number
  // CPU time of the calling process per observe(): what it costs the hook.
  cpuMsPerCall: number
}

export interface EtcdFigures {
  version: string
  results: ObserveCost[]
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')))
    })
  })
}

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN
}

// `plans` lists how many endpoints each measurement passes, how many calls
// it makes and whether connections are kept between calls; endpoints beyond
// three repeat the members, so a size-9 observe (9 status and 9 member-list
// requests) is measured on 3 members.
export async function measureObserve (etcd: string, plans: Array<{ endpoints: number, calls: number, kept: boolean }>): Promise<EtcdFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-bench-'))
  const processes: ChildProcess[] = []
  try {
    const members = []
    for (let i = 0; i < 3; i++) members.push({ name: `bench-${i}`, client: await freePort(), peer: await freePort() })
    const initialCluster = members.map(m => `${m.name}=http://127.0.0.1:${m.peer}`).join(',')
    // etcd reads ETCD_* variables as flags: pass none of ours.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD')))
    for (const m of members) {
      processes.push(spawn(etcd, [
        `--name=${m.name}`, `--data-dir=${join(dir, m.name)}`,
        `--listen-client-urls=http://127.0.0.1:${m.client}`, `--advertise-client-urls=http://127.0.0.1:${m.client}`,
        `--listen-peer-urls=http://127.0.0.1:${m.peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-cluster=${initialCluster}`, '--initial-cluster-state=new', '--initial-cluster-token=etcd-bench',
        '--log-level=error',
      ], { stdio: 'ignore', env }))
    }
    const endpoints = members.map(m => `http://127.0.0.1:${m.client}`)
    const gateway = new EtcdGateway({ requestTimeoutMs: 1500 })

    // Ready: every member answers and one leads.
    const deadline = Date.now() + 30_000
    for (;;) {
      const seen = await gateway.observe({ endpoints })
      if (seen.reachable && seen.leaderId !== undefined && seen.members.length === 3) break
      if (Date.now() > deadline) throw new Error(`etcd did not form a cluster in 30 s: ${JSON.stringify(seen)}`)
      await sleep(200)
    }

    const results: ObserveCost[] = []
    for (const plan of plans) {
      const target = { endpoints: Array.from({ length: plan.endpoints }, (_, i) => endpoints[i % endpoints.length]!) }
      for (let i = 0; i < 20; i++) await gateway.observe(target) // warm up
      const times: number[] = []
      const cpu = process.cpuUsage()
      for (let i = 0; i < plan.calls; i++) {
        // A gateway of its own: no connection kept from the call before.
        const reader = plan.kept ? gateway : new EtcdGateway({ requestTimeoutMs: 1500 })
        const start = performance.now()
        const seen = await reader.observe(target)
        times.push(performance.now() - start)
        if (!plan.kept) reader.close()
        if (!seen.reachable) throw new Error(`observe failed during the measurement: ${seen.error}`)
      }
      const used = process.cpuUsage(cpu)
      times.sort((a, b) => a - b)
      results.push({
        endpoints: plan.endpoints,
        calls: plan.calls,
        kept: plan.kept,
        meanMs: times.reduce((a, b) => a + b, 0) / times.length,
        p50Ms: percentile(times, 0.5),
        p99Ms: percentile(times, 0.99),
        cpuMsPerCall: (used.user + used.system) / 1000 / plan.calls,
      })
    }
    gateway.close()
    return { version: await etcdVersion(etcd), results }
  } finally {
    for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
    await Promise.all(processes.map(p => p.exitCode === null ? new Promise(resolve => p.once('exit', resolve)) : Promise.resolve()))
    rmSync(dir, { recursive: true, force: true })
  }
}

async function etcdVersion (etcd: string): Promise<string> {
  return new Promise(resolve => {
    const child = spawn(etcd, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.once('exit', () => resolve(/etcd Version: (\S+)/.exec(out)?.[1] ?? 'unknown'))
    child.once('error', () => resolve('unknown'))
  })
}
