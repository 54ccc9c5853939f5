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
