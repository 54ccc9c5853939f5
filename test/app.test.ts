// The HTTP shell through fastify's inject(): validation, the single
// membership write, and what a failed write does to the answer.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { InjectOptions } from 'fastify'
import { buildApp } from '../hooks/server/app.js'
import { WatchedFile } from '../hooks/server/auth.js'
import type { MembershipAction, MembershipClient, Observation } from '../hooks/etcd/types.js'
import type { SyncResponse } from '../hooks/api/cluster.js'
import { NAME, NOW, exampleRequest, members, reachable, syncRequest, unreachable } from './helpers/fixtures.js'
import { podNames } from './helpers/inspect.js'

// A membership client that answers from a script and records every call.
class ScriptedMembership implements MembershipClient {
  observed: string[][] = []
  executed: MembershipAction[] = []
  constructor (private readonly observation: Observation, private readonly failWith?: Error) {}
  async observe (target: { endpoints: string[] }): Promise<Observation> {
    this.observed.push(target.endpoints)
    return this.observation
  }

  async execute (action: MembershipAction): Promise<void> {
    this.executed.push(action)
    if (this.failWith !== undefined) throw this.failWith
  }
}

function appWith (membership: MembershipClient) {
  const app = buildApp({ membership, now: () => NOW })
  t.teardown(() => app.close())
  return app
}

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  ({ method: 'POST' as const, url: '/sync', payload: payload as string, headers })

t.test('a new cluster: the seed, no etcd call, no write', async t => {
  const membership = new ScriptedMembership(unreachable)
  const res = await appWith(membership).inject(post(exampleRequest('sync-new-cluster.json')))
  t.equal(res.statusCode, 200)
  const body = res.json<SyncResponse>()
  t.same(podNames(body), ['example-etcd-cluster-0'])
  t.same(Object.keys(body).sort(), ['children', 'resyncAfterSeconds', 'status'], 'only the keys a v2 hook accepts')
  t.same(membership.observed, [], 'no pods, nothing to ask')
  t.same(membership.executed, [])
})

t.test('growing: observes every member pod, then adds one learner', async t => {
  const membership = new ScriptedMembership(reachable(members(0, 1), 0))
  const res = await appWith(membership).inject(post(syncRequest({ pods: [{ ordinal: 0 }, { ordinal: 1 }] })))
  t.equal(res.statusCode, 200)
  t.equal(membership.observed.length, 1)
  t.equal(membership.observed[0]?.length, 2, 'both pods asked')
  t.equal(membership.executed.length, 1, 'exactly one write')
  t.match(membership.executed[0], { kind: 'addLearner', pod: `${NAME}-2` })
  t.same(podNames(res.json<SyncResponse>()), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`], 'the new pod is in the answer')
})

t.test('a failed write: 200 that adds nothing and removes nothing', async t => {
  const membership = new ScriptedMembership(reachable(members(0, 1, 2, 3), 0), new Error('etcdserver: unhealthy cluster'))
  const res = await appWith(membership).inject(post(syncRequest({ pods: [0, 1, 2, 3].map(ordinal => ({ ordinal })) })))
  t.equal(res.statusCode, 200)
  t.match(membership.executed, [{ kind: 'remove', pod: `${NAME}-3` }])
  const body = res.json<SyncResponse>()
  t.same(podNames(body), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`, `${NAME}-3`], 'the member that was not removed keeps its pod')
  t.match(body.status.lastAction, /failed; retrying/)
  t.equal(body.resyncAfterSeconds, 2)
})

