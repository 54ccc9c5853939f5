// The real MembershipClient: talks to etcd (3.4+) through its v3 JSON
// gateway (grpc-gateway on the client URL). No logging here: the caller
// logs what we return or throw.
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { describeAction, requestFor } from './actions.js'
import { parseAlarms, parseMembers, parseStatus, rankStatuses, type EndpointStatus } from './answers.js'
import { compareVersions } from './versions.js'
import { AnswerLost, EtcdError, GRPC_UNAVAILABLE, GatewayAnswer, StaleConnection, describeError, isRecord } from './errors.js'
import { postJSON } from './http.js'
import type { ClientTLS, EtcdAlarm, EtcdMember, EtcdTarget, MembershipAction, MembershipClient, Observation, ObserveExtras } from './types.js'

export { EtcdError, type EtcdErrorCode } from './errors.js'
export { memberIdHex } from './answers.js'

export interface EtcdGatewayOptions {
  // Hard bound on one request, connect to last byte.
  requestTimeoutMs?: number
  // How long a connection used for a read stays open for the next read.
  idleConnectionMs?: number
}

const STATUS = '/v3/maintenance/status'
const MEMBER_LIST = '/v3/cluster/member/list'
const RANGE = '/v3/kv/range'
const VERSION = '/version'
const ALARM = '/v3/maintenance/alarm'
// A serializable count of the key "\0" on one member: answered from its
// own backend, which a defragment holds locked until it is done.
const BACKEND_READ = { key: 'AA==', count_only: true, serializable: true }
// How long a member under defrag may take to answer that read.
export const BACKEND_PROBE_MS = 500
// A defragment blocks its member for seconds to minutes, longer than a
// sync may wait: it is sent with this bound, and a member that has not
// answered by then is defragmenting (the later syncs observe the end).
export const DEFRAG_START_MS = 1000
// A linearizable (not serializable) count of the key "\0": a quorum read
// that returns no data.
const QUORUM_READ = { key: 'AA==', count_only: true }

type Settled<T> = { ok: true, value: T } | { ok: false, error: unknown }
const settle = <T>(promise: Promise<T>): Promise<Settled<T>> =>
  promise.then(
    value => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  )

export class EtcdGateway implements MembershipClient {
  private readonly requestTimeoutMs: number
  // Reads share connections: the member list rides the connection (and, with
  // TLS, the handshake) of the status just before it, and a converging
  // cluster's next sync finds them open. Idle ones close after
  // idleConnectionMs, so thousands of steady clusters hold no sockets.
  // Writes never use these (see execute).
  private readonly readAgents: { http: HttpAgent, https: HttpsAgent }

