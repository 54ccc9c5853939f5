// Who may drive the hook, what it tells a caller, and what it counts.
import t from 'tap'
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../hooks/server/app.js'
import { BasicAuthFiles, WatchedFile, isAuthorized } from '../hooks/server/auth.js'
import { readConfig } from '../hooks/server/config.js'
import type { MembershipAction, MembershipClient, Observation } from '../hooks/etcd/types.js'
import { HookMetrics } from '../hooks/server/metrics.js'
import { NOW, members, reachable, syncRequest } from './helpers/fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'eosec-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const secretFile = (name: string, content: string) => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

const healthy: MembershipClient = {
  observe: async (): Promise<Observation> => reachable(members(0, 1), 0),
  execute: async (_action: MembershipAction) => {},
}

t.test('bearer token and basic auth, as Metacontroller sends them', async t => {
  const bearerToken = new WatchedFile(secretFile('token', 's3cret-token\n'))
  const basicAuth = new WatchedFile(secretFile('basic', 'metacontroller:pa55word'))
  const app = buildApp({ membership: healthy, now: () => NOW, credentials: { bearerToken, basicAuth } })
  t.teardown(() => app.close())
  const sync = (authorization?: string) => app.inject({ method: 'POST', url: '/sync', payload: syncRequest(), headers: authorization === undefined ? {} : { authorization } })
  t.equal((await sync()).statusCode, 401, 'no credentials')
  t.equal((await sync('Bearer wrong')).statusCode, 401, 'wrong token')
  t.equal((await sync(`Basic ${Buffer.from('metacontroller:nope').toString('base64')}`)).statusCode, 401, 'wrong password')
  const refused = await sync('Bearer wrong')
  t.match(refused.headers['www-authenticate'], /Bearer/)
  t.notMatch(refused.body, /s3cret/, 'the answer names no secret')
  t.equal((await sync('Bearer s3cret-token')).statusCode, 200, 'the token')
  t.equal((await sync(`Basic ${Buffer.from('metacontroller:pa55word').toString('base64')}`)).statusCode, 200, 'basic auth')
  t.equal((await app.inject('/healthz')).statusCode, 200, 'probes need no credentials')
  t.equal((await app.inject('/metrics')).statusCode, 200, 'nor does Prometheus')
  t.equal((await app.inject('/customize')).statusCode, 401, 'the customize hook does')
  t.equal((await app.inject('/healthz?verbose')).statusCode, 401, 'open paths match exactly: anything else asks')
  t.equal((await app.inject('/no-such-path')).statusCode, 401, 'an unknown path says nothing without credentials')
})

t.test('a rotated secret file is picked up', async t => {
  let clock = 0
  const path = secretFile('rotating', 'old')
  const file = new WatchedFile(path, 5000, () => clock)
  t.ok(isAuthorized({ bearerToken: file }, 'Bearer old'))
  writeFileSync(path, 'new')
  utimesSync(path, new Date(), new Date(Date.now() + 10_000))
  t.ok(isAuthorized({ bearerToken: file }, 'Bearer old'), 'within the recheck interval: the cached value')
  clock += 5000
  t.ok(isAuthorized({ bearerToken: file }, 'Bearer new'), 'after it: the new one')
  t.notOk(isAuthorized({ bearerToken: file }, 'Bearer old'))
  t.throws(() => new WatchedFile(join(dir, 'missing')), /ENOENT/, 'a missing file fails at start-up')
  t.notOk(isAuthorized({ bearerToken: new WatchedFile(secretFile('empty', '')) }, 'Bearer '), 'an empty secret matches nothing')
})

