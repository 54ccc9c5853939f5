// The production entry point, listening for real and driven by curl with the
// request files the README shows. The second half runs a real three-member
// etcd and the hook inside a network namespace of its own, where the
// members' DNS names resolve through the namespace's hosts file, exactly as
// pods resolve them through the cluster's DNS.
import t from 'tap'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { SyncResponse } from '../hooks/schema.js'
import { ETCD, ETCDCTL, missingForNamespaces, skipUnless } from './helpers/requirements.js'

const run = promisify(execFile)
const ROOT = new URL('..', import.meta.url).pathname
const EXAMPLES = join(ROOT, 'manifests/examples')
const SERVER = join(ROOT, 'dist/server.js')
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

// The server is the built one: `npm test` builds first (pretest).
if (!existsSync(SERVER)) await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT })

function startServer (port: number, prefix: string[] = []): { child: ChildProcess, output: () => string, exited: Promise<number | null> } {
  const [command, ...args] = [...prefix, process.execPath, SERVER]
  const child = spawn(command as string, args, { env: { ...process.env, PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { output += d.toString() })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  return { child, output: () => output, exited }
}

async function waitFor (what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(200)
  }
}

// curl -s -w '\n%{http_code}' -H 'content-type: application/json' --data @file URL
async function curlSync (url: string, file: string, prefix: string[] = []): Promise<{ status: number, body: unknown }> {
  const [command, ...args] = [...prefix, 'curl', '-s', '--max-time', '15', '-w', '\n%{http_code}', '-H', 'content-type: application/json', '--data', `@${join(EXAMPLES, file)}`, url]
  const { stdout } = await run(command as string, args)
  const newline = stdout.lastIndexOf('\n')
  return { status: Number(stdout.slice(newline + 1)), body: JSON.parse(stdout.slice(0, newline)) }
}

t.test('curl against the listening server', async t => {
  const port = 18000 + (process.pid % 1000)
  const server = startServer(port)
  await waitFor('the server to listen', 20_000, async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok)

  const seed = await curlSync(`http://127.0.0.1:${port}/sync`, 'sync-new-cluster.json')
  t.equal(seed.status, 200)
  const response = seed.body as SyncResponse
  t.same(response.children.filter(c => c.kind === 'Pod').map(c => c.metadata.name), ['example-etcd-cluster-0'])
  t.equal(response.status.lastAction, 'created seed member example-etcd-cluster-0')

  const invalid = await curlSync(`http://127.0.0.1:${port}/sync`, 'sync-invalid.json')
  t.equal(invalid.status, 422)
  t.match(invalid.body, { message: /spec\/size must be >= 1/ })

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0, 'SIGTERM: a clean exit')
  t.match(server.output(), /"rule":"bootstrap"/, 'the sync that changed something was logged with its rule')
  t.match(server.output(), /"cluster":"default\/example-etcd-cluster"/, 'and its cluster')
})

