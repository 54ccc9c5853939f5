// Fuzzing the listening server: thousands of malformed and mutated sync
// requests over real HTTP. The server never crashes, never answers 500 to
// bad input, and never answers 200 in a way that drops a healthy member's
// pod or a Service. Membership is a scripted fake: no etcd, no network
// beyond 127.0.0.1.
//
// FUZZ_SEED=<seed> replays a run; FUZZ_RUNS scales it (default 1500 per kind).
import t from 'tap'
import fc from 'fast-check'
import { buildApp } from '../hooks/server/app.js'
import type { MembershipAction, MembershipClient, Observation } from '../hooks/etcd/types.js'
import type { KubeObject } from '../hooks/api/kube.js'
import { NAME, NOW, members as memberList, syncRequest, unreachable, type PodFixture, type PodState } from './helpers/fixtures.js'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

// What the fake says for the request being sent, and what it was asked.
class ScriptedMembership implements MembershipClient {
  observation: Observation = unreachable
  failWrites = false
  writes: MembershipAction[] = []
  removed: string[] = [] // member IDs removed successfully

  script (observation: Observation, failWrites: boolean): void {
    this.observation = observation
    this.failWrites = failWrites
    this.writes = []
    this.removed = []
  }

  async observe (): Promise<Observation> {
    return structuredClone(this.observation)
  }

  async execute (action: MembershipAction): Promise<void> {
    this.writes.push(action)
    if (this.failWrites) throw new Error('etcdserver: unhealthy cluster')
    if (action.kind === 'remove') this.removed.push(action.memberId)
  }
}

// The hook's error log, to say why a 500 happened.
let lastError = ''
const logStream = { write: (line: string) => { lastError = line } }
const membership = new ScriptedMembership()
const app = buildApp({ membership, now: () => NOW, logger: { level: 'error', stream: logStream } })
t.teardown(() => app.close())
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('no TCP address')
const base = `http://127.0.0.1:${address.port}`

const ALLOWED = new Set([200, 400, 413, 415, 422])
const BODY_LIMIT = 4 * 1024 * 1024

const runs = Number(process.env.FUZZ_RUNS ?? 1500)
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)
t.comment(`fast-check seed ${seed} (FUZZ_SEED=${seed} reproduces this run)`)
let sent = 0
let membersChecked = 0 // healthy member pods a 200 had to keep
const statuses = new Map<number, number>()

interface Sent { body: string | Uint8Array | ReadableStream<Uint8Array>, contentType: string | undefined }

async function send (request: Sent): Promise<{ status: number, text: string }> {
  const headers: Record<string, string> = {}
  if (request.contentType !== undefined) headers['content-type'] = request.contentType
  const streamed = request.body instanceof ReadableStream
  const res = await fetch(`${base}/sync`, {
    method: 'POST',
    headers,
    body: request.body,
    ...(streamed ? { duplex: 'half' } : {}),
  } as RequestInit)
  const text = await res.text()
  sent++
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
  return { status: res.status, text }
}

// The checks every answer must pass. `parsed` is the request as the server
// read it (undefined when it is not JSON).
function check (status: number, text: string, parsed: unknown): void {
  if (!ALLOWED.has(status)) throw new Error(`status ${status}: ${text.slice(0, 300)}; the hook logged: ${describeLogged(lastError)}`)
  if (status !== 200) {
    // A sentence for a person, never the hook's insides.
    if (/\n\s+at |"stack"|node_modules|\/hooks\/|\.ts:\d+/.test(text)) throw new Error(`error body leaks internals: ${text.slice(0, 300)}`)
    const body = JSON.parse(text) as { error?: unknown, message?: unknown }
    if (typeof body.message !== 'string') throw new Error(`error body without a message: ${text.slice(0, 300)}`)
    return
  }
  if (parsed === undefined) throw new Error(`200 to a body that is not JSON: ${text.slice(0, 300)}`)
  const response = JSON.parse(text) as { children?: Array<{ kind?: string, metadata?: { name?: string } }> }
  const children = response.children ?? []
  const has = (kind: string, name: string) => children.some(c => c.kind === kind && c.metadata?.name === name)
  const name = (parsed as { parent: { metadata: { name: string } } }).parent.metadata.name
  for (const service of [name, `${name}-client`]) {
    if (!has('Service', service)) throw new Error(`200 without Service ${service}`)
  }
  for (const pod of healthyMemberPods(parsed, name)) {
    membersChecked++
    if (!has('Pod', pod.name) && !membership.removed.includes(pod.memberId)) {
      throw new Error(`200 drops the pod of healthy member ${pod.name} (writes: ${JSON.stringify(membership.writes.map(w => w.kind))})`)
    }
  }
}

