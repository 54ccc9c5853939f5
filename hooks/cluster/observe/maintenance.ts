// What the maintenance rules and the status read (issue 15): each voter's
// backend (size, in use, fragmentation, quota use), etcd's alarms, and the
// defrag or NOSPACE recovery an earlier sync recorded in the status.
import { ETCD_DEFAULT_QUOTA_BYTES, type MaintenanceStatus } from '../../api/maintenance.js'
import type { EtcdAlarm, Observation } from '../../etcd/types.js'
import type { Cluster } from '../model.js'
import type { Membership, MemberSlot } from './membership.js'

type Reachable = Extract<Observation, { reachable: true }>

// A defrag never runs for less than this to reclaim: on a small db the
// fragmentation ratio is noise.
export const MIN_RECLAIM_BYTES = 1024 * 1024

export interface MemberBackend {
  slot: MemberSlot
  dbSize: number
  dbSizeInUse: number
  reclaimable: number // dbSize - dbSizeInUse
  fragmentation: number // reclaimable / dbSize
  quotaUsage: number // dbSize / quota
}

export interface MaintenanceView {
  quotaBytes: number // spec's, or etcd's default
  backends: MemberBackend[] // voters that reported their backend, by ordinal
  alarms: Array<EtcdAlarm & { pod: string | undefined }>
  noSpace: boolean // a NOSPACE alarm is raised
  // The defrag an earlier sync started (status), and whether it still runs:
  // its member does not answer, or its backend is still held.
  defrag: { record: NonNullable<MaintenanceStatus['defragmenting']>, slot: MemberSlot | undefined, running: boolean } | undefined
  // The NOSPACE recovery recorded so far.
  cycle: MaintenanceStatus['noSpace']
}

export function readMaintenance (cluster: Cluster, observation: Reachable, membership: Membership): MaintenanceView {
  const quotaBytes = cluster.spec.maintenance.quotaBytes ?? ETCD_DEFAULT_QUOTA_BYTES
  const previous = cluster.previous.maintenance
  const backends = membership.voters.flatMap(slot => {
    const space = observation.space?.[slot.member.id]
    if (space === undefined || !slot.answering) return []
    const reclaimable = Math.max(0, space.dbSize - space.dbSizeInUse)
    return [{
      slot,
      dbSize: space.dbSize,
      dbSizeInUse: space.dbSizeInUse,
      reclaimable,
      fragmentation: space.dbSize > 0 ? reclaimable / space.dbSize : 0,
      quotaUsage: space.dbSize / quotaBytes,
    }]
  })
  const alarms = (observation.alarms ?? []).map(a => ({ ...a, pod: membership.slots.find(s => s.member.id === a.memberId)?.pod }))
  const record = previous?.defragmenting
  const slot = record === undefined ? undefined : membership.slots.find(s => s.pod === record.member)
  return {
    quotaBytes,
    backends,
    alarms,
    noSpace: alarms.some(a => a.alarm === 'NOSPACE'),
    defrag: record === undefined
      ? undefined
      : { record, slot, running: slot !== undefined && (!slot.answering || (observation.backendBusy ?? []).includes(slot.member.id)) },
    cycle: previous?.noSpace,
  }
}

// Members in the order they are defragmented: followers by ordinal, then
// the leader (after leadership has moved away).
export function leaderLast<T extends { slot: MemberSlot }> (items: T[], membership: Membership): T[] {
  return [...items.filter(i => i.slot !== membership.leader), ...items.filter(i => i.slot === membership.leader)]
}
