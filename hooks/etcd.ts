// The real MembershipClient: talks to etcd (3.4+) through its v3 JSON
// gateway (grpc-gateway on the client URL), with node:http/https so client
// TLS works. No logging here: the caller logs what we return or throw.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type {
  ClientTLS,
  EtcdMember,
  EtcdTarget,
  MembershipAction,
  MembershipClient,
  Observation,
} from './membership.js'

export type EtcdErrorCode =
  // No endpoint answered (connection refused, timeout).
  | 'Unreachable'
  // etcd answered and said no (or, from every endpoint, "not now").
  | 'Refused'

export class EtcdError extends Error {
  constructor(readonly code: EtcdErrorCode, message: string) {
    super(message)
    this.name = 'EtcdError'
  }
}

export interface EtcdGatewayOptions {
  // Hard bound on one request, connect to last byte.
  requestTimeoutMs?: number
  // How long a connection used for a read stays open for the next read.
  idleConnectionMs?: number
}

// etcdctl prints member IDs in hex; the gateway sends them in decimal.
export function memberIdHex(id: string): string {
  try {
    return BigInt(id).toString(16)
  } catch {
    return id
  }
}

const STATUS = '/v3/maintenance/status'
const MEMBER_LIST = '/v3/cluster/member/list'

// etcd answered with a non-2xx status. `grpcCode` 14 (Unavailable) means this
// member cannot serve the request right now (a learner, no leader) and
// another member may; anything else is etcd's verdict on the request.
class GatewayAnswer extends Error {
  constructor(readonly httpStatus: number, readonly grpcCode: number | undefined, message: string) {
    super(message)
  }
}
const GRPC_UNAVAILABLE = 14

// What one member said of itself in /v3/maintenance/status.
interface EndpointStatus {
  endpoint: string
  memberId: string
  clusterId: string
  leaderId: string | undefined
  raftTerm: bigint
  isLearner: boolean
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown }
const settle = <T>(promise: Promise<T>): Promise<Settled<T>> =>
  promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  )

// A kept-alive connection failed before any answer: most likely the member
// closed it meanwhile (it restarted). Worth one more try on a fresh one.
class StaleConnection extends Error {}

export class EtcdGateway implements MembershipClient {
  private readonly requestTimeoutMs: number
  // Reads share connections: the member list rides the connection (and, with
  // TLS, the handshake) of the status just before it, and a converging
  // cluster's next sync finds them open. Idle ones close after
  // idleConnectionMs, so thousands of steady clusters hold no sockets.
  // Writes never use these (see execute).
  private readonly readAgents: { http: HttpAgent, https: HttpsAgent }