t.test('basic auth from a kubernetes.io/basic-auth Secret: username and password files', async t => {
  let clock = 0
  const passwordPath = secretFile('basic-password', 'pa55word\n')
  const basicAuth = new BasicAuthFiles(
    new WatchedFile(secretFile('basic-username', 'metacontroller\n'), 5000, () => clock),
    new WatchedFile(passwordPath, 5000, () => clock),
  )
  const app = buildApp({ membership: healthy, now: () => NOW, credentials: { basicAuth } })
  t.teardown(() => app.close())
  // As Metacontroller sends it: Basic base64(username:password).
  const sync = async (username: string, password: string) => (await app.inject({
    method: 'POST', url: '/sync', payload: syncRequest(), headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
  })).statusCode
  t.equal(await sync('metacontroller', 'pa55word'), 200, 'the username and password, trimmed')
  t.equal(await sync('metacontroller', 'wrong'), 401, 'a wrong password')
  t.equal(await sync('someone', 'pa55word'), 401, 'a wrong username')
  t.equal(await sync('metacontroller', ''), 401, 'no password')

  writeFileSync(passwordPath, 'n3w-pa55word\n')
  utimesSync(passwordPath, new Date(), new Date(Date.now() + 10_000))
  t.equal(await sync('metacontroller', 'pa55word'), 200, 'within the recheck interval: the cached password')
  clock += 5000
  t.equal(await sync('metacontroller', 'n3w-pa55word'), 200, 'after it: the rotated password')
  t.equal(await sync('metacontroller', 'pa55word'), 401, 'and the old one no more')

  const noPassword = new BasicAuthFiles(new WatchedFile(secretFile('user-only', 'metacontroller')), new WatchedFile(secretFile('empty-password', '')))
  t.notOk(isAuthorized({ basicAuth: noPassword }, `Basic ${Buffer.from('metacontroller:').toString('base64')}`), 'an empty password matches nothing')
})

t.test('metrics: sync duration by outcome, actions by kind, clusters by phase', async t => {
  const metrics = new HookMetrics()
  const app = buildApp({ membership: healthy, now: () => NOW, metrics })
  t.teardown(() => app.close())
  await app.inject({ method: 'POST', url: '/sync', payload: syncRequest({ pods: [{ ordinal: 0 }, { ordinal: 1 }] }) })
  await app.inject({ method: 'POST', url: '/sync', payload: syncRequest({ spec: { size: 0 } }) })
  await app.inject({ method: 'POST', url: '/customize', payload: { parent: { metadata: { name: 'x' }, spec: {} } } })
  const text = (await app.inject('/metrics')).body
  t.match(text, /etcd_operator_sync_duration_seconds_count\{outcome="ok"\} 1/)
  t.match(text, /etcd_operator_sync_duration_seconds_count\{outcome="invalid"\} 1/, 'only /sync is timed')
  t.match(text, /etcd_operator_membership_actions_total\{kind="addLearner",result="done"\} 1/)
  t.match(text, /etcd_operator_clusters\{phase="Running"\} 1/)
})

t.test('configuration from the environment', async t => {
  t.match(readConfig({}), { port: 8080, logLevel: 'info', etcdRequestTimeoutMs: 1500, tls: undefined })
  t.match(readConfig({ PORT: '9443', HOOK_TLS_CERT_FILE: '/c', HOOK_TLS_KEY_FILE: '/k', HOOK_BEARER_TOKEN_FILE: '/t' }),
    { port: 9443, tls: { certFile: '/c', keyFile: '/k' }, bearerTokenFile: '/t' })
  t.throws(() => readConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', HOOK_TLS_CERT_FILE: '/c' }),
    /PORT=eighty: want a whole number.*LOG_LEVEL=loud.*HOOK_TLS_CERT_FILE and HOOK_TLS_KEY_FILE go together/)
  t.match(readConfig({ HOOK_BASIC_AUTH_USERNAME_FILE: '/u', HOOK_BASIC_AUTH_PASSWORD_FILE: '/p' }),
    { basicAuthFiles: { usernameFile: '/u', passwordFile: '/p' }, basicAuthFile: undefined })
  t.match(readConfig({ HOOK_BASIC_AUTH_FILE: '/a' }), { basicAuthFile: '/a', basicAuthFiles: undefined }, 'user:password in one file still works')
  t.throws(() => readConfig({ HOOK_BASIC_AUTH_USERNAME_FILE: '/u' }), /HOOK_BASIC_AUTH_USERNAME_FILE needs HOOK_BASIC_AUTH_PASSWORD_FILE/)
  t.throws(() => readConfig({ HOOK_BASIC_AUTH_PASSWORD_FILE: '/p' }), /HOOK_BASIC_AUTH_PASSWORD_FILE needs HOOK_BASIC_AUTH_USERNAME_FILE/)
  t.throws(() => readConfig({ HOOK_BASIC_AUTH_FILE: '/a', HOOK_BASIC_AUTH_USERNAME_FILE: '/u', HOOK_BASIC_AUTH_PASSWORD_FILE: '/p' }),
    /HOOK_BASIC_AUTH_FILE and HOOK_BASIC_AUTH_USERNAME_FILE\/HOOK_BASIC_AUTH_PASSWORD_FILE: set one or the other/)
})

