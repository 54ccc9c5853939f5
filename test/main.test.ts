// The production entry point (dist/server/main.js) started as the chart
// starts it: a bad setting ends it with one line; with TLS, client
// certificates and HOOK_PROBE_PORT, the kubelet's probes work over plain
// HTTP while /sync stays behind the certificate and the token.
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { syncRequest } from './helpers/fixtures.js'

const run = promisify(execFile)
const ROOT = new URL('..', import.meta.url).pathname
const SERVER = join(ROOT, 'dist/server/main.js')
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

// The server is the built one: `npm test` builds first (pretest).
if (!existsSync(SERVER)) await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT })

const dir = mkdtempSync(join(tmpdir(), 'eomain-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

// Only the variables given (and PATH): nothing from the test's environment.
function start (env: Record<string, string>) {
  const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  return { child, exited, stdout: () => stdout, stderr: () => stderr }
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

t.test('small (a): a bad variable ends the server with one line naming it and its range', async t => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /PORT=abc: want a whole number from 1 to 65535/],
    [{ PORT: '0x50' }, /PORT=0x50: want a whole number from 1 to 65535/],
    [{ PORT: '70000' }, /PORT=70000: want a whole number from 1 to 65535/],
    [{ ETCD_REQUEST_TIMEOUT_MS: '-1' }, /ETCD_REQUEST_TIMEOUT_MS=-1: want a whole number from 100 to 4000/],
    [{ HOOK_PROBE_PORT: 'x' }, /HOOK_PROBE_PORT=x: want a whole number from 1 to 65535/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL=loud: want one of fatal, error/],
    [{ HOOK_BEARER_TOKEN_FILE: join(dir, 'missing-token') }, /HOOK_BEARER_TOKEN_FILE=\S+missing-token: cannot read it \(ENOENT\)/],
  ]
  for (const [env, message] of cases) {
    const name = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')
    // On a free port, should it start after all.
    const server = start({ PORT: String(await freePort()), ...env })
    // A server that starts anyway is killed (and fails); the bound is wide:
    // Node's start-up on a busy machine takes seconds, a refusal exits at once.
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 30_000)
    const code = await server.exited
    clearTimeout(timer)
    t.ok(code !== null && code !== 0, `${name}: exits non-zero by itself`)
    t.equal(server.stderr().trimEnd().split('\n').length, 1, `${name}: one line`)
    t.match(server.stderr(), message, `${name}: names the variable and what is allowed`)
    t.notMatch(server.stderr(), /^\s+at /m, `${name}: no stack trace`)
  }
})

// GET or POST over http or https; resolves with the status, rejects when
// the connection fails (a refused handshake).
function call (options: { https: boolean, port: number, path: string, method?: string, body?: string, headers?: Record<string, string>, cert?: { cert: string, key: string }, ca?: string }): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const common = { host: '127.0.0.1', port: options.port, path: options.path, method: options.method ?? 'GET', headers: options.headers ?? {} }
    const done = (res: import('node:http').IncomingMessage) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    }
    const req = options.https
      ? httpsRequest({ ...common, ca: options.ca, servername: 'localhost', ...(options.cert ?? {}) }, done)
      : httpRequest(common, done)
    req.on('error', reject)
    req.end(options.body)
  })
}