t.test('bad input changes nothing and says what is wrong', async t => {
  const app = appWith(new ScriptedMembership(unreachable))
  const cases: Array<{ name: string, request: ReturnType<typeof post>, status: number, message: RegExp }> = [
    { name: 'malformed JSON', request: post('{"parent": ', { 'content-type': 'application/json' }), status: 400, message: /not valid JSON/ },
    { name: 'no parent', request: post({ children: {} }), status: 422, message: /must have required property 'parent'/ },
    { name: 'size 0', request: post(syncRequest({ spec: { size: 0 } })), status: 422, message: /parent\/spec\/size must be >= 1/ },
    { name: 'size 10', request: post(syncRequest({ spec: { size: 10 } })), status: 422, message: /parent\/spec\/size must be <= 9/ },
    { name: 'size as a string', request: post(syncRequest({ spec: { size: '3' as unknown as number } })), status: 422, message: /size must be integer/ },
    { name: 'a version that is none', request: post(syncRequest({ spec: { version: 'latest' } })), status: 422, message: /version must match pattern/ },
    { name: 'an unknown spec field', request: post(syncRequest({ spec: { sise: 3 } as never })), status: 422, message: /must NOT have additional properties/ },
    { name: 'a reserved label', request: post(syncRequest({ spec: { pod: { labels: { etcd_node: 'x' } } } })), status: 422, message: /spec\.pod\.labels: "etcd_node" is reserved/ },
    { name: 'wrong kind', request: post({ ...syncRequest(), parent: { ...syncRequest().parent, kind: 'Deployment' } }), status: 422, message: /parent\/kind/ },
    { name: 'text, not JSON', request: { method: 'POST' as const, url: '/sync', payload: 'size=3', headers: { 'content-type': 'text/plain' } }, status: 415, message: /text\/plain is not accepted: send application\/json/ },
  ]
  for (const c of cases) {
    const res = await app.inject(c.request)
    t.equal(res.statusCode, c.status, `${c.name}: ${c.status}`)
    t.match(res.json<{ message: string }>().message, c.message, `${c.name}: names the problem`)
  }
})

t.test('a request nested absurdly deep is refused, not a stack overflow', async t => {
  const request = syncRequest({ pods: [{ ordinal: 0 }] }) as unknown as { children: Record<string, Record<string, { spec: unknown }>> }
  request.children['Pod.v1']!['example-0']!.spec = 'DEEP'
  // Built as text: JSON.stringify itself cannot go 10,000 levels deep.
  const deep = '{"x":'.repeat(10_000) + '{}' + '}'.repeat(10_000)
  const payload = JSON.stringify(request).replace('"DEEP"', deep)
  const res = await appWith(new ScriptedMembership(unreachable)).inject(post(payload, { 'content-type': 'application/json' }))
  t.equal(res.statusCode, 422)
  t.match(res.json<{ message: string }>().message, /nests deeper than 64 levels/)

  // The same deep inside the spec's free-form pod policy (fingerprinted).
  const parentDeep = JSON.stringify(syncRequest({ spec: { pod: { affinity: { x: 'DEEP' } } } })).replace('"DEEP"', deep)
  const refused = await appWith(new ScriptedMembership(unreachable)).inject(post(parentDeep, { 'content-type': 'application/json' }))
  t.equal(refused.statusCode, 422)
  t.match(refused.json<{ message: string }>().message, /nests deeper than 64 levels/)
})

t.test('a name too long for DNS is refused', async t => {
  const request = syncRequest()
  request.parent.metadata.name = 'a'.repeat(53)
  const res = await appWith(new ScriptedMembership(unreachable)).inject(post(request))
  t.equal(res.statusCode, 422)
  t.match(res.json<{ message: string }>().message, /53 characters; at most 52/)
})

t.test('an unexpected failure is a 500 without details, never a 200', async t => {
  const broken: MembershipClient = {
    observe: async () => { throw new Error('secret internals') },
    execute: async () => {},
  }
  const res = await appWith(broken).inject(post(syncRequest({ pods: [{ ordinal: 0 }] })))
  t.equal(res.statusCode, 500)
  t.notMatch(res.body, /secret internals/)
})