t.test('HTTPS with a client CA: only callers with a certificate get through', async t => {
  const { execFileSync } = await import('node:child_process')
  const certs = join(dir, 'certs')
  execFileSync('bash', [new URL('../scripts/make-tls-certs.sh', import.meta.url).pathname, 'hook', 'default', certs], { stdio: 'ignore' })
  const { readFileSync } = await import('node:fs')
  const read = (p: string) => readFileSync(join(certs, p), 'utf8')
  const app = buildApp({ membership: healthy, https: { cert: read('server/server.crt'), key: read('server/server.key'), ca: read('ca/ca.crt') } })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const { request } = await import('node:https')
  const get = (withCert: boolean) => new Promise<number>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: '/healthz', ca: read('ca/ca.crt'), servername: 'localhost',
      ...(withCert ? { cert: read('operator/etcd-client.crt'), key: read('operator/etcd-client.key') } : {}),
    }, res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end()
  })
  t.equal(await get(true), 200, 'with a client certificate')
  await t.rejects(get(false), 'without one the handshake fails')
})

t.test('logs never carry secrets: credentials and related Secret data', async t => {
  const lines: string[] = []
  const stream = { write: (line: string) => { lines.push(line) } }
  const failing: MembershipClient = {
    observe: async () => reachable(members(0, 1), 0),
    execute: async () => { throw new Error('etcdserver: unhealthy cluster') },
  }
  const token = new WatchedFile(secretFile('log-token', 'never-log-this-token'))
  const app = buildApp({ membership: failing, now: () => NOW, credentials: { bearerToken: token }, logger: { level: 'trace', stream } })
  t.teardown(() => app.close())
  const request = syncRequest({ spec: { TLS: { static: { member: { serverSecret: 's' }, operatorSecret: 'op' } } }, pods: [{ ordinal: 0 }, { ordinal: 1 }] })
  const secretData = Buffer.from('-----BEGIN PRIVATE KEY-----\nnever-log-this-key\n-----END PRIVATE KEY-----\n').toString('base64')
  request.related = { 'Secret.v1': { op: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'op', namespace: 'default' }, data: { 'etcd-client.crt': secretData, 'etcd-client.key': secretData, 'etcd-client-ca.crt': secretData } } as never } }
  await app.inject({ method: 'POST', url: '/sync', payload: request, headers: { authorization: 'Bearer wrong-token-guess' } })
  await app.inject({ method: 'POST', url: '/sync', payload: request, headers: { authorization: 'Bearer never-log-this-token' } })
  const log = lines.join('')
  t.match(log, /unauthorized call refused/, 'the refused call is logged')
  t.match(log, /addLearner failed; retrying/, 'so is the failed write, with its error')
  t.notMatch(log, /never-log-this/, 'but not the token')
  t.notMatch(log, /wrong-token-guess/, 'nor a wrong guess')
  t.notMatch(log, new RegExp(secretData.slice(0, 40)), 'nor the Secret data')
})

