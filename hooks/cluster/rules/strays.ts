// Members without pods of ours, and pods without members.
import { removal } from './steps.js'
import { RESYNC_CONVERGING, type ObservedSituation, type Step } from './step.js'

// A member we did not add (no pod of ours can hold it: added by hand, or
// left by a crashed step): remove it. Runs after quorumUnhealthy, which
// counts such members as unhealthy, so quorum holds without it. If it
// leads, leadership moves to a healthy member of ours first.
export function removeForeignMember ({ cluster, membership }: ObservedSituation): Step | undefined {
  const foreign = membership.foreign[0]
  if (foreign === undefined) return undefined
  if (foreign === membership.foreignLeader) {
    const to = membership.voters.find(s => s.healthy)
    if (to === undefined || foreign.clientURLs.length === 0) return undefined
    return {
      rule: 'transferLeadershipFromForeign',
      action: { kind: 'transferLeadership', pod: foreign.name, toPod: to.pod, toMemberId: to.member.id, target: { endpoints: foreign.clientURLs } },
      lastAction: `moved leadership from member ${foreign.name || foreign.id} (no pod of ours) to ${to.pod}`,
      resyncAfterSeconds: RESYNC_CONVERGING,
    }
  }
  return {
    rule: 'removeForeignMember',
    action: removal(cluster, membership, { pod: foreign.name, member: foreign }),
    lastAction: `removed member ${foreign.name || foreign.peerURLs.join(',')} that has no pod`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// A pod that is no member (removed, or its member never added): it must not
// run on as a stale member.
export function deleteStrayPod ({ membership }: ObservedSituation): Step | undefined {
  if (membership.strays.length === 0) return undefined
  const strays = membership.strays.map(p => p.name)
  return {
    rule: 'deleteStrayPod',
    deletePods: strays,
    lastAction: `deleted pod ${strays.join(', ')} that is no member`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}
