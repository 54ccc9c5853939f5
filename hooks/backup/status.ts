// An EtcdBackup's status as the CoreOS operator had it (succeeded, reason,
// etcdVersion, etcdRevision, lastSuccessDate), plus where the snapshot is
// (object, size, sha256, from the runner's annotations on the Job) and the
// conditions Succeeded and Failed. Pure; the same world gives the same
// status (transition times move only when a condition's status does).
import type { EtcdBackupStatus } from '../api/backup.js'
import type { Condition } from '../api/kube.js'
import { condition, withTransitionTime } from '../kube/conditions.js'
import type { Backup, ObservedJob } from './model.js'
import type { Step } from './rules/index.js'

export function buildStatus (backup: Backup, step: Step, now: Date): EtcdBackupStatus {
  if (step.rule === 'finished') return backup.previous
  const status = step.problem !== undefined
    ? { succeeded: false, reason: step.problem.message, conditions: outcome(false, step.problem.reason, step.problem.message) }
    : backup.job !== undefined
      ? jobStatus(backup.job)
      : { conditions: pending('JobCreated', `backup Job ${backup.name} created`) }
  const at = now.toISOString()
  status.conditions = status.conditions.map(c => withTransitionTime(c, backup.previous.conditions, at))
  return status
}

function jobStatus (job: ObservedJob): EtcdBackupStatus & { conditions: Condition[] } {
  const name = job.object.metadata.name
  if (job.outcome === 'running') return { conditions: pending('Running', `backup Job ${name} is running`) }
  if (job.outcome === 'failed') {
    const { reason, message } = job.failure ?? { reason: 'JobFailed', message: 'the backup Job failed' }
    return { succeeded: false, reason: `${reason}: ${message}`, conditions: outcome(false, reason, message) }
  }
  const { recorded } = job
  const status: EtcdBackupStatus & { conditions: Condition[] } = { succeeded: true, conditions: [] }
  if (recorded.etcdVersion !== undefined) status.etcdVersion = recorded.etcdVersion
  if (recorded.revision !== undefined) status.etcdRevision = recorded.revision
  if (job.finishedAt !== undefined) status.lastSuccessDate = job.finishedAt
  if (recorded.object !== undefined) status.object = recorded.object
  if (recorded.size !== undefined) status.size = recorded.size
  if (recorded.sha256 !== undefined) status.sha256 = recorded.sha256
  const message = recorded.object !== undefined
    ? `snapshot${recorded.revision !== undefined ? ` at revision ${recorded.revision}` : ''} stored as ${recorded.object}`
    : `backup Job ${name} succeeded (no details recorded)`
  status.conditions = outcome(true, 'BackupSucceeded', message)
  return status
}

// Finished: one of Succeeded and Failed is True.
function outcome (succeeded: boolean, reason: string, message: string): Condition[] {
  return [condition('Succeeded', succeeded, { reason, message }), condition('Failed', !succeeded, { reason, message })]
}

// Not finished yet: both False.
function pending (reason: string, message: string): Condition[] {
  return [condition('Succeeded', false, { reason, message }), condition('Failed', false, { reason, message })]
}
