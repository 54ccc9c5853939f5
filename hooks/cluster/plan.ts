// The EtcdCluster controller's planner: from one sync request and etcd's
// member list to the desired children, the status, and at most one
// membership write. Pure: no I/O, no clock (time is an argument), no
// environment. The decisions are the rules in rules/index.ts.
import type { SyncRequest, SyncResponse } from '../api/cluster.js'
import type { MembershipAction, Observation } from '../etcd/types.js'
import type { Cluster } from './model.js'
import { readCluster } from './observe/cluster.js'
import { joinMembership } from './observe/membership.js'
import { renderChildren } from './render/children.js'
import { RULES, decide } from './rules/index.js'
import { RESYNC_CONVERGING, type Rule, type Situation, type Step, type StepName } from './rules/step.js'
import { buildStatus } from './status.js'

export { RESYNC_CONVERGING, RESYNC_STEADY } from './rules/step.js'
export type { StepName } from './rules/step.js'

export interface Plan {
  // Which rule matched (for logs and tests).
  rule: StepName
  // The one membership write of this sync, if any.
  action: MembershipAction | undefined
  // The answer when there is no action, or when it succeeded.
  response: SyncResponse
  // The answer when the action failed: nothing added, nothing removed.
  responseIfActionFails: SyncResponse
}

export function plan (request: SyncRequest, observation: Observation, now: Date, rules: readonly Rule[] = RULES): Plan {
  return planCluster(readCluster(request), observation, now, rules)
}

// The same, for a request already read (the shell reads it once to find
// etcd's endpoints).
export function planCluster (cluster: Cluster, observation: Observation, now: Date, rules: readonly Rule[] = RULES): Plan {
  const membership = observation.reachable ? joinMembership(cluster, observation, now) : undefined
  const situation: Situation = { cluster, observation, membership, now }
  const step = decide(situation, rules)
  const response = respond(situation, step, now)
  return {
    rule: step.rule,
    action: step.action,
    response,
    // Most syncs write nothing: no second answer to build then.
    responseIfActionFails: step.action === undefined ? response : respond(situation, failed(step), now),
  }
}

// A write that failed changes nothing: no pod added or removed; try again.
function failed (step: Step): Step {
  return {
    rule: step.rule,
    lastAction: `${step.lastAction ?? step.rule} failed; retrying`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// The children and status Metacontroller should make true.
function respond ({ cluster, observation, membership }: Situation, step: Step, now: Date): SyncResponse {
  return {
    status: buildStatus(cluster, observation, membership, step, now),
    children: renderChildren(cluster, membership, step),
    resyncAfterSeconds: step.resyncAfterSeconds,
  }
}