function describeLogged (line: string): string {
  try {
    const entry = JSON.parse(line) as { err?: { message?: string, stack?: string } }
    return `${entry.err?.message ?? line} ${entry.err?.stack?.split('\n').slice(1, 4).map(l => l.trim()).join(' < ') ?? ''}`
  } catch {
    return line.slice(0, 500)
  }
}

// Pods of this cluster (named `<name>-<ordinal>`) that are Running and
// Ready in the request, not being deleted (a pod with a deletionTimestamp
// goes whatever the answer says), and whose member the fake's list holds.
function healthyMemberPods (request: unknown, name: string): Array<{ name: string, memberId: string }> {
  const observation = membership.observation
  if (!observation.reachable) return []
  const pods = Object.values(((request as { children?: Record<string, unknown> }).children?.['Pod.v1'] ?? {}) as Record<string, unknown>)
  const found: Array<{ name: string, memberId: string }> = []
  for (const pod of pods) {
    const p = pod as { metadata?: { name?: unknown, deletionTimestamp?: unknown }, status?: { phase?: unknown, conditions?: unknown } }
    const podName = p.metadata?.name
    if (typeof podName !== 'string' || !new RegExp(`^${name}-(0|[1-9][0-9]*)$`).test(podName)) continue
    if (p.metadata?.deletionTimestamp !== undefined) continue
    const conditions = Array.isArray(p.status?.conditions) ? p.status.conditions as Array<{ type?: unknown, status?: unknown }> : []
    const ready = conditions.some(c => c?.type === 'Ready' && c?.status === 'True')
    const member = observation.members.find(m => m.name === podName)
    if (p.status?.phase === 'Running' && ready && member !== undefined) found.push({ name: podName, memberId: member.id })
  }
  return found
}

// ---- realistic worlds ------------------------------------------------------

const podStates: PodState[] = ['pending', 'starting', 'ready', 'unready', 'failed', 'succeeded', 'terminating']
const worldParamsArb = fc.record({
  size: fc.integer({ min: 1, max: 9 }),
  pods: fc.array(fc.record({
    present: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    state: fc.oneof({ weight: 8, arbitrary: fc.constant<PodState>('ready') }, { weight: 3, arbitrary: fc.constantFrom(...podStates) }),
    member: fc.oneof({ weight: 8, arbitrary: fc.constant('voter' as const) }, { weight: 1, arbitrary: fc.constantFrom('none' as const, 'learner' as const, 'unstarted' as const) }),
    claim: fc.boolean(),
  }), { minLength: 0, maxLength: 9 }),
  reachable: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  leader: fc.oneof({ weight: 6, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.constant(undefined) }),
  persistent: fc.boolean(),
  keyStyle: fc.constantFrom('v1' as const, 'v2' as const),
  bootstrapped: fc.boolean(),
  failWrites: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  loadBalancer: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  tls: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
})
type WorldParams = typeof worldParamsArb extends fc.Arbitrary<infer W> ? W : never

function buildWorld (w: WorldParams): { request: Json, observation: Observation, failWrites: boolean } {
  const pods: PodFixture[] = []
  const claims: number[] = []
  const memberFixtures: Array<{ ordinal: number, learner?: boolean, unstarted?: boolean }> = []
  w.pods.forEach((slot, ordinal) => {
    if (slot.present) pods.push({ ordinal, state: slot.state })
    if (w.persistent && slot.claim) claims.push(ordinal)
    if (slot.member !== 'none') memberFixtures.push({ ordinal, learner: slot.member === 'learner', unstarted: slot.member === 'unstarted' })
  })
  const list = memberList(...memberFixtures)
  const voters = list.filter(m => !m.isLearner && m.name !== '')
  const leaderId = w.leader === undefined || voters.length === 0 ? undefined : voters[w.leader % voters.length]?.id
  const observation: Observation = w.reachable && list.length > 0
    ? { reachable: true, clusterId: '14841639068965178418', leaderId, members: list }
    : unreachable
  const request = syncRequest({
    spec: {
      size: w.size,
      ...(w.persistent ? { pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } } : {}),
      ...(w.loadBalancer ? { loadBalancer: { enabled: true, sourceRanges: ['10.0.0.0/8'] } } : {}),
      ...(w.tls ? { TLS: { static: { member: { peerSecret: 'peer', serverSecret: 'server' }, operatorSecret: 'operator' } } } : {}),
    },
    ...(w.bootstrapped ? { status: { phase: 'Running' as const, clusterID: 'cdf818194e3a8c32' } } : {}),
    pods,
    claims,
    keyStyle: w.keyStyle,
    // The LoadBalancer Service as the API server reports it, with its address.
    ...(w.loadBalancer ? { services: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: `${NAME}-client-lb`, namespace: 'default' }, spec: { type: 'LoadBalancer', ports: [{ name: 'client', port: 2379 }] }, status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }, { hostname: 'etcd.example.com' }] } } }] } : {}),
  })
  if (w.tls) {
    // The operator Secret the customize hook asked for.
    const pem = (what: string) => Buffer.from(`-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`).toString('base64')
    const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'operator', namespace: 'default' }, data: { 'etcd-client.crt': pem('CERTIFICATE'), 'etcd-client.key': pem('PRIVATE KEY'), 'etcd-client-ca.crt': pem('CERTIFICATE') } }
    request.related = { 'Secret.v1': { operator: secret } }
  }
  return { request: JSON.parse(JSON.stringify(request)) as Json, observation, failWrites: w.failWrites }
}

