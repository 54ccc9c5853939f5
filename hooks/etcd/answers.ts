// etcd's JSON answers, read into our types: uint64 IDs kept as decimal
// strings, defaults for what protobuf's JSON leaves out.
import { isRecord } from './errors.js'
import type { EtcdMember } from './types.js'

// etcdctl prints member IDs in hex; the gateway sends them in decimal.
export function memberIdHex (id: string): string {
  try {
    return BigInt(id).toString(16)
  } catch {
    return id
  }
}

// What one member said of itself in /v3/maintenance/status.
export interface EndpointStatus {
  endpoint: string
  memberId: string
  clusterId: string
  leaderId: string | undefined
  raftTerm: bigint
  isLearner: boolean
  version: string // the member's server version, e.g. 3.4.23
  dbSize: number
  dbSizeInUse: number
  revision: string // header.revision: the member's current revision
  // Alarms and health problems (3.4+: "memberID:... alarm:NOSPACE").
  errors: string[]
}

// uint64 fields arrive as decimal strings; a number would have lost digits.
function uint64 (value: unknown, what: string): string {
  if (typeof value === 'string' && /^\d+$/.test(value)) return value
  throw new Error(`unexpected answer from etcd: ${what} is ${JSON.stringify(value)}`)
}

function strings (value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

export function parseStatus (endpoint: string, body: unknown): EndpointStatus {
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
    version: typeof status.version === 'string' ? status.version : '',
    dbSize: bytes(status.dbSize),
    dbSizeInUse: bytes(status.dbSizeInUse),
    revision: header.revision === undefined ? '0' : uint64(header.revision, 'header.revision'),
    errors: strings(status.errors),
  }
}

// Sizes arrive as int64 decimal strings, left out when 0.
function bytes (value: unknown): number {
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : 0
}

// /v3/maintenance/alarm {"action":"GET"}: {"alarms":[{"memberID","alarm"}]}.
export function parseAlarms (body: unknown): Array<{ memberId: string, alarm: string }> {
  const list = isRecord(body) && Array.isArray(body.alarms) ? body.alarms : []
  return list.map((a: unknown) => {
    const alarm = isRecord(a) ? a : {}
    return { memberId: uint64(alarm.memberID, 'alarm memberID'), alarm: typeof alarm.alarm === 'string' ? alarm.alarm : 'NONE' }
  })
}

// A member added but not started has no name and no client URLs;
// isLearner is omitted when false.
export function parseMembers (body: unknown): EtcdMember[] {
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

// Most useful first: members that know a leader, the newest raft term, the
// leader itself, voters before learners; otherwise the caller's order.
export function rankStatuses (statuses: EndpointStatus[]): EndpointStatus[] {
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
