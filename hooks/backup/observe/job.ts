// The EtcdBackup's Job child `<name>`, and what its runner recorded on it
// (annotations under BACKUP_ANNOTATION_PREFIX).
import { BACKUP_ANNOTATION_PREFIX } from '../../api/backup.js'
import type { KubeObject } from '../../api/kube.js'
import { childrenOfKind } from '../../kube/objects.js'
import type { ObservedJob, Recorded } from '../model.js'

interface JobShape {
  metadata: { annotations?: Record<string, string> }
  status?: { completionTime?: string, conditions?: Array<{ type?: string, status?: string, reason?: string, message?: string, lastTransitionTime?: string }> }
}

export function readJob (children: Record<string, Record<string, KubeObject>> | undefined, name: string): ObservedJob | undefined {
  const object = childrenOfKind(children, 'Job.batch/v1').get(name)
  if (object === undefined) return undefined
  const job = object as unknown as JobShape
  const conditions = job.status?.conditions ?? []
  const done = conditions.find(c => c.type === 'Complete' && c.status === 'True')
  const failed = conditions.find(c => c.type === 'Failed' && c.status === 'True')
  return {
    object,
    outcome: done !== undefined ? 'succeeded' : failed !== undefined ? 'failed' : 'running',
    finishedAt: done !== undefined ? job.status?.completionTime ?? done.lastTransitionTime : failed?.lastTransitionTime,
    failure: failed === undefined ? undefined : failureOf(failed, job.metadata.annotations?.[`${BACKUP_ANNOTATION_PREFIX}error`]),
    recorded: recorded(job.metadata.annotations ?? {}),
  }
}

// The Job's reason, and in its message what the runner said went wrong.
function failureOf (failed: { reason?: string, message?: string }, runnerError: string | undefined): { reason: string, message: string } {
  const message = failed.message ?? 'the backup Job failed'
  return { reason: failed.reason ?? 'JobFailed', message: runnerError === undefined ? message : `${message}: ${runnerError}` }
}

function recorded (annotations: Record<string, string>): Recorded {
  const annotation = (key: string) => annotations[`${BACKUP_ANNOTATION_PREFIX}${key}`]
  const out: Recorded = {}
  const object = annotation('object')
  if (object !== undefined) out.object = object
  const revision = wholeNumber(annotation('revision'))
  if (revision !== undefined) out.revision = revision
  const size = wholeNumber(annotation('size'))
  if (size !== undefined) out.size = size
  const sha256 = annotation('sha256')
  if (sha256 !== undefined) out.sha256 = sha256
  const etcdVersion = annotation('etcd-version')
  if (etcdVersion !== undefined) out.etcdVersion = etcdVersion
  return out
}

function wholeNumber (text: string | undefined): number | undefined {
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : undefined
}
