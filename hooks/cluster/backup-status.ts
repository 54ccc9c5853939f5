// What the scheduled backups did, from the CronJob's Jobs and what their
// runners recorded on them. Jobs age out of the CronJob's history: what an
// earlier sync learned (the last success) is kept, never lost.
import type { BackupStatus } from '../api/backup.js'
import type { Condition } from '../api/kube.js'
import { nextFires } from '../api/schedule.js'
import { condition } from '../kube/conditions.js'
import type { Cluster } from './model.js'
import type { ObservedBackupJob } from './observe/backup-jobs.js'

export function backupStatus (cluster: Cluster): BackupStatus | undefined {
  const previous = cluster.previous.backup
  // Scheduled backups turned off: the objects stay in the store, and so
  // does the record of the last one (where it is, its revision).
  if (cluster.spec.backup === undefined) return previous === undefined ? undefined : recordOf(previous)
  const jobs = cluster.backupJobs
  const success = jobs.filter(j => j.outcome === 'succeeded').at(-1)
  const failure = jobs.filter(j => j.outcome === 'failed').at(-1)
  const status: BackupStatus = { failuresInARow: failuresInARow(jobs, previous?.failuresInARow ?? 0) }
  const lastSuccess = success !== undefined ? successOf(success) : previous?.lastSuccess
  if (lastSuccess !== undefined) status.lastSuccess = lastSuccess
  const lastFailure = failure !== undefined ? { time: failure.finishedAt ?? failure.startedAt ?? '', reason: failure.failure ?? 'the backup Job failed' } : previous?.lastFailure
  if (lastFailure !== undefined) status.lastFailure = lastFailure
  const dueBy = successDueBy(cluster, lastSuccess?.time)
  if (dueBy !== undefined) status.successDueBy = dueBy
  return status
}

function recordOf (previous: BackupStatus): BackupStatus | undefined {
  const { lastSuccess, lastFailure } = previous
  if (lastSuccess === undefined && lastFailure === undefined) return undefined
  return { ...(lastSuccess !== undefined ? { lastSuccess } : {}), ...(lastFailure !== undefined ? { lastFailure } : {}) }
}

// BackupHealthy: False after failureThreshold failed runs in a row, or
// when no backup succeeded within two schedule periods; True again after a
// success.
export function backupCondition (cluster: Cluster, status: BackupStatus | undefined, now: Date): Condition | undefined {
  const backup = cluster.spec.backup
  if (backup === undefined || status === undefined) return undefined
  const failures = status.failuresInARow ?? 0
  if (failures >= backup.failureThreshold) {
    return condition('BackupHealthy', false, { reason: 'BackupsFailing', message: `${failures} backups failed in a row; the last: ${status.lastFailure?.reason ?? 'unknown'}` })
  }
  const overdue = overdueSince(cluster, status, now)
  if (overdue !== undefined) {
    return condition('BackupHealthy', false, { reason: 'BackupsOverdue', message: `no backup succeeded since ${overdue.since}, though schedule ${backup.schedule} had one due by ${overdue.dueBy} (its second run since, plus timeoutSeconds); are the backup Jobs starting? (kubectl get jobs -l etcd_cluster=${cluster.name})` })
  }
  return status.lastSuccess === undefined
    ? condition('BackupHealthy', true, { reason: 'NoBackupYet', message: `schedule ${backup.schedule}; no backup has finished yet` })
    : condition('BackupHealthy', true, { reason: 'BackupSucceeded', message: `last backup ${status.lastSuccess.object} at ${status.lastSuccess.time}` })
}

// Failed runs since the newest success among the Jobs shown; with no
// success among them, added to the count an earlier sync made (a failed
// Job an earlier sync counted is still among them while the history keeps
// it, so only the newer ones count again).
function failuresInARow (jobs: ObservedBackupJob[], before: number): number {
  const finished = jobs.filter(j => j.outcome !== 'running')
  const lastSuccess = finished.map(j => j.outcome).lastIndexOf('succeeded')
  if (lastSuccess >= 0) return finished.length - 1 - lastSuccess
  return Math.max(before, finished.length)
}

function successOf (job: ObservedBackupJob): NonNullable<BackupStatus['lastSuccess']> {
  const success: NonNullable<BackupStatus['lastSuccess']> = { time: job.finishedAt ?? job.startedAt ?? '', object: job.object ?? `job ${job.name} (no details recorded)` }
  if (job.revision !== undefined) success.revision = job.revision
  if (job.size !== undefined) success.size = job.size
  if (job.sha256 !== undefined) success.sha256 = job.sha256
  return success
}

// A run that never started (CronJob suspended by Kubernetes, a missed
// deadline, no Job at all) fails no Job and so never counts as a failure:
// two schedule periods without a success say it. The second due run gets
// its timeoutSeconds to finish first. Since the last success, or since the
// CronJob was created when none succeeded yet; never while suspended.
// In status (and as a metric) so an alert can say it without knowing cron.
// (The schedule passed validation: api/validate.ts.)
function successDueBy (cluster: Cluster, lastSuccess: string | undefined): string | undefined {
  const backup = cluster.spec.backup
  const since = lastSuccess ?? cluster.backupsSince
  if (backup === undefined || backup.suspend || since === undefined || Number.isNaN(Date.parse(since))) return undefined
  const [, second] = nextFires(backup.schedule, backup.timeZone, new Date(since), 2)
  return second === undefined ? undefined : new Date(second.getTime() + backup.timeoutSeconds * 1000).toISOString()
}

function overdueSince (cluster: Cluster, status: BackupStatus, now: Date): { since: string, dueBy: string } | undefined {
  const dueBy = status.successDueBy
  if (dueBy === undefined || Date.parse(dueBy) > now.getTime()) return undefined
  // A running Job will report soon (activeDeadlineSeconds ends it).
  if (cluster.backupJobs.some(j => j.outcome === 'running')) return undefined
  return { since: status.lastSuccess?.time ?? cluster.backupsSince ?? 'the CronJob was created', dueBy }
}
