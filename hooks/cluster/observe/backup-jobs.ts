// The backup CronJob's Jobs, as the customize hook brought them along in
// `related`, and what their runners recorded on them (annotations).
import { BACKUP_ANNOTATION_PREFIX } from '../../api/backup.js'
import type { KubeObject } from '../../api/kube.js'
import { childrenOfKind } from '../../kube/objects.js'
import type { SyncRequest } from '../../api/cluster.js'

export interface ObservedBackupJob {
  name: string
  startedAt: string | undefined // status.startTime, else creationTimestamp
  finishedAt: string | undefined // completionTime, or the Failed condition's time
  outcome: 'running' | 'succeeded' | 'failed'
  failure: string | undefined // the Failed condition's reason and message, and the runner's error
  object: string | undefined
  revision: number | undefined
  size: number | undefined
  sha256: string | undefined
}

interface JobShape {
  metadata: { creationTimestamp?: string, annotations?: Record<string, string>, labels?: Record<string, string>, namespace?: string }
  status?: { startTime?: string, completionTime?: string, conditions?: Array<{ type?: string, status?: string, reason?: string, message?: string, lastTransitionTime?: string }> }
}

export function readBackupJobs (request: SyncRequest, cluster: string, namespace: string): ObservedBackupJob[] {
  const jobs = [...childrenOfKind(request.related, 'Job.batch/v1').values()]
    .filter(job => isBackupJobOf(job, cluster, namespace))
    .map(observeJob)
  // Oldest first; names break ties (the CronJob's names grow with time).
  return jobs.sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? '') || a.name.localeCompare(b.name))
}

function isBackupJobOf (job: KubeObject, cluster: string, namespace: string): boolean {
  const labels = job.metadata.labels ?? {}
  return labels.etcd_cluster === cluster && labels['app.kubernetes.io/component'] === 'backup' && (job.metadata.namespace ?? namespace) === namespace
}

function observeJob (object: KubeObject): ObservedBackupJob {
  const job = object as unknown as JobShape
  const conditions = job.status?.conditions ?? []
  const done = conditions.find(c => c.type === 'Complete' && c.status === 'True')
  const failed = conditions.find(c => c.type === 'Failed' && c.status === 'True')
  const annotations = job.metadata.annotations ?? {}
  const annotation = (key: string) => annotations[`${BACKUP_ANNOTATION_PREFIX}${key}`]
  return {
    name: object.metadata.name,
    startedAt: job.status?.startTime ?? job.metadata.creationTimestamp,
    finishedAt: job.status?.completionTime ?? failed?.lastTransitionTime ?? done?.lastTransitionTime,
    outcome: done !== undefined ? 'succeeded' : failed !== undefined ? 'failed' : 'running',
    failure: failed === undefined ? undefined : [failed.reason, failed.message, annotation('error')].filter(Boolean).join(': '),
    object: annotation('object'),
    revision: wholeNumber(annotation('revision')),
    size: wholeNumber(annotation('size')),
    sha256: annotation('sha256'),
  }
}

function wholeNumber (text: string | undefined): number | undefined {
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : undefined
}