  constructor(options: EtcdGatewayOptions = {}) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 2000
    const idle = { keepAlive: true, timeout: options.idleConnectionMs ?? 3000 }
    this.readAgents = { http: new HttpAgent(idle), https: new HttpsAgent(idle) }
  }

  // Closes the connections kept for reads (they never keep the process up).
  close(): void {
    this.readAgents.http.destroy()
    this.readAgents.https.destroy()
  }

  // Two rounds of parallel requests, each bounded by requestTimeoutMs.
  async observe(target: EtcdTarget): Promise<Observation> {
    const { endpoints, tls } = target
    if (endpoints.length === 0) return { reachable: false, error: 'no etcd endpoints to observe' }

    const statuses = await Promise.all(
      endpoints.map((endpoint) => settle(this.read(endpoint, STATUS, tls).then((body) => parseStatus(endpoint, body)))),
    )
    const answered: EndpointStatus[] = []
    for (const status of statuses) if (status.ok) answered.push(status.value)
    const ranked = rankStatuses(answered)
    const best = ranked[0]
    if (best === undefined) {
      const firstError = statuses.find((s) => !s.ok)
      const why = firstError && !firstError.ok ? describeError(firstError.error) : 'no answer'
      return { reachable: false, error: `no etcd endpoint answered (tried ${endpoints.join(', ')}): ${why}` }
    }

    // Ask every answering member of the same cluster at once and take the
    // best-ranked answer: a fallback must not cost another timeout. Learners
    // rank last; they refuse member/list ("rpc not supported for learner").
    const candidates = ranked.filter((s) => s.clusterId === best.clusterId)
    const lists = candidates.map((c) => settle(this.read(c.endpoint, MEMBER_LIST, tls).then(parseMembers)))
    const errors: string[] = []
    for (const [i, candidate] of candidates.entries()) {
      const list = await lists[i]
      if (list?.ok) {
        return { reachable: true, clusterId: best.clusterId, leaderId: best.leaderId, members: list.value }
      }
      if (list) errors.push(`${candidate.endpoint}: ${describeError(list.error)}`)
    }
    return { reachable: false, error: `no etcd endpoint listed members: ${errors.join('; ')}` }
  }

  async execute(action: MembershipAction): Promise<void> {
    const { path, body } = requestFor(action)
    const { endpoints, tls } = action.target
    const what = describeAction(action)
    const failures: string[] = []
    let etcdAnswered = false
    for (const endpoint of endpoints) {
      try {
        // A fresh connection: a write is sent once, never retried on a
        // connection that may have gone stale.
        await this.post(endpoint, path, body, tls, false)
        return
      } catch (error) {
        // Unavailable (a learner, no leader, "unhealthy cluster") is this
        // member's state, not a verdict on the request: try the next one.
        if (error instanceof GatewayAnswer && error.grpcCode !== GRPC_UNAVAILABLE) {
          throw new EtcdError('Refused', `${what}: etcd at ${endpoint} refused: ${error.message}`)
        }
        etcdAnswered ||= error instanceof GatewayAnswer
        failures.push(`${endpoint}: ${describeError(error)}`)
      }
    }
    if (etcdAnswered) throw new EtcdError('Refused', `${what}: etcd refused: ${failures.join('; ')}`)
    const why = failures.length > 0 ? failures.join('; ') : 'no endpoints given'
    throw new EtcdError('Unreachable', `${what}: no etcd endpoint answered: ${why}`)
  }

  // A read-only call on a kept connection, asked once more if the kept one
  // turns out to be closed: the agent has dropped it by then and connects
  // afresh (one endpoint never has more than one kept connection).
  private async read(endpoint: string, path: string, tls: ClientTLS | undefined): Promise<unknown> {
    const agent = endpoint.startsWith('https:') ? this.readAgents.https : this.readAgents.http
    try {
      return await this.post(endpoint, path, {}, tls, agent)
    } catch (error) {
      if (!(error instanceof StaleConnection)) throw error
      return await this.post(endpoint, path, {}, tls, agent)
    }
  }

  // POST a JSON body and parse the JSON answer. Rejects with GatewayAnswer
  // when etcd answered non-2xx, with a plain Error when it did not answer.
  private post(endpoint: string, path: string, body: object, tls: ClientTLS | undefined, agent: HttpAgent | false): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let url: URL
      try {
        url = new URL(endpoint.replace(/\/+$/, '') + path)
      } catch {
        reject(new Error(`invalid endpoint URL ${JSON.stringify(endpoint)}`))
        return
      }
      const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined
      if (send === undefined) {
        reject(new Error(`unsupported endpoint scheme ${url.protocol} in ${endpoint}`))
        return
      }
      const payload = JSON.stringify(body)
      const options: RequestOptions & Partial<ClientTLS> = {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        ...(tls && { ca: tls.ca, cert: tls.cert, key: tls.key }),
      }

      let failure: Error | undefined
      let answer: IncomingMessage | undefined
      const fail = (error: Error) => {
        clearTimeout(timer)
        const stale = failure === undefined && answer === undefined && req.reusedSocket
        reject(failure ?? (stale ? new StaleConnection(error.message) : error))
      }
      const req = send(url, options, (res: IncomingMessage) => {
        answer = res
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', fail)
        res.on('end', () => {
          clearTimeout(timer)
          const text = Buffer.concat(chunks).toString('utf8')
          const status = res.statusCode ?? 0
          if (status < 200 || status >= 300) {
            reject(gatewayAnswer(status, text))
            return
          }
          try {
            resolve(JSON.parse(text))
          } catch {
            reject(new Error(`answer to ${path} is not JSON: ${text.slice(0, 100)}`))
          }
        })
      })
      // A hard bound: the socket's own timeout only measures idleness.
      const timer = setTimeout(() => {
        failure = new Error(`no answer within ${this.requestTimeoutMs} ms`)
        req.destroy(failure)
      }, this.requestTimeoutMs)
      req.on('error', fail)
      // Covers a connection cut mid-answer. A complete answer may still be
      // on its way to 'end'.
      req.on('close', () => {
        if (!answer?.complete) fail(new Error('connection closed before the answer was complete'))
      })
      req.end(payload)
    })
  }
}

