// What the hook knows of etcd's own membership, and the one write per sync it
// may ask for. The planner reads `Observation` and returns a
// `MembershipAction`; a `MembershipClient` (hooks/etcd/gateway.ts against
// real etcd, or an in-process fake in benchmarks) does the I/O.

// etcd member IDs are uint64: kept as decimal strings, because JavaScript
// numbers lose digits past 2^53.
export interface EtcdMember {
  id: string
  // Empty for a member that was added but has not started yet.
  name: string
  peerURLs: string[]
  clientURLs: string[]
  isLearner: boolean
}

export type Observation =
  | {
    reachable: true
    clusterId: string
    // Undefined when the answering member knows of no leader (quorum lost).
    leaderId: string | undefined
    members: EtcdMember[]
    // IDs of the members that answered for themselves (their own status
    // call). A member whose pod is missing from a (possibly stale) list of
    // children but that answers is alive. Undefined when nobody asked
    // (fakes): then a member without its pod counts as gone.
    answering?: string[] | undefined
    // What etcd says of versions (not image tags): each answering member's
    // server version by member ID, and the cluster version (the lowest
    // minor all members run, which etcd itself enforces). Undefined: not
    // asked (fakes).
    serverVersions?: Record<string, string> | undefined
    clusterVersion?: string | undefined
    // The member list is the answering member's own, not a quorum read
    // (quorum is lost, or the read timed out): it may miss the latest
    // membership change, so no membership write may follow from it.
    membersStale?: boolean | undefined
    // Maintenance (issue 15), from the same status calls: each answering
    // member's backend by member ID, and the highest revision reported.
    space?: Record<string, BackendSpace> | undefined
    revision?: string | undefined
    // etcd's alarms, asked only when a status reported errors (a healthy
    // cluster costs no call); undefined: not asked.
    alarms?: EtcdAlarm[] | undefined
    // Members asked for a read of their backend (a defrag was under way)
    // that did not answer in time: still defragmenting.
    backendBusy?: string[] | undefined
  }
  | { reachable: false, error: string }

export interface BackendSpace {
  dbSize: number // bytes of the backend file
  dbSizeInUse: number // bytes of it in use
}

export interface EtcdAlarm {
  memberId: string
  alarm: string // NOSPACE, CORRUPT
}

// What the shell asks the gateway to look at beyond the usual reads.
export interface ObserveExtras {
  // Client URLs whose backend to probe (a member being defragmented).
  probeBackend?: string[]
}

// Client TLS for talking to members whose client URLs are https
// (spec.TLS.static.operatorSecret), PEM text.
export interface ClientTLS {
  ca: string
  cert: string
  key: string
}

// Where to send a request: tried in order until one answers.
export interface EtcdTarget {
  endpoints: string[]
  tls?: ClientTLS | undefined
}

export type MembershipAction =
  | { kind: 'addLearner', pod: string, peerURL: string, target: EtcdTarget }
  | { kind: 'promote', pod: string, memberId: string, target: EtcdTarget }
  | { kind: 'remove', pod: string, memberId: string, target: EtcdTarget }
  // Sent to the leader (target holds only its endpoint).
  | { kind: 'transferLeadership', pod: string, toPod: string, toMemberId: string, target: EtcdTarget }
  // Maintenance writes (issue 15). A defragment is sent to its member
  // only, and counts as started when it outlasts a short timeout.
  | { kind: 'defragment', pod: string, memberId: string, target: EtcdTarget }
  | { kind: 'compact', pod: string, revision: string, target: EtcdTarget }
  | { kind: 'disarmAlarm', pod: string, memberId: string, alarm: string, target: EtcdTarget }

// Calls of one sync share one deadline (epoch milliseconds): together they
// must end before Metacontroller's hook timeout, or it calls again while
// this sync may still write.
export interface MembershipClient {
  // Read-only: member list, cluster ID and leader. Never throws: an
  // unreachable cluster is an Observation with reachable: false.
  observe(target: EtcdTarget, deadline?: number, extras?: ObserveExtras): Promise<Observation>
  // The single write of a sync. Throws EtcdError when etcd refuses or
  // cannot be reached.
  execute(action: MembershipAction, deadline?: number): Promise<void>
}