// ---- structural mutations --------------------------------------------------

type Path = Array<string | number>

function pathsOf (value: Json, at: Path = [], into: Path[] = []): Path[] {
  const entries: Array<[string | number, Json]> = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : value !== null && typeof value === 'object' ? Object.entries(value) : []
  for (const [k, v] of entries) {
    into.push([...at, k])
    pathsOf(v, [...at, k], into)
  }
  return into
}

function containerOf (root: Json, path: Path): { holder: Json[] | Record<string, Json>, key: string | number } | undefined {
  let node: Json = root
  for (const step of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return undefined
    node = (Array.isArray(node) ? node[step as number] : node[step as string]) as Json
  }
  const key = path[path.length - 1]
  if (node === null || typeof node !== 'object' || key === undefined) return undefined
  return { holder: node, key }
}

// The same value in another JSON type.
function retype (value: Json): Json {
  if (value === null) return {}
  if (Array.isArray(value)) return Object.fromEntries(value.map((v, i) => [String(i), v]))
  switch (typeof value) {
    case 'string': return value.length > 0 && !Number.isNaN(Number(value)) ? Number(value) : [value]
    case 'number': return String(value)
    case 'boolean': return value ? 'true' : 0
    default: return Object.values(value)
  }
}

// Deeper than JSON.stringify can go (it recurses): a placeholder string in
// the object, replaced by the nested text in the body.
const deepMark = (depth: number, kind: 'array' | 'object'): string => `\u0001deep:${depth}:${kind}\u0001`
function toBody (request: Json): string {
  return JSON.stringify(request).replace(/"\\u0001deep:(\d+):(array|object)\\u0001"/g, (_, depth: string, kind: string) => {
    const n = Number(depth)
    return kind === 'array' ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n)
  })
}

const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(null, '', -1, 0, 1e308, -0.5, 2 ** 64, 'Running', 'True', '__proto__', 'example-0', '../../etc', '\u0000', [], {}),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.integer({ min: 10_000, max: 300_000 }).map(n => 'x'.repeat(n)),
)

const mutationArb = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom('delete', 'replace', 'retype', 'null', 'deep', 'duplicate'),
  value: oddValue,
  depth: fc.constantFrom(64, 1_000, 10_000, 100_000),
})
type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never

// The mutated request, and what was done to it in words (for a failure).
function mutate (request: Json, mutations: Mutation[]): { root: Json, applied: string[] } {
  const root = structuredClone(request)
  const applied: string[] = []
  for (const m of mutations) {
    const paths = pathsOf(root)
    const path = paths[m.pick % Math.max(1, paths.length)]
    if (path === undefined) continue
    const at = containerOf(root, path)
    if (at === undefined) continue
    const shown = JSON.stringify(m.value)
    applied.push(`${m.op} ${path.join('.')}${m.op === 'replace' ? ` = ${shown.length > 60 ? `${shown.slice(0, 60)}...` : shown}` : m.op === 'deep' ? ` (${m.depth} levels)` : ''}`)
    const { holder, key } = at
    const get = () => (Array.isArray(holder) ? holder[key as number] : holder[key as string]) as Json
    const set = (v: Json) => {
      if (Array.isArray(holder)) holder[key as number] = v
      else holder[key as string] = v
    }
    switch (m.op) {
      case 'delete':
        if (Array.isArray(holder)) holder.splice(key as number, 1)
        else delete holder[key as string]
        break
      case 'replace': set(m.value); break
      case 'retype': set(retype(get())); break
      case 'null': set(null); break
      case 'deep': set(deepMark(m.depth, m.pick % 2 === 0 ? 'array' : 'object')); break
      case 'duplicate':
        // The same object twice under another key (v1 and v2 keys at once).
        if (!Array.isArray(holder)) holder[`${String(key)}-copy`] = structuredClone(get())
        break
    }
  }
  return { root, applied }
}

const contentTypeArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'Application/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'application/yaml', 'multipart/form-data; boundary=x', '', 'application/json-patch+json') },
  { weight: 1, arbitrary: fc.constant(undefined) },
)

