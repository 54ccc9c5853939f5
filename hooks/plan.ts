// The planner: from one sync request and etcd's member list to the desired
// children, the status, and at most one membership write. Pure: no I/O, no
// clock (time is an argument), no environment. Every decision lives here.
import {
  claimName, clientServiceName, clientURL, ordinalOf, parseVersion, peerURL, podName, readCluster, versionOfImage,
  type Cluster, type ObservedPod,
} from './cluster.js'
import type { MembershipAction, Observation } from './membership.js'
import {
  claimOrdinal, joinMembership, nextOrdinal, writeTarget,
  type Membership, type MemberSlot,
} from './members.js'
import {
  keepObserved, keepPod, templateClaim, templateClientService, templateDisruptionBudget,
  templateLoadBalancerService, templateMemberPod, templatePeerService, withoutNulls, VOTER_LABEL,
} from './render.js'
import type { KubeObject, SyncRequest, SyncResponse } from './schema.js'
import { buildStatus } from './status.js'

// Seconds until Metacontroller should call again.
export const RESYNC_CONVERGING = 2
export const RESYNC_STEADY = 30

export interface Plan {
  // Which row of the decision table matched (for logs and tests).
  rule: Rule
  // The one membership write of this sync, if any.
  action: MembershipAction | undefined
  // The answer when there is no action, or when it succeeded.
  response: SyncResponse
  // The answer when the action failed: nothing added, nothing removed.
  responseIfActionFails: SyncResponse
}

export type Rule =
  | 'paused' | 'bootstrap' | 'restartFromClaims' | 'clearFailedSeed' | 'unreachable' | 'allMembersLost'
  | 'quorumLost' | 'startAddedMember' | 'restartOnClaim' | 'removeDeadMember' | 'replacePodOnClaim'
  | 'removeStuckMember' | 'removeForeignMember' | 'deleteStrayPod' | 'promoteLearner' | 'waitForLearner' | 'addMember'
  | 'transferLeadershipBeforeRemoval' | 'removeMember' | 'replaceMember' | 'upgradeMember' | 'transferLeadershipBeforeUpgrade'
  | 'upgradeBlocked' | 'waitForHealthy' | 'steady'

// One row's decision. Pod changes happen only if the action (when there is
// one) succeeds.
export interface Step {
  rule: Rule
  action?: MembershipAction
  createPods?: KubeObject[]
  deletePods?: string[]
  updateImage?: { pod: string, image: string }
  // Human-readable; undefined keeps the previous status.lastAction.
  lastAction?: string
  // Why nothing moves, for status.reason.
  waitingFor?: string
  resyncAfterSeconds: number
}

export function plan (request: SyncRequest, observation: Observation, now: Date): Plan {
  return planCluster(readCluster(request), observation, now)
}

