// Joins etcd's member list with the observed pods: which member lives in
// which pod, which are healthy or dead, and which pods belong to no member.
import type { EtcdMember, Observation } from '../../etcd/types.js'
import { compareVersions, versionOfImage } from '../../etcd/versions.js'
import type { Cluster, ObservedPod } from '../model.js'
import { claimName, claimOrdinal, ordinalOf, podOfMember } from '../names.js'

type Reachable = Extract<Observation, { reachable: true }>

export interface MemberSlot {
  pod: string // the pod this member runs in (named after it)
  ordinal: number
  member: EtcdMember
  observed: ObservedPod | undefined
  started: boolean // etcd has run in the pod: the member has a name
  // The member answered for itself (its own status call).
  answering: boolean
  // It keeps its data on a PersistentVolumeClaim of its own.
  claimed: boolean
  // The version it runs, as etcd reports it (not the image tag); undefined
  // when it did not answer.
  serverVersion: string | undefined
  // Serves clients on the wanted image: running, Ready, rolled out.
  healthy: boolean
  // Its pod is finished or being deleted, or missing while the member does
  // not answer. A pod missing from the children of one sync while its
  // member answers is not dead: the list may be stale (informer lag), or
  // the pod released from this parent (an orphaning delete).
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
  // etcd's cluster version (GET /version), when it said.
  clusterVersion: string | undefined
  // The member etcd names as leader: one of ours (leader), or one that no
  // pod of ours holds (foreignLeader); undefined without a leader.
  leaderId: string | undefined
  leader: MemberSlot | undefined
  foreignLeader: EtcdMember | undefined
  slots: MemberSlot[] // ordered by ordinal
  voters: MemberSlot[]
  learners: MemberSlot[]
  // Members whose peer URL names no pod of ours (added by hand).
  foreign: EtcdMember[]
  // Pods that are no member (removed members, or failed starts).
  strays: ObservedPod[]
}

export function joinMembership (cluster: Cluster, observation: Reachable, now: Date): Membership {
  const { members, leaderId } = observation
  // Without the answers (fakes), a member without its pod counts as gone.
  const answering = new Set(observation.answering ?? [])
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
    const answers = answering.has(member.id)
    const claimed = cluster.claims.has(claimName(pod))
    const dead = observed === undefined
      ? !answers
      : observed.terminating || observed.phase === 'Failed' || observed.phase === 'Succeeded'
    slots.push({
      pod,
      ordinal: ordinalOf(cluster, pod) ?? 0,
      member,
      observed,
      started: member.name !== '',
      answering: answers,
      claimed,
      serverVersion: nonEmpty(observation.serverVersions?.[member.id]),
      healthy: !dead && member.name !== '' && observed !== undefined && observed.running && observed.ready && observed.imageRolledOut,
      dead,
      // A pod without the annotation predates it: nothing says it is outdated.
      outdatedPolicy: observed?.podPolicyHash !== undefined && observed.podPolicyHash !== cluster.spec.podPolicyHash,
      stuck: !dead && observed !== undefined && observed.crashLooping && observed.unreadySince !== undefined
        && now.getTime() - Date.parse(observed.unreadySince) > STUCK_AFTER_MS,
    })
  }
  slots.sort((a, b) => a.ordinal - b.ordinal)
  const memberPods = new Set(slots.map(s => s.pod))
  return {
    clusterId: observation.clusterId,
    clusterVersion: observation.clusterVersion,
    leaderId,
    leader: slots.find(s => s.member.id === leaderId),
    foreignLeader: foreign.find(m => m.id === leaderId),
    slots,
    voters: slots.filter(s => !s.member.isLearner),
    learners: slots.filter(s => s.member.isLearner),
    foreign,
    strays: cluster.pods.filter(p => !memberPods.has(p.name)),
  }
}

// The ordinal after every one this cluster has used: held now by a pod, a
// claim or a member, or recorded in status.highestOrdinal by an earlier
// sync. A new member never inherits the name (or data) of an old one, not
// even of one removed a sync ago.
export function nextOrdinal (cluster: Cluster, membership: Membership | undefined): number {
  const used = highestOrdinal(cluster, membership)
  return used === undefined ? 0 : used + 1
}

export function highestOrdinal (cluster: Cluster, membership: Membership | undefined): number | undefined {
  const taken = [
    ...cluster.pods.map(p => p.ordinal),
    ...(membership?.slots.map(s => s.ordinal) ?? []),
    ...[...cluster.claims.keys()].map(name => claimOrdinal(cluster, name)).filter(o => o !== undefined),
    ...(cluster.previous.highestOrdinal !== undefined ? [cluster.previous.highestOrdinal] : []),
  ]
  return taken.length === 0 ? undefined : Math.max(...taken)
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === '' ? undefined : value
}

// A member joins at the version the cluster runs, not at spec.version:
// while an upgrade is under way or blocked (a skipped minor, a downgrade),
// a member of the new version would be refused by the cluster, or make
// the blocked upgrade happen. The oldest image among the voters; the rolling
// upgrade moves the new member later. Undefined: spec's image.
export function olderImage (cluster: Cluster, membership: Membership): string | undefined {
  const images = membership.voters.map(s => s.observed?.image).filter((i): i is string => i !== undefined && i !== '')
  if (images.every(i => i === cluster.spec.image)) return undefined
  return [...images].sort((a, b) => compareVersions(versionOfImage(a), versionOfImage(b)))[0]
}