function requestFor(action: MembershipAction): { path: string; body: object } {
  switch (action.kind) {
    case 'addLearner':
      return { path: '/v3/cluster/member/add', body: { peerURLs: [action.peerURL], isLearner: true } }
    case 'promote':
      return { path: '/v3/cluster/member/promote', body: { ID: action.memberId } }
    case 'remove':
      return { path: '/v3/cluster/member/remove', body: { ID: action.memberId } }
    case 'transferLeadership':
      return { path: '/v3/maintenance/transfer-leadership', body: { targetID: action.toMemberId } }
  }
}

function describeAction(action: MembershipAction): string {
  switch (action.kind) {
    case 'addLearner':
      return `add learner ${action.peerURL} for pod ${action.pod}`
    case 'promote':
      return `promote member ${memberIdHex(action.memberId)} (pod ${action.pod})`
    case 'remove':
      return `remove member ${memberIdHex(action.memberId)} (pod ${action.pod})`
    case 'transferLeadership':
      return `transfer leadership from pod ${action.pod} to member ${memberIdHex(action.toMemberId)} (pod ${action.toPod})`
  }
}

// Most useful first: members that know a leader, the newest raft term, the
// leader itself, voters before learners; otherwise the caller's order.
function rankStatuses(statuses: EndpointStatus[]): EndpointStatus[] {
  const score = (s: EndpointStatus): bigint[] => [
    s.leaderId === undefined ? 0n : 1n,
    s.raftTerm,
    s.leaderId === s.memberId ? 1n : 0n,
    s.isLearner ? 0n : 1n,
  ]
  return [...statuses].sort((a, b) => {
    const [sa, sb] = [score(a), score(b)]
    for (const [i, x] of sa.entries()) {
      const y = sb[i] ?? 0n
      if (x !== y) return x > y ? -1 : 1
    }
    return 0
  })
}

// The gateway's error body: {"error":"...","code":N,"message":"..."}.
function gatewayAnswer(httpStatus: number, text: string): GatewayAnswer {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  if (isRecord(body)) {
    const message = typeof body.message === 'string' && body.message !== '' ? body.message : body.error
    const code = typeof body.code === 'number' ? body.code : undefined
    if (typeof message === 'string' && message !== '') return new GatewayAnswer(httpStatus, code, message)
  }
  const plain = text.trim().slice(0, 200)
  return new GatewayAnswer(httpStatus, undefined, plain === '' ? `HTTP ${httpStatus}` : `HTTP ${httpStatus}: ${plain}`)
}

function describeError(error: unknown): string {
  // Connecting to a name with several addresses fails with an AggregateError
  // whose own message is empty.
  if (error instanceof AggregateError && error.message === '' && error.errors.length > 0) {
    return describeError(error.errors[0])
  }
  if (error instanceof Error) return error.message || ('code' in error ? String(error.code) : error.name)
  return String(error)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// uint64 fields arrive as decimal strings; a number would have lost digits.
function uint64(value: unknown, what: string): string {
  if (typeof value === 'string' && /^\d+$/.test(value)) return value
  throw new Error(`unexpected answer from etcd: ${what} is ${JSON.stringify(value)}`)
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

function parseStatus(endpoint: string, body: unknown): EndpointStatus {
  const status = isRecord(body) ? body : {}
  const header = isRecord(status.header) ? status.header : {}
  // `leader` is absent (3.4) or "0" when this member knows no leader.
  const leader = status.leader === undefined ? '0' : uint64(status.leader, 'leader')
  return {
    endpoint,
    memberId: uint64(header.member_id, 'header.member_id'),
    clusterId: uint64(header.cluster_id, 'header.cluster_id'),
    leaderId: leader === '0' ? undefined : leader,
    raftTerm: BigInt(status.raftTerm === undefined ? '0' : uint64(status.raftTerm, 'raftTerm')),
    isLearner: status.isLearner === true,
  }
}

// Defaults for what protobuf's JSON leaves out: a member added but not
// started has no name and no client URLs; isLearner is omitted when false.
function parseMembers(body: unknown): EtcdMember[] {
  const list = isRecord(body) && Array.isArray(body.members) ? body.members : []
  const members = list.map((m: unknown): EtcdMember => {
    const member = isRecord(m) ? m : {}
    return {
      id: uint64(member.ID, 'member ID'),
      name: typeof member.name === 'string' ? member.name : '',
      peerURLs: strings(member.peerURLs),
      clientURLs: strings(member.clientURLs),
      isLearner: member.isLearner === true,
    }
  })
  return members.sort((a, b) => {
    if (a.name !== b.name) return a.name < b.name ? -1 : 1
    const [x, y] = [BigInt(a.id), BigInt(b.id)]
    return x === y ? 0 : x < y ? -1 : 1
  })
}
