// What a rule sees (the situation) and what it decides (a step): at most
// one membership write, and the pod changes that go with it.
import type { MaintenanceStatus } from '../../api/maintenance.js'
import type { MembershipAction, Observation } from '../../etcd/types.js'
import type { Cluster, NewMemberPod } from '../model.js'
import type { Membership } from '../observe/membership.js'

// Seconds until Metacontroller should call again.
export const RESYNC_CONVERGING = 2
export const RESYNC_STEADY = 30
export const RESYNC_QUORUM_LOST = 5

export interface Situation {
  cluster: Cluster
  observation: Observation
  // The sync's time (an argument: rules read no clock).
  now: Date
  // Undefined while etcd does not answer.
  membership: Membership | undefined
}

// A situation in which etcd answered with its member list.
export interface ObservedSituation extends Situation {
  membership: Membership
}

// The names of the steps, for logs, metrics and tests.
export type StepName =
  | 'paused' | 'bootstrap' | 'restartFromClaims' | 'clearFailedSeed' | 'unreachable' | 'allMembersLost'
  | 'quorumLost' | 'startAddedMember' | 'restartOnClaim' | 'removeDeadMember' | 'replacePodOnClaim'
  | 'removeStuckMember' | 'removeForeignMember' | 'deleteStrayPod' | 'promoteLearner' | 'waitForLearner' | 'addMember'
  | 'transferLeadershipBeforeRemoval' | 'removeMember' | 'replaceMember' | 'upgradeMember' | 'transferLeadershipBeforeUpgrade'
  | 'upgradeBlocked' | 'waitForHealthy' | 'steady'
  | 'parentDeleting' | 'tlsChangeRefused' | 'issuerChangeRefused' | 'authorityChangeRefused' | 'waitForCertificates' | 'quorumUnhealthy' | 'waitForMissingPod' | 'removeStuckLearner' | 'transferLeadershipFromForeign'
  | 'defragMember' | 'transferLeadershipBeforeDefrag' | 'waitForDefrag'
  | 'compactForNoSpace' | 'defragForNoSpace' | 'disarmNoSpace' | 'noSpaceWaiting'

// One rule's decision. Pod changes happen only if the action (when there
// is one) succeeds.
export interface Step {
  rule: StepName
  action?: MembershipAction
  createPods?: NewMemberPod[]
  deletePods?: string[]
  updateImage?: { pod: string, image: string }
  // Human-readable; undefined keeps the previous status.lastAction.
  lastAction?: string
  // Why nothing moves, for status.reason.
  waitingFor?: string
  // What a maintenance step records in status.maintenance (a defrag
  // started, the NOSPACE recovery's progress).
  maintenance?: Pick<MaintenanceStatus, 'defragmenting' | 'noSpace'>
  resyncAfterSeconds: number
}

// A row of the decision table: a step when the situation is its own.
export type Rule = (situation: Situation) => Step | undefined

// Rules about a cluster whose member list etcd gave us.
export function whenObserved (rule: (situation: ObservedSituation) => Step | undefined): Rule {
  const observed: Rule = situation => situation.membership === undefined ? undefined : rule(situation as ObservedSituation)
  Object.defineProperty(observed, 'name', { value: rule.name })
  return observed
}

// Rules about a cluster whose etcd does not answer (or is not there yet).
export function whenUnobserved (rule: Rule): Rule {
  const unobserved: Rule = situation => situation.membership !== undefined ? undefined : rule(situation)
  Object.defineProperty(unobserved, 'name', { value: rule.name })
  return unobserved
}
