// The EtcdBackup controller's planner: from one sync request to the Job,
// its service account and the status. Pure: no I/O, no clock (time is an
// argument). The decisions are the rules in rules/index.ts.
import type { BackupSyncResponse } from '../api/backup.js'
import type { KubeObject } from '../api/kube.js'
import { keepObserved } from '../kube/objects.js'
import type { Backup } from './model.js'
import { templateBackupAccess, templateBackupJob } from './render/job.js'
import { RULES, decide, type Rule, type Step, type StepName } from './rules/index.js'
import { buildStatus } from './status.js'

// While a Job runs or a source is missing, look again now and then (a
// change to the Job or to a related object triggers a sync anyway);
// a finished backup needs no resync.
export const RESYNC_WAITING = 30
export const RESYNC_FINISHED = 0

export interface BackupPlan {
  rule: StepName
  response: BackupSyncResponse
}

export function planBackup (backup: Backup, now: Date, rules: readonly Rule[] = RULES): BackupPlan {
  const step = decide(backup, rules)
  const status = buildStatus(backup, step, now)
  const done = step.rule === 'finished' || (step.job === 'keep' && backup.job?.outcome !== 'running')
  return {
    rule: step.rule,
    response: { status, children: [...jobOf(backup, step), ...templateBackupAccess(backup)], resyncAfterSeconds: done ? RESYNC_FINISHED : RESYNC_WAITING },
  }
}

function jobOf (backup: Backup, step: Step): KubeObject[] {
  if (step.job === 'keep' && backup.job !== undefined) return [keepObserved(backup.job.object)]
  if (step.job === 'create' && backup.source.kind === 'ready') return [templateBackupJob(backup, backup.source.source)]
  return []
}
