import { addLearner } from './steps.js'
import type { ObservedSituation, Step } from './step.js'

// Members made from an old pod policy: pod specs cannot change in place, so
// add one new member first; removeMember then takes an old one out. Named
// as removeMember will pick it: a follower before the leader.
export function replaceMember ({ cluster, membership }: ObservedSituation): Step | undefined {
  const outdated = membership.voters.filter(s => s.outdatedPolicy)
  const replaced = outdated.find(s => s !== membership.leader) ?? outdated[0]
  if (replaced === undefined) return undefined
  return addLearner(cluster, membership, 'replaceMember', pod => `added member ${pod} to replace ${replaced.pod} (pod policy changed)`)
}
