// A learner joins as a voter once it has caught up, or leaves if its pod
// never starts.
import type { MemberSlot } from '../observe/membership.js'
import { writeTarget } from '../targets.js'
import { votersHealthy } from './health.js'
import { removal } from './steps.js'
import { RESYNC_CONVERGING, type ObservedSituation, type Step } from './step.js'

// How long a learner's pod may take to run and be Ready: pulling the image
// and receiving the leader's snapshot (minutes for a large database).
export const LEARNER_START_DEADLINE_MS = 15 * 60 * 1000

// A learner whose pod has not come up by the deadline (Pending, an image
// that cannot be pulled, a crash loop), or one no longer wanted because
// `size` went down meanwhile: it blocks every other change, so take it out
// of etcd and delete its pod; the next rules go on from there.
export function removeStuckLearner ({ cluster, membership, now }: ObservedSituation): Step | undefined {
  const learner = membership.learners[0]
  if (learner?.observed === undefined || isUp(learner)) return undefined
  const created = Date.parse(learner.observed.createdAt ?? '')
  const late = Number.isFinite(created) && now.getTime() - created > LEARNER_START_DEADLINE_MS
  // (Not wanted is a change like any other: only while every voter is
  // healthy. A learner past its deadline is a dead member, removed anyway.)
  const unwanted = membership.voters.length >= cluster.spec.size && !membership.voters.some(s => s.outdatedPolicy) && votersHealthy(membership)
  if (!late && !unwanted) return undefined
  const why = late ? `its pod did not start within ${LEARNER_START_DEADLINE_MS / 60_000} minutes` : `size is ${cluster.spec.size} and it has not started`
  return {
    rule: 'removeStuckLearner',
    action: removal(cluster, membership, learner),
    deletePods: [learner.pod],
    lastAction: `removed learner ${learner.pod}: ${why} (pod ${learner.observed.phase}${learner.observed.crashLooping ? ', crash-looping' : ''})`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// Its etcd runs (Ready or still catching up).
function isUp (learner: MemberSlot): boolean {
  return learner.observed?.running === true
}

// A learner whose pod runs, while every voter is healthy: promote it (etcd
// refuses until it has caught up; then we try again).
export function promoteLearner ({ cluster, membership }: ObservedSituation): Step | undefined {
  const learner = membership.learners[0]
  if (learner === undefined || !learner.started || learner.observed?.running !== true || !votersHealthy(membership)) return undefined
  return {
    rule: 'promoteLearner',
    action: { kind: 'promote', pod: learner.pod, memberId: learner.member.id, target: writeTarget(cluster, membership) },
    lastAction: `promoted learner ${learner.pod}`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// Any other learner: wait for it to start.
export function waitForLearner ({ membership }: ObservedSituation): Step | undefined {
  const learner = membership.learners[0]
  if (learner === undefined) return undefined
  return { rule: 'waitForLearner', waitingFor: `learner ${learner.pod} to start`, resyncAfterSeconds: RESYNC_CONVERGING }
}