t.test('structurally mutated realistic requests', async t => {
  await fc.assert(fc.asyncProperty(
    worldParamsArb, fc.array(mutationArb, { minLength: 0, maxLength: 6 }), contentTypeArb,
    async (params, mutations, contentType) => {
      const world = buildWorld(params)
      const { root, applied } = mutate(world.request, mutations)
      const body = toBody(root)
      membership.script(world.observation, world.failWrites)
      const { status, text } = await send({ body: new TextEncoder().encode(body), contentType })
      try {
        if (body.length > BODY_LIMIT && status !== 413 && status !== 415) throw new Error(`a ${body.length}-byte body answered ${status}`)
        check(status, text, JSON.parse(body))
      } catch (error) {
        throw new Error(`after [${applied.join('; ')}] (content-type ${String(contentType)}): ${(error as Error).message}`, { cause: error })
      }
    },
  ), { numRuns: runs, seed })
  t.pass(`${runs} mutated requests`)
})

t.test('garbage bytes, truncated and damaged JSON', async t => {
  const realistic = worldParamsArb.map(w => JSON.stringify(buildWorld(w).request))
  const bodyArb = fc.oneof(
    fc.uint8Array({ maxLength: 4096 }),
    fc.string({ unit: 'binary', maxLength: 2000 }).map(s => new TextEncoder().encode(s)),
    fc.jsonValue({ maxDepth: 4 }).map(v => new TextEncoder().encode(JSON.stringify(v))),
    // Cut anywhere.
    fc.tuple(realistic, fc.double({ min: 0, max: 1, noNaN: true })).map(([s, cut]) => new TextEncoder().encode(s.slice(0, Math.floor(s.length * cut)))),
    // A few bytes overwritten anywhere.
    fc.tuple(realistic, fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })).map(([s, flips]) => {
      const bytes = new TextEncoder().encode(s)
      for (const [where, byte] of flips) bytes[Math.min(bytes.length - 1, Math.floor(where * bytes.length))] = byte
      return bytes
    }),
    // Prototype pollution attempts.
    realistic.map(s => new TextEncoder().encode(s.replace('"parent":', '"__proto__":{"admin":true},"parent":'))),
    realistic.map(s => new TextEncoder().encode(s.replace('"spec":', '"constructor":{"prototype":{"x":1}},"spec":'))),
  )
  await fc.assert(fc.asyncProperty(worldParamsArb, bodyArb, contentTypeArb, async (params, bytes, contentType) => {
    const world = buildWorld(params)
    membership.script(world.observation, world.failWrites)
    const { status, text } = await send({ body: bytes, contentType })
    let parsed: unknown
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes))
    } catch {
      parsed = undefined
    }
    check(status, text, parsed)
  }), { numRuns: runs, seed })
  t.pass(`${runs} damaged bodies`)
})

t.test('bodies over 4 MiB are refused with 413', async t => {
  const valid = JSON.parse(JSON.stringify(syncRequest({ pods: [{ ordinal: 0 }] }))) as Record<string, Json>
  const huge = (bytes: number) => JSON.stringify({ ...valid, related: { 'Secret.v1': { padding: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'padding' }, data: { x: 'A'.repeat(bytes) } } } } })
  for (const size of [BODY_LIMIT + 1, BODY_LIMIT + 4096, 16 * 1024 * 1024]) {
    const body = huge(size)
    membership.script(unreachable, false)
    const whole = await send({ body: new TextEncoder().encode(body), contentType: 'application/json' })
    t.equal(whole.status, 413, `${body.length} bytes with a content-length: 413`)
    check(whole.status, whole.text, undefined)
    // Chunked, no content-length: the server counts what arrives.
    const bytes = new TextEncoder().encode(body)
    const stream = new ReadableStream<Uint8Array>({
      start (controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.subarray(i, i + 64 * 1024))
        controller.close()
      },
    })
    const chunked = await send({ body: stream, contentType: 'application/json' })
    t.equal(chunked.status, 413, `${body.length} bytes chunked: 413`)
    check(chunked.status, chunked.text, undefined)
  }
})

t.test('the server is still up and answers normally', async t => {
  const health = await fetch(`${base}/healthz`)
  t.equal(health.status, 200, '/healthz')
  membership.script(unreachable, false)
  const seed = await send({ body: JSON.stringify(syncRequest()), contentType: 'application/json' })
  t.equal(seed.status, 200, 'a new cluster still gets its seed')
  t.comment(`${sent} requests; answers: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(', ')}; ${membersChecked} healthy member pods checked in 200s`)
  t.ok(membersChecked > 0, 'the 200s had healthy members to keep: the drop check ran')
})
