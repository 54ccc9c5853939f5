// A new etcd image rolls in place, one member at a time.
import { parseVersion, upgradeRefusal, versionOfImage } from '../../etcd/versions.js'
import type { MemberSlot } from '../observe/membership.js'
import { transferLeadership } from './steps.js'
import { RESYNC_CONVERGING, RESYNC_STEADY, type ObservedSituation, type Step } from './step.js'

// Members on another image: move one, followers first, the leader last
// (after handing leadership to an upgraded member).
export function upgradeMember ({ cluster, membership }: ObservedSituation): Step | undefined {
  const outdated = membership.voters.filter(s => s.observed?.image !== cluster.spec.image)
  if (outdated.length === 0) return undefined
  const blocked = upgradeBlocked(outdated, cluster.spec.version, membership.clusterVersion)
  if (blocked !== undefined) return { rule: 'upgradeBlocked', waitingFor: blocked, resyncAfterSeconds: RESYNC_STEADY }
  const follower = outdated.find(s => s !== membership.leader)
  const next = follower ?? outdated[0]
  if (next === undefined) return undefined
  if (follower === undefined && membership.voters.length > 1) {
    return transferLeadership(cluster, membership, next, 'transferLeadershipBeforeUpgrade')
  }
  return {
    rule: 'upgradeMember',
    updateImage: { pod: next.pod, image: cluster.spec.image },
    lastAction: `upgrading ${next.pod} to ${cluster.spec.image}`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// etcd upgrades one minor version at a time and cannot downgrade a minor.
// What a member runs is what etcd reports (an image retagged, or named by
// digest, says nothing); the image tag only when the member did not answer.
function upgradeBlocked (outdated: MemberSlot[], target: string, clusterVersion: string | undefined): string | undefined {
  const wanted = parseVersion(target)
  const cluster = parseVersion(clusterVersion ?? '')
  if (wanted !== undefined && cluster !== undefined && (wanted[0] < cluster[0] || (wanted[0] === cluster[0] && wanted[1] < cluster[1]))) {
    return `etcd cannot downgrade below its cluster version ${cluster[0]}.${cluster[1]} (to ${target})`
  }
  for (const slot of outdated) {
    const refusal = upgradeRefusal(slot.serverVersion ?? versionOfImage(slot.observed?.image ?? ''), target)
    if (refusal !== undefined) return refusal
  }
  return undefined
}