// The same, for a request already read (the shell reads it once to find
// etcd's endpoints).
export function planCluster (cluster: Cluster, observation: Observation, now: Date): Plan {
  const membership = observation.reachable
    ? joinMembership(cluster, observation.members, observation.clusterId, observation.leaderId, now)
    : undefined
  const step = decide(cluster, observation, membership)
  const failed: Step = {
    rule: step.rule,
    lastAction: `${step.lastAction ?? step.rule} failed; retrying`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
  const response = respond(cluster, observation, membership, step, now)
  return {
    rule: step.rule,
    action: step.action,
    response,
    // Most syncs write nothing: no second answer to build then.
    responseIfActionFails: step.action === undefined ? response : respond(cluster, observation, membership, failed, now),
  }
}

// The decision table: the first row that matches wins.
export function decide (cluster: Cluster, observation: Observation, membership: Membership | undefined): Step {
  const converging = RESYNC_CONVERGING
  const livePods = cluster.pods.filter(p => !isFinished(p))

  // 1. Paused: membership and pods stay as they are.
  if (cluster.spec.paused) return { rule: 'paused', waitingFor: 'spec.paused', resyncAfterSeconds: RESYNC_STEADY }

  if (!observation.reachable || membership === undefined) {
    // 2. Nothing yet: start the seed member, a cluster of one.
    if (cluster.pods.length === 0 && cluster.previous.clusterID === undefined && cluster.claims.size === 0) {
      const pod = podName(cluster, nextOrdinal(cluster, undefined))
      return {
        rule: 'bootstrap',
        createPods: [templateMemberPod(cluster, {
          pod, initialClusterState: 'new', initialCluster: [`${pod}=${peerURL(cluster, pod)}`], voter: true,
        })],
        lastAction: `created seed member ${pod}`,
        resyncAfterSeconds: converging,
      }
    }
    // 3. Every pod gone but their volumes kept: start each member again on
    // its data (the --initial-* flags are ignored once data exists).
    if (cluster.pods.length === 0 && cluster.claims.size > 0) {
      const pods = [...cluster.claims.keys()]
        .map(name => claimOrdinal(cluster, name))
        .filter((o): o is number => o !== undefined)
        .map(o => podName(cluster, o))
      // A seed that never bootstrapped may have an empty volume: `new` lets
      // it bootstrap; on a volume with data the flag is ignored anyway.
      const state = cluster.previous.clusterID === undefined && pods.length === 1 ? 'new' : 'existing'
      return {
        rule: 'restartFromClaims',
        createPods: pods.map(pod => templateMemberPod(cluster, {
          pod, initialClusterState: state, initialCluster: [`${pod}=${peerURL(cluster, pod)}`],
        })),
        lastAction: `restarted ${pods.join(', ')} on their volumes`,
        resyncAfterSeconds: converging,
      }
    }
    // 4. A seed that never came up and is finished: start over (a volume it
    // has stays, and row 3 starts it again on it).
    if (cluster.previous.clusterID === undefined && cluster.pods.length > 0 && livePods.length === 0) {
      return {
        rule: 'clearFailedSeed',
        deletePods: cluster.pods.map(p => p.name),
        lastAction: `deleted failed seed ${cluster.pods.map(p => p.name).join(', ')}`,
        resyncAfterSeconds: converging,
      }
    }
    // 5. The cluster existed and every member is gone, data included.
    if (cluster.pods.length === 0) {
      return { rule: 'allMembersLost', waitingFor: 'all members lost', resyncAfterSeconds: RESYNC_STEADY }
    }
    // 6. Pods exist but etcd does not answer (starting, or down): wait.
    return { rule: 'unreachable', waitingFor: 'etcd to answer', resyncAfterSeconds: converging }
  }

  // 7. No leader: quorum is lost. Change nothing; a member that comes back
  // restores it.
  if (membership.leader === undefined) {
    return { rule: 'quorumLost', waitingFor: 'a leader (quorum lost)', resyncAfterSeconds: 5 }
  }

  // 8. A member was added but its pod is missing (the pod's creation failed,
  // or the hook stopped in between): create the pod.
  const unstartedWithoutPod = membership.slots.find(s => !s.started && s.observed === undefined)
  if (unstartedWithoutPod !== undefined) {
    return {
      rule: 'startAddedMember',
      createPods: [joiningPod(cluster, membership, unstartedWithoutPod.pod)],
      lastAction: `created pod for added member ${unstartedWithoutPod.pod}`,
      resyncAfterSeconds: converging,
    }
  }

  const persistent = cluster.spec.pod.persistentVolumeClaimSpec !== undefined
  const dead = membership.slots.find(s => s.dead)
  if (dead !== undefined) {
    const claim = hasClaim(cluster, dead.pod)
    // 9. A member on a volume lost its pod: start the pod again on its data.
    if (claim && dead.observed === undefined && dead.started) {
      return {
        rule: 'restartOnClaim',
        createPods: [joiningPod(cluster, membership, dead.pod)],
        lastAction: `restarted ${dead.pod} on its volume`,
        resyncAfterSeconds: converging,
      }
    }
    // 10. ... or its pod finished: delete the pod; the row above restarts it.
    if (claim && dead.started && dead.observed !== undefined && !dead.observed.terminating) {
      return {
        rule: 'replacePodOnClaim',
        deletePods: [dead.pod],
        lastAction: `deleted finished pod ${dead.pod}; it restarts on its volume`,
        resyncAfterSeconds: converging,
      }
    }
    // 11. A member without a working pod: remove it from etcd; a new member
    // replaces it once the cluster is healthy.
    if (!(claim && dead.observed?.terminating === true)) {
      return {
        rule: 'removeDeadMember',
        action: { kind: 'remove', pod: dead.pod, memberId: dead.member.id, target: writeTarget(cluster, membership) },
        deletePods: dead.observed !== undefined ? [dead.pod] : [],
        lastAction: `removed dead member ${dead.pod}`,
        resyncAfterSeconds: converging,
      }
    }
  }

  // 12. A member crash-looping for minutes: replace it like a dead one,
  // its volume with it (its data is what keeps it from starting).
  const stuck = membership.slots.find(s => s.stuck)
  if (stuck !== undefined) {
    return {
      rule: 'removeStuckMember',
      action: { kind: 'remove', pod: stuck.pod, memberId: stuck.member.id, target: writeTarget(cluster, membership) },
      deletePods: [stuck.pod],
      lastAction: `removed member ${stuck.pod}, crash-looping since ${stuck.observed?.unreadySince ?? '?'}`,
      resyncAfterSeconds: converging,
    }
  }

  // 13. A member we did not add (no pod of ours can hold it): remove it.
  const foreign = membership.foreign[0]
  if (foreign !== undefined) {
    return {
      rule: 'removeForeignMember',
      action: { kind: 'remove', pod: foreign.name, memberId: foreign.id, target: writeTarget(cluster, membership) },
      lastAction: `removed member ${foreign.name || foreign.peerURLs.join(',')} that has no pod`,
      resyncAfterSeconds: converging,
    }
  }

  // 14. A pod that is no member (removed, or its member never added): it
  // must not run on as a stale member.
  if (membership.strays.length > 0) {
    const strays = membership.strays.map(p => p.name)
    return {
      rule: 'deleteStrayPod',
      deletePods: strays,
      lastAction: `deleted pod ${strays.join(', ')} that is no member`,
      resyncAfterSeconds: converging,
    }
  }

  const votersHealthy = membership.voters.every(s => s.healthy)

  // 15. A learner: promote it once its pod runs and every voter is healthy
  // (etcd refuses until it has caught up; then we try again).
  const learner = membership.learners[0]
  if (learner !== undefined) {
    if (learner.started && learner.observed?.running === true && votersHealthy) {
      return {
        rule: 'promoteLearner',
        action: { kind: 'promote', pod: learner.pod, memberId: learner.member.id, target: writeTarget(cluster, membership) },
        lastAction: `promoted learner ${learner.pod}`,
        resyncAfterSeconds: converging,
      }
    }
    return { rule: 'waitForLearner', waitingFor: `learner ${learner.pod} to start`, resyncAfterSeconds: converging }
  }

  // 16. Anything below changes a healthy cluster: only when every member is.
  if (!votersHealthy) {
    const unhealthy = membership.voters.filter(s => !s.healthy).map(s => s.pod)
    return { rule: 'waitForHealthy', waitingFor: `${unhealthy.join(', ')} to be ready`, resyncAfterSeconds: converging }
  }

  const { size } = cluster.spec
  // 17. Too few members: add the next one as a learner, and its pod.
  if (membership.voters.length < size) {
    return addLearner(cluster, membership, 'addMember', pod => `added member ${pod} as a learner`)
  }

  // 18. Too many: remove a member made from an old pod policy if there is
  // one (the end of a replacement), else the highest ordinal; the leader
  // only after handing leadership away.
  if (membership.voters.length > size) {
    const outdated = membership.voters.filter(s => s.outdatedPolicy)
    const victim = (outdated.find(s => s !== membership.leader) ?? outdated[0] ?? membership.voters[membership.voters.length - 1]) as MemberSlot
    if (victim === membership.leader) return transferLeadership(cluster, membership, victim, 'transferLeadershipBeforeRemoval')
    return {
      rule: 'removeMember',
      action: { kind: 'remove', pod: victim.pod, memberId: victim.member.id, target: writeTarget(cluster, membership) },
      deletePods: [victim.pod],
      lastAction: victim.outdatedPolicy
        ? `removed member ${victim.pod} (replaced: made from an old pod policy)`
        : `removed member ${victim.pod} (scaling down to ${size})`,
      resyncAfterSeconds: converging,
    }
  }

  // 19. Members made from an old pod policy: pod specs cannot change in
  // place, so add one new member first; row 18 then removes an old one.
  // Named as row 18 will pick it: a follower before the leader.
  const outdatedVoters = membership.voters.filter(s => s.outdatedPolicy)
  const replaced = outdatedVoters.find(s => s !== membership.leader) ?? outdatedVoters[0]
  if (replaced !== undefined) {
    return addLearner(cluster, membership, 'replaceMember', pod => `added member ${pod} to replace ${replaced.pod} (pod policy changed)`)
  }

  // 20. Members on another image: move one, followers first, the leader
  // last (after handing leadership to an upgraded member).
  const outdated = membership.voters.filter(s => s.observed?.image !== cluster.spec.image)
  if (outdated.length > 0) {
    const blocked = upgradeBlocked(outdated, cluster.spec.version)
    if (blocked !== undefined) return { rule: 'upgradeBlocked', waitingFor: blocked, resyncAfterSeconds: RESYNC_STEADY }
    const follower = outdated.find(s => s !== membership.leader)
    const next = follower ?? outdated[0] as MemberSlot
    if (follower === undefined && membership.voters.length > 1) {
      return transferLeadership(cluster, membership, next, 'transferLeadershipBeforeUpgrade')
    }
    return {
      rule: 'upgradeMember',
      updateImage: { pod: next.pod, image: cluster.spec.image },
      lastAction: `upgrading ${next.pod} to ${cluster.spec.image}`,
      resyncAfterSeconds: converging,
    }
  }

  // 21. Nothing to do.
  return { rule: 'steady', resyncAfterSeconds: RESYNC_STEADY }
}

// The next ordinal joins as a learner; its pod is created in the same answer.
function addLearner (cluster: Cluster, membership: Membership, rule: Rule, describe: (pod: string) => string): Step {
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

function transferLeadership (cluster: Cluster, membership: Membership, from: MemberSlot, rule: Rule): Step {
  // The lowest-ordinal healthy voter on the wanted image takes over.
  const candidates = membership.voters.filter(s => s !== from && s.healthy)
  const to = candidates.find(s => s.observed?.image === cluster.spec.image) ?? candidates[0] as MemberSlot
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

// etcd upgrades one minor version at a time and cannot downgrade a minor.
function upgradeBlocked (outdated: MemberSlot[], target: string): string | undefined {
  const wanted = parseVersion(target)
  for (const slot of outdated) {
    const running = parseVersion(versionOfImage(slot.observed?.image ?? ''))
    if (wanted === undefined || running === undefined) continue
    if (wanted[0] !== running[0] || wanted[1] > running[1] + 1) {
      return `an upgrade from ${running.join('.')} to ${target} skips a minor version; go one minor at a time`
    }
    if (wanted[1] < running[1]) return `etcd cannot downgrade from ${running.join('.')} to ${target}`
  }
  return undefined
}

// The pod of a member joining a running cluster: `--initial-cluster` must
// list every member, this one included, by the names their pods have.
function joiningPod (cluster: Cluster, membership: Membership, pod: string, adding?: { pod: string, url: string }): KubeObject {
  const initialCluster = membership.slots.map(s => `${s.pod}=${s.member.peerURLs.join(`,${s.pod}=`)}`)
  if (adding !== undefined) initialCluster.push(`${adding.pod}=${adding.url}`)
  return templateMemberPod(cluster, { pod, initialClusterState: 'existing', initialCluster })
}

function hasClaim (cluster: Cluster, pod: string): boolean {
  return cluster.claims.has(claimName(pod))
}

function isFinished (pod: ObservedPod): boolean {
  return pod.phase === 'Failed' || pod.phase === 'Succeeded' || pod.terminating
}

// The children and status Metacontroller should make true.
function respond (cluster: Cluster, observation: Observation, membership: Membership | undefined, step: Step, now: Date): SyncResponse {
  const deleted = new Set(step.deletePods)
  const voters = membership === undefined ? undefined : new Set(membership.voters.map(s => s.pod))
  const pods: KubeObject[] = []
  for (const pod of cluster.pods) {
    if (deleted.has(pod.name)) continue
    const image = step.updateImage?.pod === pod.name ? step.updateImage.image : pod.image
    pods.push(keepPod(cluster, pod, image, voters?.has(pod.name)))
  }
  pods.push(...(step.createPods ?? []))

  // A claim lives as long as its member or its pod: a new member never
  // starts on a removed member's data.
  const podOrdinals = new Set(pods.map(p => ordinalOf(cluster, p.metadata.name)))
  const removedMember = step.action?.kind === 'remove' ? step.action.pod : undefined
  const memberOrdinals = new Set(membership?.slots.filter(s => s.pod !== removedMember).map(s => s.ordinal))
  const claims: KubeObject[] = []
  for (const [name, claim] of cluster.claims) {
    const ordinal = claimOrdinal(cluster, name)
    // Without the member list nothing says whose data a claim holds: keep all.
    const keep = membership === undefined ||
      (ordinal !== undefined && (podOrdinals.has(ordinal) || memberOrdinals.has(ordinal)))
    if (keep) claims.push(keepObserved(claim))
  }
  if (cluster.spec.pod.persistentVolumeClaimSpec !== undefined) {
    for (const pod of step.createPods ?? []) {
      const claim = templateClaim(cluster, pod.metadata.name)
      if (!cluster.claims.has(claim.metadata.name)) claims.push(claim)
    }
  }

  // Clients reach voters only once every voter's pod carries the label
  // (after a hook upgrade the labels land one sync before the selector, so
  // the Services never select nothing); from then on, always.
  const votersOnly = selectsVoters(cluster.services.get(clientServiceName(cluster))) ||
    (membership !== undefined && membership.voters.length > 0 &&
      membership.voters.every(s => s.observed?.object.metadata.labels?.[VOTER_LABEL] === 'true'))
  const children: KubeObject[] = [
    templatePeerService(cluster),
    templateClientService(cluster, votersOnly),
    ...(cluster.spec.loadBalancer.enabled ? [templateLoadBalancerService(cluster, votersOnly)] : []),
    ...(cluster.spec.podDisruptionBudget.enabled ? [templateDisruptionBudget(cluster)] : []),
    ...claims,
    ...pods,
  ]
  return {
    status: buildStatus(cluster, observation, membership, step, now),
    children: children.map(child => withoutNulls(child)),
    resyncAfterSeconds: step.resyncAfterSeconds,
  }
}

function selectsVoters (service: KubeObject | undefined): boolean {
  const selector = (service?.spec as { selector?: Record<string, string> } | undefined)?.selector
  return selector?.[VOTER_LABEL] === 'true'
}
