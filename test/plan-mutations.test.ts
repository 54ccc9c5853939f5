// The property tests bite: each mutant below is the decision table with one
// plausible mistake (a rule dropped, a rule too eager, a rule that breaks
// one promise), and the invariant meant to catch it must find a
// counterexample among the generated worlds, while the real table passes
// the same invariant over the same worlds.
import t from 'tap'
import fc from 'fast-check'
import { joinMembership } from '../hooks/cluster/observe/membership.js'
import { RULES } from '../hooks/cluster/rules/index.js'
import { removeStuckLearner, LEARNER_START_DEADLINE_MS } from '../hooks/cluster/rules/learner.js'
import { removeStuckMember } from '../hooks/cluster/rules/replace.js'
import { addMember, removeMember } from '../hooks/cluster/rules/scale.js'
import { RESYNC_CONVERGING, RESYNC_STEADY, whenObserved, type ObservedSituation, type Rule, type Step } from '../hooks/cluster/rules/step.js'
import { removal } from '../hooks/cluster/rules/steps.js'
import type { MemberSlot } from '../hooks/cluster/observe/membership.js'
import { readMaintenance } from '../hooks/cluster/observe/maintenance.js'
import { clientURL } from '../hooks/cluster/names.js'
import {
  Violation, childrenKept, defragOneAtATime, deterministic, noChangeWhileUnready, noRemovalWhileLearner, noSecondLearner,
  noWriteUnobserved, noWriteWithoutQuorum, nothingWhileFrozen, oneWritePerSync, propertyOf, quorumKept, type Invariant,
} from './helpers/plan-properties.js'

// Fixed, so every run checks the same worlds. The rarest mutants here (a
// crash loop a minute old, or a learner not running yet, in an otherwise
// healthy cluster) break their invariant in about 1 world of 100: 2000
// worlds find each some twenty times over, whatever the seed.
const RUNS = { numRuns: 2000, seed: 4711, endOnFailure: true }

// Altered tables, by the names of RULES' rows.
function without (name: string): readonly Rule[] {
  return RULES.filter(rule => rule.name !== name)
}

function replaced (name: string, rule: Rule): readonly Rule[] {
  return RULES.map(r => r.name === name ? rule : r)
}

function insertedAfter (name: string, rule: Rule): readonly Rule[] {
  const at = RULES.findIndex(r => r.name === name) + 1
  return [...RULES.slice(0, at), rule, ...RULES.slice(at)]
}