t.test('health and readiness', async t => {
  const app = appWith(new ScriptedMembership(unreachable))
  t.equal((await app.inject('/healthz')).statusCode, 200)
  t.equal((await app.inject('/readyz')).statusCode, 200)
})

t.test('small (b): every refusal has one shape, { error, message }, fastify\'s own included', async t => {
  const app = appWith(new ScriptedMembership(unreachable))
  const json = { 'content-type': 'application/json' }
  const cases: Array<{ name: string, request: InjectOptions, status: number, message: RegExp }> = [
    { name: 'a body that is not JSON', request: post('{"parent": ', json), status: 400, message: /not valid JSON/ },
    { name: 'an empty JSON body', request: post('', json), status: 400, message: /cannot be empty/ },
    { name: 'text', request: post('size=3', { 'content-type': 'text/plain' }), status: 415, message: /content-type text\/plain is not accepted: send application\/json/ },
    { name: 'form data', request: post('size=3', { 'content-type': 'application/x-www-form-urlencoded' }), status: 415, message: /application\/json/ },
    { name: 'an unknown path', request: { method: 'GET', url: '/no-such-path' }, status: 404, message: /no such path: GET \/no-such-path/ },
    { name: 'an unknown path, POSTed', request: { method: 'POST', url: '/sink', payload: '{}', headers: json }, status: 404, message: /no such path/ },
    { name: 'GET /sync', request: { method: 'GET', url: '/sync' }, status: 405, message: /GET \/sync is not served: use POST/ },
    { name: 'DELETE /healthz', request: { method: 'DELETE', url: '/healthz' }, status: 405, message: /use GET, HEAD/ },
    { name: 'a body over 4 MiB', request: post(`{"x":"${'x'.repeat(4 * 1024 * 1024)}"}`, json), status: 413, message: /too large/ },
    { name: 'the wrong shape', request: post({ children: {} }), status: 422, message: /parent/ },
  ]
  for (const c of cases) {
    const res = await app.inject(c.request)
    t.equal(res.statusCode, c.status, `${c.name}: ${c.status}`)
    t.match(res.headers['content-type'], /^application\/json/, `${c.name}: JSON`)
    const body = res.json<Record<string, unknown>>()
    t.same(Object.keys(body).sort(), ['error', 'message'], `${c.name}: error and message, nothing else`)
    t.equal(body.error, STATUS_CODES[c.status], `${c.name}: error is the status's name`)
    t.match(body.message, c.message, `${c.name}: the message says what to do`)
  }
  const wrongMethod = await app.inject({ method: 'GET', url: '/sync' })
  t.equal(wrongMethod.headers.allow, 'POST', '405 says which method (Allow)')

  // 401 and 500 have the same shape.
  const dir = mkdtempSync(join(tmpdir(), 'eoapp-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'token'), 'tok')
  const locked = buildApp({ membership: new ScriptedMembership(unreachable), now: () => NOW, credentials: { bearerToken: new WatchedFile(join(dir, 'token')) } })
  t.teardown(() => locked.close())
  const refused = await locked.inject(post(syncRequest()))
  t.equal(refused.statusCode, 401)
  t.same(refused.json(), { error: 'Unauthorized', message: 'missing or wrong credentials' })
  const broken = appWith({ observe: async () => { throw new Error('boom') }, execute: async () => {} })
  const failed = await broken.inject(post(syncRequest({ pods: [{ ordinal: 0 }] })))
  t.equal(failed.statusCode, 500)
  t.same(Object.keys(failed.json()).sort(), ['error', 'message'])
})

t.test('small (b): bytes that are not HTTP get a 400 of the same shape', async t => {
  const app = appWith(new ScriptedMembership(unreachable))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'))
    let data = ''
    socket.on('data', d => { data += d.toString() })
    socket.on('close', () => { resolve(data) })
    socket.on('error', reject)
  })
  t.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/)
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))
  t.same(Object.keys(body).sort(), ['error', 'message'])
  t.equal(body.error, 'Bad Request')
})
