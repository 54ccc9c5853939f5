// Steps more than one rule takes: a learner joins, leadership moves.
import type { Cluster, NewMemberPod } from '../model.js'
import { clientURL, peerURL, podName } from '../names.js'
import { nextOrdinal, olderImage, type Membership, type MemberSlot } from '../observe/membership.js'
import { writeTarget } from '../targets.js'
import { RESYNC_CONVERGING, type Step, type StepName } from './step.js'

// The next ordinal joins as a learner; its pod is created in the same answer.
export function addLearner (cluster: Cluster, membership: Membership, rule: StepName, describe: (pod: string) => string): Step {
  const pod = podName(cluster, nextOrdinal(cluster, membership))
  const url = peerURL(cluster, pod)
  return {
    rule,
    action: { kind: 'addLearner', pod, peerURL: url, target: writeTarget(cluster, membership) },
    createPods: [joiningPod(cluster, membership, pod, { pod, url })],
    lastAction: describe(pod),
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

export function transferLeadership (cluster: Cluster, membership: Membership, from: MemberSlot, rule: StepName): Step {
  // The lowest-ordinal healthy voter on the wanted image takes over.
  const candidates = membership.voters.filter(s => s !== from && s.healthy)
  const to = candidates.find(s => s.observed?.image === cluster.spec.image) ?? candidates[0]
  // (The rules call this with every voter healthy and at least two.)
  if (to === undefined) return { rule, waitingFor: 'a healthy member to take over leadership', resyncAfterSeconds: RESYNC_CONVERGING }
  return {
    rule,
    action: {
      kind: 'transferLeadership',
      pod: from.pod,
      toPod: to.pod,
      toMemberId: to.member.id,
      target: { endpoints: [clientURL(cluster, from.pod)] },
    },
    lastAction: `moved leadership from ${from.pod} to ${to.pod}`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// The pod of a member joining a running cluster: `--initial-cluster` must
// list every member, this one included, by the names their pods have.
export function joiningPod (cluster: Cluster, membership: Membership, pod: string, adding?: { pod: string, url: string }): NewMemberPod {
  const initialCluster = membership.slots.map(s => `${s.pod}=${s.member.peerURLs.join(`,${s.pod}=`)}`)
  if (adding !== undefined) initialCluster.push(`${adding.pod}=${adding.url}`)
  // A member joins at the version the cluster runs (see olderImage).
  const image = olderImage(cluster, membership)
  return image === undefined
    ? { pod, initialClusterState: 'existing', initialCluster }
    : { pod, initialClusterState: 'existing', initialCluster, image }
}

// A member's removal from etcd, sent to healthy voters.
export function removal (cluster: Cluster, membership: Membership, slot: { pod: string, member: { id: string } }): Step['action'] {
  return { kind: 'remove', pod: slot.pod, memberId: slot.member.id, target: writeTarget(cluster, membership) }
}
