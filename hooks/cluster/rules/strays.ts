// Members without pods of ours, and pods without members.
import { removal } from './steps.js'
import { RESYNC_CONVERGING, type ObservedSituation, type Step } from './step.js'

// A member we did not add (no pod of ours can hold it): remove it.
export function removeForeignMember ({ cluster, membership }: ObservedSituation): Step | undefined {
  const foreign = membership.foreign[0]
  if (foreign === undefined) return undefined
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
