// Members whose pod is missing, finished or crash-looping: give them their
// pod back, or take them out of etcd so that a new member replaces them.
import { claimName } from '../names.js'
import type { Membership, MemberSlot } from '../observe/membership.js'
import { joiningPod, removal } from './steps.js'
import { RESYNC_CONVERGING, type ObservedSituation, type Step } from './step.js'

// A member was added but its pod is missing (the pod's creation failed, or
// the hook stopped in between): create the pod.
export function startAddedMember ({ cluster, membership }: ObservedSituation): Step | undefined {
  const unstarted = membership.slots.find(s => !s.started && s.observed === undefined)
  if (unstarted === undefined) return undefined
  return {
    rule: 'startAddedMember',
    createPods: [joiningPod(cluster, membership, unstarted.pod)],
    lastAction: `created pod for added member ${unstarted.pod}`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// A member whose pod is missing from the children while the member itself
// answers: the children are stale (informer lag) or the pod was released
// from this parent. Wait; never take it for dead.
export function waitForMissingPod ({ membership }: ObservedSituation): Step | undefined {
  const missing = membership.slots.find(s => s.observed === undefined && s.answering)
  if (missing === undefined) return undefined
  return { rule: 'waitForMissingPod', waitingFor: `pod ${missing.pod} to be observed (its member answers)`, resyncAfterSeconds: RESYNC_CONVERGING }
}

// A member on a volume lost its pod: start the pod again on its data (also
// while quorum is lost: it is the step that brings quorum back).
export function restartOnClaim ({ cluster, membership }: ObservedSituation): Step | undefined {
  const dead = firstDead(membership)
  if (dead === undefined || !cluster.claims.has(claimName(dead.pod)) || dead.observed !== undefined || !dead.started) return undefined
  return {
    rule: 'restartOnClaim',
    createPods: [joiningPod(cluster, membership, dead.pod)],
    lastAction: `restarted ${dead.pod} on its volume`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// ... or its pod finished: delete the pod; restartOnClaim then starts it.
export function replacePodOnClaim ({ cluster, membership }: ObservedSituation): Step | undefined {
  const dead = firstDead(membership)
  if (dead === undefined || !cluster.claims.has(claimName(dead.pod)) || !dead.started) return undefined
  if (dead.observed === undefined || dead.observed.terminating) return undefined
  return {
    rule: 'replacePodOnClaim',
    deletePods: [dead.pod],
    lastAction: `deleted finished pod ${dead.pod}; it restarts on its volume`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// A member without a working pod: remove it from etcd; a new member
// replaces it once the cluster is healthy. (A member on a volume whose pod
// is being deleted waits for the deletion and restarts on its volume.)
export function removeDeadMember ({ cluster, membership }: ObservedSituation): Step | undefined {
  const dead = firstDead(membership)
  if (dead === undefined) return undefined
  if (cluster.claims.has(claimName(dead.pod)) && dead.observed?.terminating === true) return undefined
  return {
    rule: 'removeDeadMember',
    action: removal(cluster, membership, dead),
    deletePods: dead.observed !== undefined ? [dead.pod] : [],
    lastAction: `removed dead member ${dead.pod}`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// A member crash-looping for minutes without a volume of its own: replace
// it like a dead one. A member on a claim is never removed for not
// starting: a large database takes minutes to open (its startupProbe
// allows for that), and its data may be the copy that matters.
export function removeStuckMember ({ cluster, membership }: ObservedSituation): Step | undefined {
  const stuck = membership.slots.find(s => s.stuck && !s.claimed)
  if (stuck === undefined) return undefined
  return {
    rule: 'removeStuckMember',
    action: removal(cluster, membership, stuck),
    deletePods: [stuck.pod],
    lastAction: `removed member ${stuck.pod}, crash-looping since ${stuck.observed?.unreadySince ?? '?'}`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// The rules above look at the first dead member only, in ordinal order.
function firstDead (membership: Membership): MemberSlot | undefined {
  return membership.slots.find(s => s.dead)
}