t.test('item 14: during a rotation the previous bearer token is accepted too, while its file exists', async t => {
  let clock = 0
  const current = secretFile('rotation-token', 'new-token\n')
  const previousPath = join(dir, 'rotation-previous-token') // not there yet
  const changed: string[] = []
  const previous = new WatchedFile(previousPath, 5000, () => clock, { optional: true, onChange: path => changed.push(path) })
  const credentials = { bearerToken: new WatchedFile(current, 5000, () => clock), previousBearerToken: previous }
  const app = buildApp({ membership: healthy, now: () => NOW, credentials })
  t.teardown(() => app.close())
  const sync = async (token: string) => (await app.inject({ method: 'POST', url: '/sync', payload: syncRequest(), headers: { authorization: `Bearer ${token}` } })).statusCode
  t.equal(await sync('new-token'), 200, 'the current token')
  t.equal(await sync('old-token'), 401, 'no previous file: nothing else')
  t.equal(await sync(''), 401, 'an empty previous secret matches nothing')

  // The operator adds the previous token next to the new one.
  writeFileSync(previousPath, 'old-token\n')
  clock += 5000
  t.equal(await sync('old-token'), 200, 'the previous token, once its file is there')
  t.equal(await sync('new-token'), 200, 'and the new one still')
  t.equal(await sync('older-token'), 401, 'nothing else')
  t.same(changed, [previousPath], 'the change is reported (for a log line, without the content)')

  // Metacontroller restarted; the operator removes the previous key.
  rmSync(previousPath)
  clock += 5000
  t.equal(await sync('old-token'), 401, 'the retired token, once its file is gone')
  t.equal(await sync('new-token'), 200)
  t.same(changed, [previousPath, previousPath])
  t.throws(() => new WatchedFile(join(dir, 'missing-current')), /ENOENT/, 'the current token\'s file must still be there at start-up')
})

