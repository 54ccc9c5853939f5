// A real etcd cluster and, beside it, the hook's production entry point, in
// a network namespace that has only loopback: nothing sent in it can leave
// it. The namespace's hosts file plays the cluster DNS (member names map to
// 127.0.0.x addresses), and its resolver points nowhere. Everything is
// removed at teardown, also when the test fails.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { ETCD, ETCDCTL } from './requirements.js'

export const run = promisify(execFile)
export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const ROOT = new URL('../..', import.meta.url).pathname
const SERVER = join(ROOT, 'dist/server/main.js')

export interface MemberTLS {
  // Directories with the CoreOS file names (scripts/make-tls-certs.sh).
  peerDir: string
  serverDir: string
  operatorDir: string
}

export interface LoopbackCluster {
  inNs: (command: string, args: string[]) => Promise<{ stdout: string, stderr: string }>
  host: (member: string) => string
  endpoints: string[]
  startHook: () => Promise<ChildProcess>
  curlJSON: (path: string, body: unknown) => Promise<{ status: number, body: unknown }>
}

export async function waitFor (what: string, timeoutMs: number, probe: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await probe()
      return
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${String(error)}`, { cause: error })
    }
    await sleep(250)
  }
}

export interface LoopbackNamespace {
  ns: string
  work: string // a temp dir, removed at teardown
  processes: ChildProcess[] // killed at teardown
  inNs: (command: string, args: string[]) => Promise<{ stdout: string, stderr: string }>
}

// A namespace with only loopback, `hosts` as its DNS and a resolver that
// points nowhere; it, its files and every process in `processes` go at
// teardown, also when the test fails.
export async function loopbackNamespace (t: Test, prefix: string, hosts: string[]): Promise<LoopbackNamespace> {
  const ns = `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`
  const netnsDir = `/etc/netns/${ns}`
  const work = mkdtempSync(join(tmpdir(), `${prefix}-`))
  const processes: ChildProcess[] = []
  const running = () => processes.filter(p => p.exitCode === null && p.signalCode === null)
  t.teardown(async () => {
    for (const p of running()) p.kill('SIGKILL')
    try {
      // Gone before their files go (a live etcd still writes to its data dir).
      await waitFor('the namespace\'s processes to exit', 10_000, async () => {
        if (running().length > 0) throw new Error(`${running().length} still running`)
      })
    } finally {
      await run('ip', ['netns', 'delete', ns]).catch(() => {})
      rmSync(netnsDir, { recursive: true, force: true })
      rmSync(work, { recursive: true, force: true })
    }
  })
  await run('ip', ['netns', 'add', ns])
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  mkdirSync(netnsDir, { recursive: true })
  writeFileSync(join(netnsDir, 'hosts'), ['127.0.0.1 localhost', ...hosts].join('\n') + '\n')
  writeFileSync(join(netnsDir, 'resolv.conf'), 'nameserver 127.0.0.1\n')
  const inNs = (command: string, args: string[]) => run('ip', ['netns', 'exec', ns, command, ...args])
  return { ns, work, processes, inNs }
}

export async function startLoopbackCluster (t: Test, options: { cluster: string, tls?: MemberTLS }): Promise<LoopbackCluster> {
  if (!existsSync(SERVER)) await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT })
  const members = [0, 1, 2].map(o => ({ name: `${options.cluster}-${o}`, ip: `127.0.0.${11 + o}` }))
  const host = (member: string) => `${member}.${options.cluster}.default.svc`
  const { ns, work, processes, inNs } = await loopbackNamespace(t, 'eolo', members.map(m => `${m.ip} ${host(m.name)}`))

  const tls = options.tls
  const peerScheme = tls !== undefined ? 'https' : 'http'
  const clientScheme = tls !== undefined ? 'https' : 'http'
  const tlsFlags = tls === undefined
    ? []
    : [
        '--peer-client-cert-auth=true', `--peer-trusted-ca-file=${tls.peerDir}/peer-ca.crt`,
        `--peer-cert-file=${tls.peerDir}/peer.crt`, `--peer-key-file=${tls.peerDir}/peer.key`,
        '--client-cert-auth=true', `--trusted-ca-file=${tls.serverDir}/server-ca.crt`,
        `--cert-file=${tls.serverDir}/server.crt`, `--key-file=${tls.serverDir}/server.key`,
      ]
  const initialCluster = members.map(m => `${m.name}=${peerScheme}://${host(m.name)}:2380`).join(',')
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')))
  for (const m of members) {
    processes.push(spawn('ip', ['netns', 'exec', ns, ETCD,
      `--name=${m.name}`, `--data-dir=${join(work, m.name)}`,
      `--listen-client-urls=${clientScheme}://${m.ip}:2379`, `--advertise-client-urls=${clientScheme}://${host(m.name)}:2379`,
      `--listen-peer-urls=${peerScheme}://${m.ip}:2380`, `--initial-advertise-peer-urls=${peerScheme}://${host(m.name)}:2380`,
      `--initial-cluster=${initialCluster}`, '--initial-cluster-state=new', `--initial-cluster-token=${ns}`,
      ...tlsFlags,
    ], { stdio: 'ignore', env }))
  }
  const endpoints = members.map(m => `${clientScheme}://${host(m.name)}:2379`)
  const clientCert = tls === undefined
    ? []
    : [`--cacert=${tls.operatorDir}/etcd-client-ca.crt`, `--cert=${tls.operatorDir}/etcd-client.crt`, `--key=${tls.operatorDir}/etcd-client.key`]
  await waitFor('etcd to elect a leader', 30_000, () => inNs(ETCDCTL, [`--endpoints=${endpoints.join(',')}`, ...clientCert, 'endpoint', 'health']))

  const startHook = async () => {
    const hook = spawn('ip', ['netns', 'exec', ns, process.execPath, SERVER], { env: { ...process.env, PORT: '8080', LOG_LEVEL: 'warn' }, stdio: 'ignore' })
    processes.push(hook)
    await waitFor('the hook to listen', 20_000, () => inNs('curl', ['-sf', 'http://127.0.0.1:8080/readyz']))
    return hook
  }
  let requests = 0
  const curlJSON = async (path: string, body: unknown) => {
    // One file per call: two calls in the same millisecond must not share one.
    const file = join(work, `request-${++requests}.json`)
    writeFileSync(file, JSON.stringify(body))
    const { stdout } = await inNs('curl', ['-s', '--max-time', '15', '-w', '\n%{http_code}', '-H', 'content-type: application/json', '--data', `@${file}`, `http://127.0.0.1:8080${path}`])
    const newline = stdout.lastIndexOf('\n')
    return { status: Number(stdout.slice(newline + 1)), body: JSON.parse(stdout.slice(0, newline)) as unknown }
  }
  return { inNs, host, endpoints, startHook, curlJSON }
}
