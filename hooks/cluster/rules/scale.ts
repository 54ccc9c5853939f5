// Growing and shrinking to spec.size, one member per sync.
import { addLearner, removal, transferLeadership } from './steps.js'
import { RESYNC_CONVERGING, type ObservedSituation, type Step } from './step.js'

// Too few members: add the next one as a learner, and its pod.
export function addMember ({ cluster, membership }: ObservedSituation): Step | undefined {
  if (membership.voters.length >= cluster.spec.size) return undefined
  return addLearner(cluster, membership, 'addMember', pod => `added member ${pod} as a learner`)
}

// Too many: remove a member made from an old pod policy if there is one
// (the end of a replacement), else the highest ordinal; the leader only
// after handing leadership away.
export function removeMember ({ cluster, membership }: ObservedSituation): Step | undefined {
  const { size } = cluster.spec
  if (membership.voters.length <= size) return undefined
  const outdated = membership.voters.filter(s => s.outdatedPolicy)
  const victim = outdated.find(s => s !== membership.leader) ?? outdated[0] ?? membership.voters.at(-1)
  if (victim === undefined) return undefined
  if (victim === membership.leader) return transferLeadership(cluster, membership, victim, 'transferLeadershipBeforeRemoval')
  return {
    rule: 'removeMember',
    action: removal(cluster, membership, victim),
    deletePods: [victim.pod],
    lastAction: victim.outdatedPolicy
      ? `removed member ${victim.pod} (replaced: made from an old pod policy)`
      : `removed member ${victim.pod} (scaling down to ${size})`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}
