// One sync of an EtcdBackup, from request to answer: read the request
// (the Job, and the cluster and Secret in `related`), plan (pure). No I/O:
// the Job does the long work, and reports on itself.
import type { BackupSyncRequest } from '../api/backup.js'
import { withoutNulls } from '../kube/objects.js'
import { DEFAULT_SETTINGS, type HookSettings } from '../cluster/model.js'
import { readBackup } from './observe/backup.js'
import { planBackup, type BackupPlan } from './plan.js'

export function syncBackup (request: BackupSyncRequest, now: Date, settings: HookSettings = DEFAULT_SETTINGS): BackupPlan {
  const plan = planBackup(readBackup(request, settings), now)
  return { rule: plan.rule, response: { ...plan.response, children: plan.response.children.map(c => withoutNulls(c)) } }
}
