// Day-2 maintenance (issue 15): defragmentation one member at a time, and
// recovery from etcd's NOSPACE alarm. Each write is one step of a sync,
// like a membership change.
//
// A defragment blocks its member (no reads, no writes) for as long as it
// takes to rewrite the db: seconds to minutes, longer than Metacontroller
// waits for a sync. The hook starts it and does not wait (the gateway
// gives it DEFRAG_START_MS; no answer by then means it runs on inside etcd),
// records the member and the time in status.maintenance.defragmenting, and
// on later syncs asks that member's backend for a read: while the defrag
// holds it there is no answer, and nothing else starts. A Job child would
// need etcdctl, the cluster's credentials and a pod per defrag to do the
// same one call; this keeps it to one request and the status.
import { lastFire } from '../../api/schedule.js'
import type { EtcdTarget } from '../../etcd/types.js'
import type { Cluster } from '../model.js'
import { clientURL } from '../names.js'
import { MIN_RECLAIM_BYTES, leaderLast, readMaintenance, type MaintenanceView, type MemberBackend } from '../observe/maintenance.js'
import type { Membership, MemberSlot } from '../observe/membership.js'
import { RESYNC_CONVERGING, RESYNC_STEADY, type ObservedSituation, type Step, type StepName } from './step.js'

