// The production entry point, listening for real and driven by curl with the
// request files the README shows. The second half runs a real three-member
// etcd and the hook inside a network namespace of its own, where the
// members' DNS names resolve through the namespace's hosts file, exactly as
// pods resolve them through the cluster's DNS.
import t from 'tap'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { SyncResponse } from '../hooks/api/cluster.js'
import { startLoopbackCluster, waitFor } from './helpers/loopback-cluster.js'
import { ETCDCTL, missingForNamespaces, skipUnless } from './helpers/requirements.js'

const run = promisify(execFile)
const ROOT = new URL('..', import.meta.url).pathname
const EXAMPLES = join(ROOT, 'manifests/examples')
const SERVER = join(ROOT, 'dist/server/main.js')

// The server is the built one: `npm test` builds first (pretest).
if (!existsSync(SERVER)) await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT })

function startServer (port: number, prefix: string[] = []): { child: ChildProcess, output: () => string, exited: Promise<number | null> } {
  const [command, ...args] = [...prefix, process.execPath, SERVER]
  const child = spawn(command, args, { env: { ...process.env, PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { output += d.toString() })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  return { child, output: () => output, exited }
}

// curl -s -w '\n%{http_code}' -H 'content-type: application/json' --data @file URL
async function curlSync (url: string, file: string, prefix: string[] = []): Promise<{ status: number, body: unknown }> {
  const [command, ...args] = [...prefix, 'curl', '-s', '--max-time', '15', '-w', '\n%{http_code}', '-H', 'content-type: application/json', '--data', `@${join(EXAMPLES, file)}`, url]
  const { stdout } = await run(command, args)
  const newline = stdout.lastIndexOf('\n')
  return { status: Number(stdout.slice(newline + 1)), body: JSON.parse(stdout.slice(0, newline)) }
}

t.test('curl against the listening server', async t => {
  const port = 18000 + (process.pid % 1000)
  const server = startServer(port)
  await waitFor('the server to listen', 20_000, async () => {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
    if (!ready.ok) throw new Error(`/readyz answered ${ready.status}`)
  })

  const seed = await curlSync(`http://127.0.0.1:${port}/sync`, 'sync-new-cluster.json')
  t.equal(seed.status, 200)
  const response = seed.body as SyncResponse
  t.same(response.children.filter(c => c.kind === 'Pod').map(c => c.metadata.name), ['example-etcd-cluster-0'])
  t.equal(response.status.lastAction, 'created seed member example-etcd-cluster-0')

  const invalid = await curlSync(`http://127.0.0.1:${port}/sync`, 'sync-invalid.json')
  t.equal(invalid.status, 422)
  t.match(invalid.body, { message: /spec\/size must be >= 1/ })

  server.child.kill('SIGTERM')
  await waitFor('the server to exit on SIGTERM', 20_000, async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) throw new Error('still running')
  })
  t.equal(await server.exited, 0, 'SIGTERM: a clean exit')
  t.match(server.output(), /"rule":"bootstrap"/, 'the sync that changed something was logged with its rule')
  t.match(server.output(), /"cluster":"default\/example-etcd-cluster"/, 'and its cluster')
})

t.test('against a real etcd cluster, in a network namespace', skipUnless(missingForNamespaces()), async t => {
  const cluster = await startLoopbackCluster(t, { cluster: 'example-etcd-cluster' })
  await cluster.startHook()
  const example = (file: string) => JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as unknown
  const members = ['example-etcd-cluster-0', 'example-etcd-cluster-1', 'example-etcd-cluster-2']
  const memberList = async () => (await cluster.inNs(ETCDCTL, [`--endpoints=${cluster.endpoints.join(',')}`, 'member', 'list'])).stdout

  // A running cluster at its size: steady, and the status says who leads.
  const steady = await cluster.curlJSON('/sync', example('sync-running-cluster.json'))
  t.equal(steady.status, 200)
  const status = (steady.body as SyncResponse).status
  t.equal(status.phase, 'Running')
  t.ok(members.includes(status.leader ?? ''), `leader ${status.leader} is a member`)
  t.match(status.clusterID, /^[0-9a-f]+$/)
  t.equal((steady.body as SyncResponse).resyncAfterSeconds, 30)

  // Size 4: the hook adds a learner to the real cluster and asks for its pod.
  // etcd refuses additions until its members have been connected for 5 s
  // ("unhealthy cluster"); like Metacontroller, call again until it moves.
  const refused: Array<{ status: number, body: unknown }> = []
  let grow = { status: 0, body: undefined as unknown }
  await waitFor('etcd to accept the new learner (the hook\'s write not refused)', 60_000, async () => {
    grow = await cluster.curlJSON('/sync', example('sync-scale-up.json'))
    const lastAction = String((grow.body as SyncResponse).status.lastAction)
    if (!lastAction.includes('failed; retrying')) return
    refused.push(grow)
    throw new Error(`still refused: ${lastAction}`)
  })
  t.comment(`refused ${refused.length} times first`)
  t.same(refused.filter(r => r.status !== 200), [], 'a refused write is still a 200 ...')
  t.same(refused.filter(r => (r.body as SyncResponse).children.filter(c => c.kind === 'Pod').length !== 3), [], '... that keeps everything and asks for no pod without its member')
  t.equal(grow.status, 200)
  t.equal((grow.body as SyncResponse).status.lastAction, 'added member example-etcd-cluster-3 as a learner')
  const pods = (grow.body as SyncResponse).children.filter(c => c.kind === 'Pod').map(c => c.metadata.name)
  t.same(pods, [...members, 'example-etcd-cluster-3'])
  t.match(await memberList(), /unstarted, , http:\/\/example-etcd-cluster-3\.example-etcd-cluster\.default\.svc:2380, , true/, 'etcd has the new learner')

  // The same request again: the learner exists, its pod is asked for again,
  // and no second member is added.
  const again = await cluster.curlJSON('/sync', example('sync-scale-up.json'))
  t.same((again.body as SyncResponse).children.filter(c => c.kind === 'Pod').map(c => c.metadata.name), pods)
  t.equal((await memberList()).trim().split('\n').length, 4, 'still four members')
})
