// The EtcdCluster controller's decision table, read top to bottom: the
// first rule that returns a step decides the sync. Each rule is a small
// pure function of the situation (the cluster, etcd's member list); a step
// holds at most one membership write.
import { allMembersLost, bootstrap, clearFailedSeed, restartFromClaims, unreachable } from './bootstrap.js'
import { parentDeleting } from './deleting.js'
import { tlsChangeRefused } from './tls.js'
import { authorityChangeRefused, issuerChangeRefused, waitForCertificates } from './certificates.js'
import { waitForHealthy } from './health.js'
import { promoteLearner, removeStuckLearner, waitForLearner } from './learner.js'
import { compactForNoSpace, defragForNoSpace, defragMember, disarmNoSpace } from './maintenance.js'
import { paused } from './paused.js'
import { replaceMember } from './policy.js'
import { quorumLost, quorumUnhealthy } from './quorum.js'
import { removeDeadMember, removeStuckMember, replacePodOnClaim, restartOnClaim, startAddedMember, waitForMissingPod } from './replace.js'
import { addMember, removeMember } from './scale.js'
import { deleteStrayPod, removeForeignMember } from './strays.js'
import { RESYNC_STEADY, whenObserved, whenUnobserved, type Rule, type Situation, type Step } from './step.js'
import { upgradeMember } from './upgrade.js'

export const RULES: readonly Rule[] = [
  paused, //                            spec.paused: change nothing
  parentDeleting, //                    the cluster is being deleted: change nothing
  tlsChangeRefused, //                  spec.TLS differs from the running members: change nothing
  issuerChangeRefused, //               another cert-manager issuer asked for: change nothing
  authorityChangeRefused, //            the members' CA changed under them: change nothing
  waitForCertificates, //               no member yet, cert-manager has not issued: wait
  // etcd does not answer
  whenUnobserved(bootstrap), //         nothing exists yet: create the seed
  whenUnobserved(restartFromClaims), // no pods, volumes kept: start them again
  whenUnobserved(clearFailedSeed), //   the seed never came up: start over
  whenUnobserved(allMembersLost), //    it existed, and pods and data are gone
  whenUnobserved(unreachable), //       pods exist: wait for etcd to answer
  // etcd answered
  whenObserved(restartOnClaim), //      a member's pod gone, its volume kept: start it again
  whenObserved(replacePodOnClaim), //   a member's pod finished, volume kept: delete the pod
  whenObserved(quorumLost), //          no leader: nothing else
  whenObserved(startAddedMember), //    a member added, its pod missing: create it
  whenObserved(waitForMissingPod), //   a member answers, its pod not shown: wait
  whenObserved(compactForNoSpace), //   NOSPACE: compact to the current revision,
  whenObserved(defragForNoSpace), //    then defrag each member (leader last),
  whenObserved(disarmNoSpace), //       then disarm the alarm
  whenObserved(quorumUnhealthy), //     no healthy majority: no membership write
  whenObserved(removeDeadMember), //    a member without a working pod: remove it
  whenObserved(removeStuckMember), //   a member crash-looping for minutes: remove it
  whenObserved(removeForeignMember), // a member no pod of ours holds: remove it
  whenObserved(deleteStrayPod), //      a pod that is no member: delete it
  whenObserved(removeStuckLearner), //  a learner that never came up, or unwanted: remove it
  whenObserved(promoteLearner), //      a learner whose pod runs: promote it
  whenObserved(waitForLearner), //      a learner not running yet: wait
  whenObserved(waitForHealthy), //      a voter not healthy: wait
  whenObserved(addMember), //           too few voters: add a learner
  whenObserved(removeMember), //        too many voters: remove one (leader last)
  whenObserved(replaceMember), //       voters from an old spec.pod: add a replacement
  whenObserved(upgradeMember), //       voters on an old image: move one (leader last)
  whenObserved(defragMember), //        a fragmented or full db: defrag one member (leader last)
]

// Nothing to do.
const STEADY: Step = { rule: 'steady', resyncAfterSeconds: RESYNC_STEADY }

// `rules` is the table above; tests hand in altered ones to show that the
// safety properties catch a planner that breaks them.
export function decide (situation: Situation, rules: readonly Rule[] = RULES): Step {
  for (const rule of rules) {
    const step = rule(situation)
    if (step !== undefined) return step
  }
  return { ...STEADY }
}