// A step that takes a member out of etcd, and its pod with it.
function removing ({ cluster, membership }: ObservedSituation, victim: MemberSlot): Step {
  return {
    rule: 'removeMember',
    action: removal(cluster, membership, victim),
    deletePods: [victim.pod],
    lastAction: `removed member ${victim.pod}`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// Scaling down removes the member the rule picks, and deletes the pods of
// the other members above spec.size too.
const scaleDownAtOnce = whenObserved(situation => {
  const step = removeMember(situation)
  if (step?.action?.kind !== 'remove') return step
  const excess = situation.membership.voters.slice(situation.cluster.spec.size).map(s => s.pod)
  return { ...step, deletePods: [...new Set([...step.deletePods ?? [], ...excess])] }
})

// Removes the lowest healthy voter, whatever the cluster looks like.
const removeHealthyVoter = whenObserved(situation => {
  const victim = situation.membership.voters.find(s => s.healthy)
  return victim === undefined ? undefined : removing(situation, victim)
})

// Scaling down without waiting for the learner in flight.
const removeWhileLearner = whenObserved(situation => {
  const victim = situation.membership.voters.at(-1)
  return situation.membership.learners.length === 0 || victim === undefined ? undefined : removing(situation, victim)
})

// removeStuckMember with a deadline of zero: any crash loop is "stuck".
const crashLoopDeadlineZero = whenObserved(situation => removeStuckMember({
  ...situation,
  membership: {
    ...situation.membership,
    slots: situation.membership.slots.map(s => ({ ...s, stuck: s.stuck || (!s.dead && s.observed?.crashLooping === true) })),
  },
}))

// removeStuckLearner with a deadline of zero: a learner not running yet is late.
const learnerDeadlineZero = whenObserved(situation => removeStuckLearner({
  ...situation,
  now: new Date(situation.now.getTime() + LEARNER_START_DEADLINE_MS),
}))

// Restarts unready members by deleting their pods.
const deleteUnreadyPods = whenObserved(({ membership }) => {
  const unready = membership.slots.filter(s => s.observed !== undefined && !s.dead && !s.healthy).map(s => s.pod)
  if (unready.length === 0) return undefined
  return { rule: 'deleteStrayPod', deletePods: unready, lastAction: `restarted ${unready.join(', ')}`, resyncAfterSeconds: RESYNC_CONVERGING }
})

// etcd does not answer, pods exist: grow anyway, from an empty member list.
const growBlind: Rule = situation => situation.membership !== undefined || situation.cluster.pods.length === 0
  ? undefined
  : addMember({ ...situation, membership: joinMembership(situation.cluster, { reachable: true, clusterId: '', leaderId: undefined, members: [] }, situation.now) })

// A rule with memory: every other call it stops the table.
let calls = 0
const everyOtherSync: Rule = () => ++calls % 2 === 0 ? { rule: 'steady', waitingFor: 'the next sync', resyncAfterSeconds: RESYNC_STEADY } : undefined

// A rule that looks for the lowest member ID by sorting etcd's list in
// place (and then finds nothing to do).
const sortsMemberList: Rule = ({ observation }) => {
  const lowest = observation.reachable ? observation.members.sort((a, b) => a.id < b.id ? -1 : 1)[0] : undefined
  return lowest?.id === '' ? { rule: 'steady', resyncAfterSeconds: RESYNC_STEADY } : undefined
}

// Issue 15. A defragment of the most fragmented member as soon as one is,
// with no regard for the leader or a defrag still running.
const defragMostFragmented = whenObserved(({ cluster, observation, membership }) => {
  if (!observation.reachable) return undefined
  const view = readMaintenance(cluster, observation, membership)
  const worst = [...view.backends].sort((a, b) => b.fragmentation - a.fragmentation)[0]
  if (worst === undefined || worst.fragmentation < 0.5) return undefined
  return { rule: 'defragMember', action: { kind: 'defragment', pod: worst.slot.pod, memberId: worst.slot.member.id, target: { endpoints: [clientURL(cluster, worst.slot.pod)] } }, resyncAfterSeconds: RESYNC_CONVERGING }
})

// NOSPACE: compact at once, whatever state the members are in.
const compactOnAnyAlarm = whenObserved(({ cluster, observation, membership }) => {
  if (!observation.reachable || !(observation.alarms ?? []).some(a => a.alarm === 'NOSPACE')) return undefined
  return { rule: 'compactForNoSpace', action: { kind: 'compact', pod: membership.leader?.pod ?? '', revision: observation.revision ?? '0', target: { endpoints: membership.voters.map(v => clientURL(cluster, v.pod)) } }, resyncAfterSeconds: RESYNC_CONVERGING }
})

interface Mutant {
  name: string
  rules: readonly Rule[]
  caughtBy: Invariant
}

const MUTANTS: Mutant[] = [
  { name: 'without waitForLearner: a second learner is added', rules: without('waitForLearner'), caughtBy: noSecondLearner },
  { name: 'removes the highest voter while a learner exists (inserted after quorumLost)', rules: insertedAfter('quorumLost', removeWhileLearner), caughtBy: noRemovalWhileLearner },
  { name: 'without waitForHealthy', rules: without('waitForHealthy'), caughtBy: noChangeWhileUnready },
  { name: 'without quorumLost', rules: without('quorumLost'), caughtBy: noWriteWithoutQuorum },
  { name: 'without quorumUnhealthy', rules: without('quorumUnhealthy'), caughtBy: noWriteWithoutQuorum },
  { name: 'removes a healthy voter (inserted after quorumLost)', rules: insertedAfter('quorumLost', removeHealthyVoter), caughtBy: quorumKept },
  { name: 'a crash-loop deadline of zero (removeStuckMember takes any crash loop for stuck)', rules: replaced('removeStuckMember', crashLoopDeadlineZero), caughtBy: noChangeWhileUnready },
  { name: 'a learner start deadline of zero (removeStuckLearner gives up any learner not running)', rules: replaced('removeStuckLearner', learnerDeadlineZero), caughtBy: noRemovalWhileLearner },
  { name: 'scales down all at once (removeMember deletes every excess pod)', rules: replaced('removeMember', scaleDownAtOnce), caughtBy: oneWritePerSync },
  { name: 'restarts unready members by deleting their pods (inserted after quorumLost)', rules: insertedAfter('quorumLost', deleteUnreadyPods), caughtBy: childrenKept },
  { name: 'grows while etcd does not answer (inserted after allMembersLost)', rules: insertedAfter('allMembersLost', growBlind), caughtBy: noWriteUnobserved },
  { name: 'without paused', rules: without('paused'), caughtBy: nothingWhileFrozen },
  { name: 'without parentDeleting', rules: without('parentDeleting'), caughtBy: nothingWhileFrozen },
  { name: 'without tlsChangeRefused', rules: without('tlsChangeRefused'), caughtBy: nothingWhileFrozen },
  { name: 'without issuerChangeRefused', rules: without('issuerChangeRefused'), caughtBy: nothingWhileFrozen },
  { name: 'without authorityChangeRefused', rules: without('authorityChangeRefused'), caughtBy: nothingWhileFrozen },
  { name: 'a rule with memory between syncs (first in the table)', rules: [everyOtherSync, ...RULES], caughtBy: deterministic },
  { name: 'a rule that sorts etcd\'s member list in place (first in the table)', rules: [sortsMemberList, ...RULES], caughtBy: deterministic },
  { name: 'defragments the most fragmented member, leader or not, defrag running or not (inserted after quorumLost)', rules: insertedAfter('quorumLost', defragMostFragmented), caughtBy: defragOneAtATime },
  { name: 'defragments the most fragmented member right after quorumLost (before the health rules)', rules: insertedAfter('quorumLost', defragMostFragmented), caughtBy: noChangeWhileUnready },
  { name: 'compacts on NOSPACE with a member down (instead of compactForNoSpace, before its guards)', rules: insertedAfter('quorumLost', compactOnAnyAlarm), caughtBy: noWriteWithoutQuorum },
]

const firstLine = (error: unknown) => error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error)

t.test('the unmutated rules pass every invariant a mutant is checked with', async t => {
  for (const invariant of new Set(MUTANTS.map(m => m.caughtBy))) {
    const details = fc.check(propertyOf(invariant, RULES), RUNS)
    t.notOk(details.failed, `${invariant.name}${details.failed ? `: ${firstLine(details.errorInstance)}` : ''}`)
  }
})

for (const mutant of MUTANTS) {
  t.test(mutant.name, async t => {
    t.ok(mutant.rules.length !== RULES.length || mutant.rules.some((rule, i) => rule !== RULES[i]), 'the table is altered')
    const details = fc.check(propertyOf(mutant.caughtBy, mutant.rules), RUNS)
    t.ok(details.failed, `caught by "${mutant.caughtBy.name}"`)
    // A broken promise, not a crash of the mutant's own code.
    t.ok(details.errorInstance instanceof Violation, `after ${details.numRuns} worlds: ${firstLine(details.errorInstance)}`)
  })
}