t.test('item 15: with requireClientCert the probes answer on HOOK_PROBE_PORT, plain HTTP, and /sync is not served there', async t => {
  const certs = join(dir, 'certs')
  await run('bash', [join(ROOT, 'scripts/make-tls-certs.sh'), 'hook', 'default', certs])
  const read = (p: string) => readFileSync(join(certs, p), 'utf8')
  const token = join(dir, 'token')
  writeFileSync(token, 'probe-test-token\n')
  const [port, probePort] = [await freePort(), await freePort()]
  const server = start({
    PORT: String(port), HOOK_PROBE_PORT: String(probePort),
    HOOK_TLS_CERT_FILE: join(certs, 'server/server.crt'), HOOK_TLS_KEY_FILE: join(certs, 'server/server.key'),
    HOOK_TLS_CLIENT_CA_FILE: join(certs, 'ca/ca.crt'), HOOK_BEARER_TOKEN_FILE: token,
  })
  const deadline = Date.now() + 20_000
  while (!(await call({ https: false, port: probePort, path: '/readyz' }).then(r => r.status === 200, () => false))) {
    if (Date.now() > deadline || server.child.exitCode !== null) throw new Error(`the probe port never answered: ${server.stdout()}${server.stderr()}`)
    await sleep(100)
  }
  // What the kubelet does: plain HTTP, no certificate, no credentials.
  t.equal((await call({ https: false, port: probePort, path: '/healthz' })).status, 200, 'liveness: /healthz')
  t.equal((await call({ https: false, port: probePort, path: '/readyz' })).status, 200, 'readiness: /readyz')
  const sync = { method: 'POST', path: '/sync', body: JSON.stringify(syncRequest()), headers: { 'content-type': 'application/json', 'authorization': 'Bearer probe-test-token' } }
  const onProbePort = await call({ https: false, port: probePort, ...sync })
  t.equal(onProbePort.status, 404, '/sync is not served on the probe port, credentials or not')
  t.same(Object.keys(JSON.parse(onProbePort.body)).sort(), ['error', 'message'])
  t.equal((await call({ https: false, port: probePort, path: '/metrics' })).status, 404, 'nor /metrics')
  t.equal((await call({ https: false, port: probePort, path: '/customize', method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status, 404, 'nor /customize')

  // The hook's own port still wants the client certificate, then the token.
  await t.rejects(call({ https: true, port, path: '/healthz', ca: read('ca/ca.crt') }), 'the HTTPS port refuses a caller without a certificate (as the kubelet is)')
  const cert = { cert: read('operator/etcd-client.crt'), key: read('operator/etcd-client.key') }
  t.equal((await call({ https: true, port, ca: read('ca/ca.crt'), cert, ...sync })).status, 200, 'Metacontroller, with certificate and token, syncs')
  t.equal((await call({ https: true, port, ca: read('ca/ca.crt'), cert, ...sync, headers: { 'content-type': 'application/json' } })).status, 401, 'without the token: 401')

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0, 'SIGTERM: a clean exit, the probe server closed too')
  t.match(server.stdout(), new RegExp(`"port":${probePort}.*probes`), 'the probe port is logged')
})

t.test('item 14: main.js accepts the previous token while its file exists, and starts without it', async t => {
  const current = join(dir, 'rot-token')
  const previous = join(dir, 'rot-previous-token')
  writeFileSync(current, 'new-token\n')
  writeFileSync(previous, 'old-token\n')
  const port = await freePort()
  const server = start({ PORT: String(port), HOOK_BEARER_TOKEN_FILE: current, HOOK_BEARER_TOKEN_PREVIOUS_FILE: previous })
  const deadline = Date.now() + 20_000
  while (!(await call({ https: false, port, path: '/readyz' }).then(r => r.status === 200, () => false))) {
    if (Date.now() > deadline || server.child.exitCode !== null) throw new Error(`the server never answered: ${server.stderr()}`)
    await sleep(100)
  }
  const customize = (token: string) => call({ https: false, port, path: '/customize', method: 'POST', body: JSON.stringify({ parent: { metadata: { name: 'x' }, spec: {} } }), headers: { 'content-type': 'application/json', 'authorization': `Bearer ${token}` } })
  t.equal((await customize('new-token')).status, 200, 'the new token')
  t.equal((await customize('old-token')).status, 200, 'the previous one, while its file is there')
  t.equal((await customize('other')).status, 401, 'nothing else')
  server.child.kill('SIGTERM')
  await server.exited

  // The previous key removed from the Secret: no file, and that is fine.
  rmSync(previous)
  const again = start({ PORT: String(port), HOOK_BEARER_TOKEN_FILE: current, HOOK_BEARER_TOKEN_PREVIOUS_FILE: previous })
  const until = Date.now() + 20_000
  while (!(await call({ https: false, port, path: '/readyz' }).then(r => r.status === 200, () => false))) {
    if (Date.now() > until || again.child.exitCode !== null) throw new Error(`the server did not start without the previous file: ${again.stderr()}`)
    await sleep(100)
  }
  t.equal((await customize('new-token')).status, 200, 'starts without the previous file; the new token works')
  t.equal((await customize('old-token')).status, 401, 'and the retired one no more')
  again.child.kill('SIGTERM')
  await again.exited
})
