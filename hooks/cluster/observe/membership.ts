// Joins etcd's member list with the observed pods: which member lives in
// which pod, which are healthy or dead, and which pods belong to no member.
import type { EtcdMember } from '../../etcd/types.js'
import type { Cluster, ObservedPod } from '../model.js'
import { claimOrdinal, ordinalOf, podOfMember } from '../names.js'

export interface MemberSlot {
  pod: string // the pod this member runs in (named after it)
  ordinal: number
  member: EtcdMember
  observed: ObservedPod | undefined
  started: boolean // etcd has run in the pod: the member has a name
  // Serves clients on the wanted image: running, Ready, rolled out.
  healthy: boolean
  // The pod is gone, finished or being deleted.
  dead: boolean
  // Its pod was made from another spec.pod (or TLS secrets) than today's.
  outdatedPolicy: boolean
  // Its etcd has been crash-looping, unready, for longer than STUCK_AFTER_MS.
  stuck: boolean
}

// A member this long in a crash loop will not heal by itself (corrupt or
// foreign data, a removed member's leftovers); a slow start never crashes.
export const STUCK_AFTER_MS = 5 * 60 * 1000

export interface Membership {
  clusterId: string
  leader: MemberSlot | undefined
  slots: MemberSlot[] // ordered by ordinal
  voters: MemberSlot[]
  learners: MemberSlot[]
  // Members whose peer URL names no pod of ours (added by hand).
  foreign: EtcdMember[]
  // Pods that are no member (removed members, or failed starts).
  strays: ObservedPod[]
}

export function joinMembership (cluster: Cluster, members: EtcdMember[], clusterId: string, leaderId: string | undefined, now: Date): Membership {
  const podsByName = new Map(cluster.pods.map(p => [p.name, p]))
  const slots: MemberSlot[] = []
  const foreign: EtcdMember[] = []
  for (const member of members) {
    const pod = podOfMember(cluster, member)
    if (pod === undefined) {
      foreign.push(member)
      continue
    }
    const observed = podsByName.get(pod)
    const dead = observed === undefined || observed.terminating
      || observed.phase === 'Failed' || observed.phase === 'Succeeded'
    slots.push({
      pod,
      ordinal: ordinalOf(cluster, pod) ?? 0,
      member,
      observed,
      started: member.name !== '',
      healthy: !dead && member.name !== '' && observed.running && observed.ready && observed.imageRolledOut,
      dead,
      // A pod without the annotation predates it: nothing says it is outdated.
      outdatedPolicy: observed?.podPolicyHash !== undefined && observed.podPolicyHash !== cluster.spec.podPolicyHash,
      stuck: !dead && observed.crashLooping && observed.unreadySince !== undefined
        && now.getTime() - Date.parse(observed.unreadySince) > STUCK_AFTER_MS,
    })
  }
  slots.sort((a, b) => a.ordinal - b.ordinal)
  const memberPods = new Set(slots.map(s => s.pod))
  return {
    clusterId,
    leader: slots.find(s => s.member.id === leaderId),
    slots,
    voters: slots.filter(s => !s.member.isLearner),
    learners: slots.filter(s => s.member.isLearner),
    foreign,
    strays: cluster.pods.filter(p => !memberPods.has(p.name)),
  }
}

// The lowest ordinal not held by any pod, claim or member, above all of
// them: a new member never inherits a name (or data) of an old one.
export function nextOrdinal (cluster: Cluster, membership: Membership | undefined): number {
  const taken = [
    ...cluster.pods.map(p => p.ordinal),
    ...(membership?.slots.map(s => s.ordinal) ?? []),
    ...[...cluster.claims.keys()].map(name => claimOrdinal(cluster, name)).filter(o => o !== undefined),
  ]
  return taken.length === 0 ? 0 : Math.max(...taken) + 1
}