  constructor (options: EtcdGatewayOptions = {}) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 2000
    const idle = { keepAlive: true, timeout: options.idleConnectionMs ?? 3000 }
    this.readAgents = { http: new HttpAgent(idle), https: new HttpsAgent(idle) }
  }

  // Closes the connections kept for reads (they never keep the process up).
  close (): void {
    this.readAgents.http.destroy()
    this.readAgents.https.destroy()
  }

  // Rounds of parallel requests, each bounded by requestTimeoutMs: status
  // of every endpoint, member list, and status of members not asked yet.
  async observe (target: EtcdTarget, deadline = Infinity, extras: ObserveExtras = {}): Promise<Observation> {
    const { endpoints, tls } = target
    if (endpoints.length === 0) return { reachable: false, error: 'no etcd endpoints to observe' }

    const statuses = await Promise.all(
      endpoints.map(endpoint => settle(this.read(endpoint, STATUS, tls, deadline).then(body => parseStatus(endpoint, body)))),
    )
    const answered: EndpointStatus[] = []
    for (const status of statuses) if (status.ok) answered.push(status.value)
    const ranked = rankStatuses(answered)
    const best = ranked[0]
    if (best === undefined) {
      const firstError = statuses.find(s => !s.ok)
      const why = firstError?.ok === false ? describeError(firstError.error) : 'no answer'
      return { reachable: false, error: `no etcd endpoint answered (tried ${endpoints.join(', ')}): ${why}` }
    }

    // Ask every answering member of the same cluster at once and take the
    // best-ranked answer: a fallback must not cost another timeout. Learners
    // rank last; they refuse member/list ("rpc not supported for learner").
    const candidates = ranked.filter(s => s.clusterId === best.clusterId)
    const lists = candidates.map(c => settle(this.linearizableMembers(c, tls, deadline)))
    const errors: string[] = []
    for (const [i, candidate] of candidates.entries()) {
      const list = await lists[i]
      if (list?.ok) {
        const ours = answered.filter(s => s.clusterId === best.clusterId)
        // In the same round (no added wait): the alarms only when a status
        // reported errors, the backend probe only while a defrag runs.
        const [statuses, clusterVersion, alarms, busy] = await Promise.all([
          this.answering(list.value.members, ours, tls, deadline),
          this.clusterVersion(candidate.endpoint, tls, deadline),
          ours.some(s => s.errors.length > 0) ? this.alarms(candidate.endpoint, tls, deadline) : undefined,
          this.backendBusy(extras.probeBackend ?? [], ours, tls, deadline),
        ])
        return {
          reachable: true,
          clusterId: best.clusterId,
          leaderId: best.leaderId,
          members: list.value.members,
          ...(list.value.linearizable ? {} : { membersStale: true }),
          answering: statuses.map(s => s.memberId),
          serverVersions: Object.fromEntries(statuses.map(s => [s.memberId, s.version])),
          clusterVersion,
          ...maintenanceFacts(statuses, alarms, busy),
        }
      }
      if (list) errors.push(`${candidate.endpoint}: ${describeError(list.error)}`)
    }
    return { reachable: false, error: `no etcd endpoint listed members: ${errors.join('; ')}` }
  }

  // The member list decides removals: it must include every membership
  // change committed so far, so that a member added a sync ago is never
  // taken for a stray. etcd 3.5+ reads it linearizably when asked; 3.4
  // serves it from the member's own store (and ignores the field), so a
  // linearizable read on the same member first makes it catch up with
  // everything committed.
  // Without quorum a linearizable read fails: then the member's own list,
  // marked stale (enough to restart pods on their volumes, which brings
  // quorum back; never to decide a membership write).
  private async linearizableMembers (member: EndpointStatus, tls: ClientTLS | undefined, deadline: number): Promise<{ members: EtcdMember[], linearizable: boolean }> {
    try {
      if (compareVersions(member.version, '3.5.0') < 0) await this.read(member.endpoint, RANGE, tls, deadline, QUORUM_READ)
      return { members: parseMembers(await this.read(member.endpoint, MEMBER_LIST, tls, deadline, { linearizable: true })), linearizable: true }
    } catch (error) {
      if (!(error instanceof GatewayAnswer) && this.timeout(deadline) === 0) throw error
      return { members: parseMembers(await this.read(member.endpoint, MEMBER_LIST, tls, deadline)), linearizable: false }
    }
  }

  // The members that answered for themselves: those asked already, and
  // those listed with client URLs nobody asked (their pod is not among the
  // children the hook was shown), asked now.
  private async answering (members: EtcdMember[], answered: EndpointStatus[], tls: ClientTLS | undefined, deadline: number): Promise<EndpointStatus[]> {
    const asked = new Set(answered.map(s => s.endpoint))
    const byId = new Map(answered.map(s => [s.memberId, s]))
    const unasked = members.filter(m => !byId.has(m.id) && m.clientURLs.length > 0 && !m.clientURLs.some(url => asked.has(url)))
    const more = await Promise.all(unasked.map(m => settle(this.read(m.clientURLs[0] ?? '', STATUS, tls, deadline).then(body => parseStatus(m.clientURLs[0] ?? '', body)))))
    for (const [i, status] of more.entries()) {
      // Only a member that is who it is listed as counts.
      if (status.ok && status.value.memberId === unasked[i]?.id) byId.set(status.value.memberId, status.value)
    }
    return members.map(m => byId.get(m.id)).filter(s => s !== undefined)
  }

  // etcd's cluster version (GET /version), or undefined when it does not
  // say (the observation stands without it).
  private async clusterVersion (endpoint: string, tls: ClientTLS | undefined, deadline: number): Promise<string | undefined> {
    const agent = endpoint.startsWith('https:') ? this.readAgents.https : this.readAgents.http
    try {
      const body = await postJSON(endpoint, VERSION, {}, { tls, agent, timeoutMs: this.timeout(deadline), method: 'GET' })
      return isRecord(body) && typeof body.etcdcluster === 'string' ? body.etcdcluster : undefined
    } catch {
      return undefined
    }
  }

  // etcd's alarms, or undefined when the call failed (the next sync asks
  // again; the statuses' errors stay).
  private async alarms (endpoint: string, tls: ClientTLS | undefined, deadline: number): Promise<EtcdAlarm[] | undefined> {
    try {
      return parseAlarms(await this.read(endpoint, ALARM, tls, deadline, { action: 'GET' }))
    } catch {
      return undefined
    }
  }

  // Member IDs of those probed whose backend did not answer within
  // BACKEND_PROBE_MS (a defragment holds it).
  private async backendBusy (endpoints: string[], statuses: EndpointStatus[], tls: ClientTLS | undefined, deadline: number): Promise<string[]> {
    const probed = statuses.filter(s => endpoints.includes(s.endpoint))
    const answers = await Promise.all(probed.map(s => settle(postJSON(s.endpoint, RANGE, BACKEND_READ, {
      tls, agent: false, timeoutMs: Math.min(BACKEND_PROBE_MS, this.timeout(deadline)),
    }))))
    return probed.filter((_, i) => answers[i]?.ok !== true).map(s => s.memberId)
  }

  async execute (action: MembershipAction, deadline = Infinity): Promise<void> {
    if (action.kind === 'defragment') {
      await this.startDefragment(action, deadline)
      return
    }
    const { path, body } = requestFor(action)
    const { endpoints, tls } = action.target
    const what = describeAction(action)
    const failures: string[] = []
    let etcdAnswered = false
    for (const endpoint of endpoints) {
      try {
        // A fresh connection: a write is sent once, never retried on a
        // connection that may have gone stale.
        await postJSON(endpoint, path, body, { tls, agent: false, timeoutMs: this.timeout(deadline) })
        return
      } catch (error) {
        // Compacting again to a revision compacted already: done.
        if (action.kind === 'compact' && error instanceof GatewayAnswer && error.message.includes('has been compacted')) return
        // Unavailable (a learner, no leader, "unhealthy cluster") is this
        // member's state, not a verdict on the request: try the next one.
        if (error instanceof GatewayAnswer && error.grpcCode !== GRPC_UNAVAILABLE) {
          throw new EtcdError('Refused', `${what}: etcd at ${endpoint} refused: ${error.message}`)
        }
        // Sent, unanswered: sending it elsewhere could apply it twice (a
        // second learner added). Safety item 21: its outcome is unknown.
        if (error instanceof AnswerLost) {
          throw new EtcdError('Unknown', `${what}: sent to ${endpoint}, no answer (${error.message}): it may still be applied; the next sync reads the member list first`)
        }
        etcdAnswered ||= error instanceof GatewayAnswer
        failures.push(`${endpoint}: ${describeError(error)}`)
      }
    }
    if (etcdAnswered) throw new EtcdError('Refused', `${what}: etcd refused: ${failures.join('; ')}`)
    const why = failures.length > 0 ? failures.join('; ') : 'no endpoints given'
    throw new EtcdError('Unreachable', `${what}: no etcd endpoint answered: ${why}`)
  }

  // The defragment of one member, started: sent once on a fresh
  // connection; an answer within DEFRAG_START_MS means done, no answer by
  // then means it runs on (etcd keeps going after the client leaves).
  // Refusals and connection errors are failures, as for any write.
  private async startDefragment (action: Extract<MembershipAction, { kind: 'defragment' }>, deadline: number): Promise<void> {
    const endpoint = action.target.endpoints[0]
    const what = describeAction(action)
    if (endpoint === undefined) throw new EtcdError('Unreachable', `${what}: no endpoint given`)
    const timeoutMs = Math.min(DEFRAG_START_MS, this.timeout(deadline))
    try {
      await postJSON(endpoint, '/v3/maintenance/defragment', {}, { tls: action.target.tls, agent: false, timeoutMs })
    } catch (error) {
      // Sent and not answered within the bound: it runs.
      if (error instanceof AnswerLost) return
      if (error instanceof GatewayAnswer) throw new EtcdError('Refused', `${what}: etcd at ${endpoint} refused: ${error.message}`)
      throw new EtcdError('Unreachable', `${what}: ${endpoint}: ${describeError(error)}`)
    }
  }

  // A read-only call on a kept connection, asked once more if the kept one
  // turns out to be closed: the agent has dropped it by then and connects
  // afresh (one endpoint never has more than one kept connection).
  private async read (endpoint: string, path: string, tls: ClientTLS | undefined, deadline: number, body: object = {}): Promise<unknown> {
    const agent = endpoint.startsWith('https:') ? this.readAgents.https : this.readAgents.http
    try {
      return await postJSON(endpoint, path, body, { tls, agent, timeoutMs: this.timeout(deadline) })
    } catch (error) {
      if (!(error instanceof StaleConnection)) throw error
      return await postJSON(endpoint, path, body, { tls, agent, timeoutMs: this.timeout(deadline) })
    }
  }

  // One request's bound: requestTimeoutMs, or what is left of the sync's
  // deadline (a request with no time left fails at once).
  private timeout (deadline: number): number {
    return Math.max(0, Math.min(this.requestTimeoutMs, deadline - Date.now()))
  }
}

// Backend sizes, the highest revision, alarms and busy backends, for the
// maintenance rules.
function maintenanceFacts (statuses: EndpointStatus[], alarms: EtcdAlarm[] | undefined, busy: string[]): Pick<Extract<Observation, { reachable: true }>, 'space' | 'revision' | 'alarms' | 'backendBusy'> {
  const revision = statuses.reduce((max, s) => BigInt(s.revision) > BigInt(max) ? s.revision : max, '0')
  return {
    space: Object.fromEntries(statuses.map(s => [s.memberId, { dbSize: s.dbSize, dbSizeInUse: s.dbSizeInUse }])),
    revision,
    ...(alarms !== undefined ? { alarms } : {}),
    ...(busy.length > 0 ? { backendBusy: busy } : {}),
  }
}