t.test('item 14: the previous basic auth (username and password files) is accepted too, while present', async t => {
  let clock = 0
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`
  const previousUser = join(dir, 'previous-username')
  const previousPassword = join(dir, 'previous-password')
  writeFileSync(previousUser, 'metacontroller\n')
  writeFileSync(previousPassword, 'old-pa55\n')
  const watched = (path: string, optional = false) => new WatchedFile(path, 5000, () => clock, { optional })
  const credentials = {
    basicAuth: new BasicAuthFiles(watched(secretFile('current-username', 'metacontroller\n')), watched(secretFile('current-password', 'new-pa55\n'))),
    previousBasicAuth: new BasicAuthFiles(watched(previousUser, true), watched(previousPassword, true)),
  }
  t.ok(isAuthorized(credentials, basic('metacontroller', 'new-pa55')), 'the new password')
  t.ok(isAuthorized(credentials, basic('metacontroller', 'old-pa55')), 'the previous one')
  t.notOk(isAuthorized(credentials, basic('metacontroller', 'other')), 'nothing else')
  t.notOk(isAuthorized(credentials, 'Bearer old-pa55'), 'no other scheme')
  rmSync(previousPassword)
  clock += 5000
  t.notOk(isAuthorized(credentials, basic('metacontroller', 'old-pa55')), 'half a previous credential matches nothing')
  t.notOk(isAuthorized(credentials, basic('metacontroller', '')), 'nor an empty password')
  t.ok(isAuthorized(credentials, basic('metacontroller', 'new-pa55')))
  t.ok(isAuthorized({ previousBearerToken: new WatchedFile(secretFile('lonely', 'x')) }, undefined), 'a previous token alone configures no auth (readConfig refuses it)')
})

t.test('item 14: configuration of the previous credentials', async t => {
  t.match(readConfig({ HOOK_BEARER_TOKEN_FILE: '/t', HOOK_BEARER_TOKEN_PREVIOUS_FILE: '/t-old' }), { bearerTokenFile: '/t', previousBearerTokenFile: '/t-old' })
  t.match(readConfig({ HOOK_BASIC_AUTH_USERNAME_FILE: '/u', HOOK_BASIC_AUTH_PASSWORD_FILE: '/p', HOOK_BASIC_AUTH_PREVIOUS_USERNAME_FILE: '/pu', HOOK_BASIC_AUTH_PREVIOUS_PASSWORD_FILE: '/pp' }),
    { basicAuthFiles: { usernameFile: '/u', passwordFile: '/p' }, previousBasicAuthFiles: { usernameFile: '/pu', passwordFile: '/pp' } })
  t.match(readConfig({ HOOK_BASIC_AUTH_FILE: '/a', HOOK_BASIC_AUTH_PREVIOUS_FILE: '/a-old' }), { basicAuthFile: '/a', previousBasicAuthFile: '/a-old' })
  t.match(readConfig({}), { previousBearerTokenFile: undefined, previousBasicAuthFile: undefined, previousBasicAuthFiles: undefined })
  t.throws(() => readConfig({ HOOK_BEARER_TOKEN_PREVIOUS_FILE: '/t-old' }), /HOOK_BEARER_TOKEN_PREVIOUS_FILE needs HOOK_BEARER_TOKEN_FILE/)
  t.throws(() => readConfig({ HOOK_BASIC_AUTH_PREVIOUS_FILE: '/a-old' }), /HOOK_BASIC_AUTH_PREVIOUS_\* needs HOOK_BASIC_AUTH_FILE or/)
  t.throws(() => readConfig({ HOOK_BASIC_AUTH_FILE: '/a', HOOK_BASIC_AUTH_PREVIOUS_USERNAME_FILE: '/pu' }), /HOOK_BASIC_AUTH_PREVIOUS_USERNAME_FILE needs HOOK_BASIC_AUTH_PREVIOUS_PASSWORD_FILE/)
})

t.test('item 15: a probe server on its own port answers the kubelet without credentials or certificate, and serves nothing else', async t => {
  const { Health, buildProbeApp } = await import('../hooks/server/probes.js')
  const health = new Health()
  const token = new WatchedFile(secretFile('probe-token', 'probe-token'))
  const certs = join(dir, 'probe-certs')
  const { execFileSync } = await import('node:child_process')
  execFileSync('bash', [new URL('../scripts/make-tls-certs.sh', import.meta.url).pathname, 'hook', 'default', certs], { stdio: 'ignore' })
  const { readFileSync } = await import('node:fs')
  const read = (p: string) => readFileSync(join(certs, p), 'utf8')
  // The hook as the chart runs it with requireClientCert: HTTPS, client CA, token.
  const app = buildApp({ membership: healthy, now: () => NOW, credentials: { bearerToken: token }, health, https: { cert: read('server/server.crt'), key: read('server/server.key'), ca: read('ca/ca.crt') } })
  const probes = buildProbeApp(health)
  t.teardown(async () => { await probes.close() })
  await probes.listen({ port: 0, host: '127.0.0.1' })
  const port = (probes.server.address() as { port: number }).port
  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, ...(method === 'POST' ? { body: JSON.stringify(syncRequest()), headers: { 'content-type': 'application/json', 'authorization': 'Bearer probe-token' } } : {}) })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }
  t.same(await get('/healthz'), { status: 200, body: { ok: true } }, 'liveness over plain HTTP, no certificate, no token')
  t.same(await get('/readyz'), { status: 200, body: { ok: true } }, 'readiness too')
  const sync = await get('/sync', 'POST')
  t.equal(sync.status, 404, '/sync is not served here, even with the token')
  t.same(Object.keys(sync.body).sort(), ['error', 'message'])
  t.equal((await get('/metrics')).status, 404, 'nor /metrics')
  t.equal((await get('/customize', 'POST')).status, 404, 'nor /customize')
  await app.close()
  const closing = await get('/readyz')
  t.equal(closing.status, 503, 'readiness follows the hook: 503 once it shuts down')
  t.same(Object.keys(closing.body).sort(), ['error', 'message'])
  t.equal((await get('/healthz')).status, 200, 'liveness does not')
})

t.test('item 15: HOOK_PROBE_PORT configuration', async t => {
  t.equal(readConfig({}).probePort, undefined, 'unset: no probe server')
  t.equal(readConfig({ HOOK_PROBE_PORT: '' }).probePort, undefined, 'empty: unset')
  t.equal(readConfig({ HOOK_PROBE_PORT: '8081' }).probePort, 8081)
  t.throws(() => readConfig({ HOOK_PROBE_PORT: '8080' }), /HOOK_PROBE_PORT=8080: want a port other than PORT \(8080\)/)
  t.throws(() => readConfig({ HOOK_PROBE_PORT: '0' }), /HOOK_PROBE_PORT=0: want a whole number from 1 to 65535/)
})
