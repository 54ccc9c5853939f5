// A learner joins as a voter once it has caught up.
import { writeTarget } from '../targets.js'
import { votersHealthy } from './health.js'
import { RESYNC_CONVERGING, type ObservedSituation, type Step } from './step.js'

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
