// status.maintenance and the NoSpace condition (issue 15): what each
// member's backend holds, etcd's alarms, the defrag under way and the last
// one finished, the NOSPACE recovery's progress. Observed facts only; kept
// as they were while etcd does not answer.
import type { Condition } from '../api/kube.js'
import type { MaintenanceStatus } from '../api/maintenance.js'
import { memberIdHex } from '../etcd/answers.js'
import type { Observation } from '../etcd/types.js'
import { condition } from '../kube/conditions.js'
import type { Cluster } from './model.js'
import { readMaintenance, type MaintenanceView } from './observe/maintenance.js'
import type { Membership } from './observe/membership.js'
import { stillFull } from './rules/maintenance.js'
import type { Step } from './rules/step.js'

const two = (x: number) => Math.round(x * 100) / 100

// Sizes in the status are rounded down to 1% of the quota (at least 1 MiB):
// with exact bytes every write would change the status, every status
// write make Metacontroller sync again, and a busy cluster never be at
// rest. The rules decide on the exact figures.
export function sizeStep (quotaBytes: number): number {
  return Math.max(1024 * 1024, Math.floor(quotaBytes / 100))
}

export function maintenanceStatus (cluster: Cluster, observation: Observation, membership: Membership | undefined, step: Step, now: Date): MaintenanceStatus | undefined {
  const previous = cluster.previous.maintenance
  if (!observation.reachable || membership === undefined) return previous
  const view = readMaintenance(cluster, observation, membership)
  const defragmenting = step.maintenance?.defragmenting ?? (view.defrag?.running === true ? view.defrag.record : undefined)
  const lastDefrag = finishedDefrag(view, now) ?? previous?.lastDefrag
  const noSpace = step.maintenance?.noSpace ?? (view.noSpace ? view.cycle ?? { since: now.toISOString() } : undefined)
  // Object.assign of whole parts (on the steady path: see README,
  // "Development", on hidden classes).
  const parts: MaintenanceStatus[] = [
    view.backends.length > 0 ? backendsStatus(view) : {},
    view.alarms.length > 0 ? { alarms: view.alarms.map(a => ({ member: a.pod ?? memberIdHex(a.memberId), alarm: a.alarm })) } : {},
    defragmenting !== undefined ? { defragmenting } : {},
    lastDefrag !== undefined ? { lastDefrag } : {},
    noSpace !== undefined ? { noSpace } : {},
  ]
  const status = Object.assign({}, ...parts) as MaintenanceStatus
  return Object.keys(status).length > 0 ? status : undefined
}

// Each member's backend, sizes rounded (sizeStep), and the largest quota use.
function backendsStatus (view: MaintenanceView): Pick<MaintenanceStatus, 'members' | 'quotaBytes' | 'largestQuotaUsage'> {
  const unit = sizeStep(view.quotaBytes)
  const rounded = (bytes: number) => Math.floor(bytes / unit) * unit
  const members = view.backends.map(b => {
    const [size, inUse] = [rounded(b.dbSize), rounded(b.dbSizeInUse)]
    return { name: b.slot.pod, dbSize: size, dbSizeInUse: inUse, fragmentation: size > 0 ? two((size - inUse) / size) : 0, quotaUsage: two(size / view.quotaBytes) }
  })
  return { members, quotaBytes: view.quotaBytes, largestQuotaUsage: `${Math.floor(Math.max(...view.backends.map(b => b.quotaUsage)) * 100)}%` }
}

// The defrag an earlier sync started, seen finished now: its member
// answers again and its backend serves reads.
function finishedDefrag (view: MaintenanceView, now: Date): MaintenanceStatus['lastDefrag'] {
  const defrag = view.defrag
  if (defrag === undefined || defrag.running || defrag.slot === undefined) return undefined
  const after = view.backends.find(b => b.slot === defrag.slot)?.dbSize
  if (after === undefined) return undefined
  return { member: defrag.record.member, finished: now.toISOString(), reclaimedBytes: Math.max(0, defrag.record.dbSizeBefore - after) }
}

// NoSpace: True while etcd's NOSPACE alarm is raised, with the recovery
// step as its reason; shown once an alarm was seen, or when the data
// nearly fills the quota.
export function noSpaceCondition (cluster: Cluster, observation: Observation, membership: Membership | undefined, step: Step): Condition | undefined {
  const shownBefore = cluster.previous.conditions?.some(c => c.type === 'NoSpace') === true
  if (!observation.reachable || membership === undefined) {
    return shownBefore ? cluster.previous.conditions?.find(c => c.type === 'NoSpace') : undefined
  }
  const view = readMaintenance(cluster, observation, membership)
  const full = stillFull(view)
  if (!view.noSpace && !full && !shownBefore) return undefined
  if (!view.noSpace) {
    return condition('NoSpace', false, full
      ? { reason: 'QuotaNearlyFull', message: `data in use nearly fills the quota of ${view.quotaBytes} bytes: raise spec.quotaBackendBytes (or delete keys) before etcd raises NOSPACE` }
      : { reason: 'SpaceAvailable', message: 'no NOSPACE alarm' })
  }
  return condition('NoSpace', true, noSpaceDetail(view, step, full))
}

const STEP_REASONS: Partial<Record<Step['rule'], string>> = {
  compactForNoSpace: 'Compacting',
  defragForNoSpace: 'Defragmenting',
  transferLeadershipBeforeDefrag: 'MovingLeadership',
  waitForDefrag: 'Defragmenting',
  disarmNoSpace: 'Disarming',
}

function noSpaceDetail (view: MaintenanceView, step: Step, full: boolean): { reason: string, message: string } {
  const cycle = step.maintenance?.noSpace ?? view.cycle
  const progress = `compacted to ${cycle?.compactedRevision ?? 'not yet'}; defragmented: ${(cycle?.defragmented ?? []).join(', ') || 'none yet'}`
  if (full && (step.rule === 'disarmNoSpace' || cycle?.defragmented?.length === view.backends.length)) {
    return { reason: 'QuotaTooSmall', message: `etcd raised NOSPACE and the data in use still fills the quota of ${view.quotaBytes} bytes after compaction and defragmentation: raise spec.quotaBackendBytes (the hook never deletes keys); ${progress}` }
  }
  const reason = STEP_REASONS[step.rule] ?? 'Waiting'
  const why = step.waitingFor !== undefined ? `waiting for ${step.waitingFor}; ` : ''
  return { reason, message: `etcd refuses writes (NOSPACE): ${why}${progress}` }
}