// NOSPACE: compact to the current revision, defragment every member (one
// at a time, the leader last), then disarm; three rows of the table, in
// that order. They run before the rules that wait for Ready members: etcd
// 3.4's /health fails while the alarm is raised, so every member is
// unready until it is disarmed. They never delete a key; what does not fit
// after this needs a larger quota.
export function compactForNoSpace (situation: ObservedSituation): Step | undefined {
  const found = noSpaceRecovery(situation)
  if (found === undefined) return undefined
  const { cluster, membership, now } = situation
  const { view, revision } = found
  const running = backupRunning(cluster)
  if (running !== undefined) return { rule: 'noSpaceWaiting', waitingFor: `backup Job ${running} to finish before defragmenting (NOSPACE)`, resyncAfterSeconds: RESYNC_CONVERGING }
  if (view.defrag?.running === true) return waitForDefrag(view)
  if (view.cycle?.compactedRevision === revision) return undefined
  return {
    rule: 'compactForNoSpace',
    action: { kind: 'compact', pod: membership.leader?.pod ?? '', revision, target: maintenanceTarget(cluster, membership) },
    lastAction: `NOSPACE: compacted to revision ${revision}`,
    maintenance: { noSpace: { since: view.cycle?.since ?? now.toISOString(), compactedRevision: revision, defragmented: [] } },
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// Compacted: the next member not defragmented in this round.
export function defragForNoSpace (situation: ObservedSituation): Step | undefined {
  const found = noSpaceRecovery(situation)
  if (found === undefined) return undefined
  const { view, revision } = found
  const done = new Set(view.cycle?.defragmented ?? [])
  const next = leaderLast(situation.membership.voters.map(slot => ({ slot })), situation.membership).find(m => !done.has(m.slot.pod))?.slot
  if (next === undefined) return undefined
  const noSpace = { since: view.cycle?.since ?? situation.now.toISOString(), compactedRevision: revision, defragmented: [...done, next.pod] }
  return defragOrHandOver(situation, view, next, 'defragForNoSpace', noSpace)
}

// Compacted and every member defragmented: disarm (one alarm per sync).
export function disarmNoSpace (situation: ObservedSituation): Step | undefined {
  const found = noSpaceRecovery(situation)
  if (found === undefined) return undefined
  const { view } = found
  const alarm = view.alarms.find(a => a.alarm === 'NOSPACE')
  if (alarm === undefined) return undefined
  return {
    rule: 'disarmNoSpace',
    action: { kind: 'disarmAlarm', pod: alarm.pod ?? '', memberId: alarm.memberId, alarm: 'NOSPACE', target: maintenanceTarget(situation.cluster, situation.membership) },
    lastAction: `NOSPACE: disarmed the alarm of ${alarm.pod ?? alarm.memberId} after compacting and defragmenting every member`,
    // Data that still fills the quota raises the alarm again at once:
    // the condition asks for a larger quota; no reason to hurry back.
    resyncAfterSeconds: stillFull(view) ? RESYNC_STEADY : RESYNC_CONVERGING,
  }
}

// The NOSPACE alarm is raised and the recovery may go on: every member
// answers (not held back by an upgrade rolling: on 3.4 it could not go on
// while the alarm keeps members unready, and etcd defragments either
// version).
function noSpaceRecovery (situation: ObservedSituation): { view: MaintenanceView, revision: string } | undefined {
  const { cluster, observation, membership } = situation
  // defrag.enabled: false leaves every defrag, this one too, to the user.
  if (!observation.reachable || !cluster.spec.maintenance.defrag.enabled) return undefined
  const view = readMaintenance(cluster, observation, membership)
  if (!view.noSpace || blockedForMaintenance(situation, { duringUpgrade: true }) !== undefined) return undefined
  return { view, revision: observation.revision ?? '0' }
}

// Routine defrag: a member whose db is fragmented, or near its quota with
// space to reclaim. Only on a healthy cluster at rest: it runs after every
// membership and upgrade rule, so never during one of those.
export function defragMember (situation: ObservedSituation): Step | undefined {
  const { cluster, observation, membership, now } = situation
  const policy = cluster.spec.maintenance.defrag
  if (!policy.enabled || !observation.reachable) return undefined
  const view = readMaintenance(cluster, observation, membership)
  if (view.defrag?.running === true) return waitForDefrag(view)
  if (blockedForMaintenance(situation) !== undefined || backupRunning(cluster) !== undefined) return undefined
  // An alarm (CORRUPT: a member's data differs) is for a person to look
  // at; NOSPACE has its own rule.
  if (view.alarms.length > 0) return undefined
  if (!insideWindow(policy, now)) return undefined
  const next = leaderLast(view.backends.filter(b => wantsDefrag(b, policy)), membership)[0]
  return next === undefined ? undefined : defragOrHandOver(situation, view, next.slot, 'defragMember')
}

// Why no maintenance write may be sent now, or undefined: quorum and the
// member list must be sure, every voter's pod running and answering, no
// learner or foreign member (a membership change), no member on another
// image (an upgrade rolling) unless `duringUpgrade`.
export function blockedForMaintenance ({ cluster, observation, membership }: ObservedSituation, options: { duringUpgrade?: boolean } = {}): string | undefined {
  if (observation.reachable && observation.membersStale === true) return 'a quorum read of the member list'
  if (membership.leader === undefined) return 'a leader of ours'
  if (membership.learners.length > 0 || membership.foreign.length > 0) return 'the membership change to finish'
  const down = membership.voters.filter(s => s.dead || !s.answering || s.observed?.running !== true)
  if (down.length > 0) return `${down.map(s => s.pod).join(', ')} to answer`
  const upgrading = membership.voters.some(s => s.observed?.image !== cluster.spec.image)
  if (upgrading && options.duringUpgrade !== true) return 'the upgrade to finish'
  return undefined
}

function wantsDefrag (backend: MemberBackend, policy: Cluster['spec']['maintenance']['defrag']): boolean {
  if (backend.reclaimable < MIN_RECLAIM_BYTES) return false
  return backend.fragmentation > policy.fragmentationAbove || backend.quotaUsage > policy.quotaUsageAbove
}

// Inside the schedule's window (or there is no schedule).
function insideWindow (policy: Cluster['spec']['maintenance']['defrag'], now: Date): boolean {
  if (policy.schedule === undefined) return true
  const opened = lastFire(policy.schedule, policy.timeZone, now).getTime()
  return now.getTime() - opened < policy.windowMinutes * 60_000
}

// The member's defragment, or, when it leads a cluster of more, leadership
// handed to another answering voter first.
function defragOrHandOver (situation: ObservedSituation, view: MaintenanceView, slot: MemberSlot, rule: StepName, noSpace?: NonNullable<Step['maintenance']>['noSpace']): Step {
  const { cluster, membership, now } = situation
  if (slot === membership.leader && membership.voters.length > 1) return handLeadershipAway(cluster, membership, slot)
  const before = view.backends.find(b => b.slot === slot)?.dbSize ?? 0
  return {
    rule,
    action: { kind: 'defragment', pod: slot.pod, memberId: slot.member.id, target: { endpoints: [clientURL(cluster, slot.pod)] } },
    lastAction: `${rule === 'defragForNoSpace' ? 'NOSPACE: ' : ''}defragmenting ${slot.pod}`,
    maintenance: { defragmenting: { member: slot.pod, since: now.toISOString(), dbSizeBefore: before }, ...(noSpace !== undefined ? { noSpace } : {}) },
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// To the lowest-ordinal other voter that answers (Ready may be false under
// NOSPACE: etcd 3.4's /health fails while the alarm is raised).
function handLeadershipAway (cluster: Cluster, membership: Membership, from: MemberSlot): Step {
  const to = membership.voters.find(s => s !== from && s.answering && !s.dead)
  if (to === undefined) return { rule: 'transferLeadershipBeforeDefrag', waitingFor: 'another member to take over leadership', resyncAfterSeconds: RESYNC_CONVERGING }
  return {
    rule: 'transferLeadershipBeforeDefrag',
    action: { kind: 'transferLeadership', pod: from.pod, toPod: to.pod, toMemberId: to.member.id, target: { endpoints: [clientURL(cluster, from.pod)] } },
    lastAction: `moved leadership from ${from.pod} to ${to.pod} before defragmenting it`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

function waitForDefrag (view: MaintenanceView): Step {
  const record = view.defrag?.record
  return { rule: 'waitForDefrag', waitingFor: `the defragment of ${record?.member ?? 'a member'} (since ${record?.since ?? '?'}) to finish`, resyncAfterSeconds: RESYNC_CONVERGING }
}

// Maintenance writes go to answering voters, the leader first.
function maintenanceTarget (cluster: Cluster, membership: Membership): EtcdTarget {
  const answering = membership.voters.filter(s => s.answering)
  const ordered = [...answering.filter(s => s === membership.leader), ...answering.filter(s => s !== membership.leader)]
  return { endpoints: ordered.slice(0, 3).map(s => clientURL(cluster, s.pod)) }
}

function backupRunning (cluster: Cluster): string | undefined {
  return cluster.backupJobs.find(j => j.outcome === 'running')?.name
}

// After compaction and defrag the data in use still fills the quota.
export function stillFull (view: MaintenanceView): boolean {
  return view.backends.some(b => b.dbSizeInUse >= view.quotaBytes * 0.95)
}