const missing = missingForNamespaces()
t.test('against a real etcd cluster, in a network namespace', skipUnless(missing), async t => {
  const ns = `eosrv-${process.pid}`
  const netnsDir = `/etc/netns/${ns}`
  const dataDir = mkdtempSync(join(tmpdir(), 'eosrv-'))
  const members = [0, 1, 2].map(o => ({ name: `example-etcd-cluster-${o}`, ip: `127.0.0.${11 + o}` }))
  const host = (name: string) => `${name}.example-etcd-cluster.default.svc`
  const inNs = ['ip', 'netns', 'exec', ns]
  const processes: ChildProcess[] = []
  t.teardown(async () => {
    for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
    await sleep(200)
    await run('ip', ['netns', 'delete', ns]).catch(() => {})
    rmSync(netnsDir, { recursive: true, force: true })
    rmSync(dataDir, { recursive: true, force: true })
  })

  // A namespace with only loopback: nothing sent here can leave it. Its
  // hosts file plays the cluster's DNS; its resolver points nowhere.
  await run('ip', ['netns', 'add', ns])
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  mkdirSync(netnsDir, { recursive: true })
  writeFileSync(join(netnsDir, 'hosts'), ['127.0.0.1 localhost', ...members.map(m => `${m.ip} ${host(m.name)}`)].join('\n') + '\n')
  writeFileSync(join(netnsDir, 'resolv.conf'), 'nameserver 127.0.0.1\n')

  const initialCluster = members.map(m => `${m.name}=http://${host(m.name)}:2380`).join(',')
  for (const m of members) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')))
    processes.push(spawn('ip', ['netns', 'exec', ns, ETCD,
      `--name=${m.name}`, `--data-dir=${join(dataDir, m.name)}`,
      `--listen-client-urls=http://${m.ip}:2379`, `--advertise-client-urls=http://${host(m.name)}:2379`,
      `--listen-peer-urls=http://${m.ip}:2380`, `--initial-advertise-peer-urls=http://${host(m.name)}:2380`,
      `--initial-cluster=${initialCluster}`, '--initial-cluster-state=new', '--initial-cluster-token=eosrv',
    ], { stdio: 'ignore', env }))
  }
  const endpoints = members.map(m => `http://${host(m.name)}:2379`).join(',')
  await waitFor('etcd to elect a leader', 30_000, async () => {
    await run(inNs[0] as string, [...inNs.slice(1), ETCDCTL, `--endpoints=${endpoints}`, 'endpoint', 'health'])
    return true
  })

  const server = startServer(8080, inNs)
  processes.push(server.child)
  await waitFor('the server to listen in the namespace', 20_000, async () => {
    await run(inNs[0] as string, [...inNs.slice(1), 'curl', '-sf', 'http://127.0.0.1:8080/readyz'])
    return true
  })

  // A running cluster at its size: steady, and the status says who leads.
  const steady = await curlSync('http://127.0.0.1:8080/sync', 'sync-running-cluster.json', inNs)
  t.equal(steady.status, 200)
  const status = (steady.body as SyncResponse).status
  t.equal(status.phase, 'Running')
  t.ok(members.some(m => m.name === status.leader), `leader ${status.leader} is a member`)
  t.match(status.clusterID, /^[0-9a-f]+$/)
  t.equal((steady.body as SyncResponse).resyncAfterSeconds, 30)

  // Size 4: the hook adds a learner to the real cluster and asks for its pod.
  // etcd refuses additions until its members have been connected for 5 s
  // ("unhealthy cluster"); like Metacontroller, call again until it moves.
  let grow = await curlSync('http://127.0.0.1:8080/sync', 'sync-scale-up.json', inNs)
  for (let tries = 0; /failed; retrying/.test(String((grow.body as SyncResponse).status.lastAction)) && tries < 20; tries++) {
    t.equal(grow.status, 200, 'a refused write is still a 200 that keeps everything')
    t.same((grow.body as SyncResponse).children.filter(c => c.kind === 'Pod').length, 3, 'and asks for no pod without its member')
    await sleep(1000)
    grow = await curlSync('http://127.0.0.1:8080/sync', 'sync-scale-up.json', inNs)
  }
  t.equal(grow.status, 200)
  t.equal((grow.body as SyncResponse).status.lastAction, 'added member example-etcd-cluster-3 as a learner')
  const pods = (grow.body as SyncResponse).children.filter(c => c.kind === 'Pod').map(c => c.metadata.name)
  t.same(pods, [...members.map(m => m.name), 'example-etcd-cluster-3'])
  const { stdout } = await run(inNs[0] as string, [...inNs.slice(1), ETCDCTL, `--endpoints=${endpoints}`, 'member', 'list'])
  t.match(stdout, /unstarted, , http:\/\/example-etcd-cluster-3\.example-etcd-cluster\.default\.svc:2380, , true/, 'etcd has the new learner')

  // The same request again: the learner exists, its pod is asked for again,
  // and no second member is added.
  const again = await curlSync('http://127.0.0.1:8080/sync', 'sync-scale-up.json', inNs)
  t.same((again.body as SyncResponse).children.filter(c => c.kind === 'Pod').map(c => c.metadata.name), pods)
  const after = await run(inNs[0] as string, [...inNs.slice(1), ETCDCTL, `--endpoints=${endpoints}`, 'member', 'list'])
  t.equal(after.stdout.trim().split('\n').length, 4, 'still four members')
})
