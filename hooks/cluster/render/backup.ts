// Scheduled backups: the CronJob `<name>-backup`, and the service account
// its runner uses to record a result on its own Job (a Role that may patch
// jobs in this namespace, nothing else).
import type { KubeObject } from '../../api/kube.js'
import { templateBackupPodSpec } from '../../snapshot/pod.js'
import { CLIENT_PORT, type Cluster, type ResolvedBackup } from '../model.js'
import { backupCronJobName, clientScheme, clientServiceName } from '../names.js'
import { certManagerItems } from '../tls-files.js'
import { clusterLabels, metadata } from './labels.js'

// The labels of every Job the CronJob starts: the customize hook asks for
// Jobs with these (the CronJob owns them, so they are no children of ours).
export function backupJobLabels (cluster: Cluster): Record<string, string> {
  return Object.assign(clusterLabels(cluster), { 'app.kubernetes.io/component': 'backup' })
}

// The part of those labels that selects them.
export function backupJobSelector (cluster: string): Record<string, string> {
  return { 'app': 'etcd', 'etcd_cluster': cluster, 'app.kubernetes.io/component': 'backup' }
}

export function templateBackupChildren (cluster: Cluster, etcdImage: string): KubeObject[] {
  const backup = cluster.spec.backup
  if (backup === undefined) return []
  return [templateBackupCronJob(cluster, backup, etcdImage), ...templateBackupAccess(cluster)]
}

function templateBackupCronJob (cluster: Cluster, backup: ResolvedBackup, etcdImage: string): KubeObject {
  const store = backup.s3 !== undefined ? { s3: backup.s3 } : { pvc: backup.pvc ?? { claimName: '' } }
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: metadata(cluster, backupCronJobName(cluster), 'backup'),
    spec: {
      schedule: backup.schedule,
      ...(backup.timeZone !== undefined ? { timeZone: backup.timeZone } : {}),
      suspend: backup.suspend,
      // One backup at a time; a run missed by more than 5 minutes is skipped.
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      // Enough finished Jobs to count failed runs in a row.
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: Math.max(3, backup.failureThreshold),
      jobTemplate: {
        metadata: { labels: backupJobLabels(cluster) },
        spec: {
          // A failed backup is a failed run, retried at the next schedule.
          backoffLimit: 0,
          activeDeadlineSeconds: backup.timeoutSeconds,
          template: {
            metadata: { labels: backupJobLabels(cluster) },
            spec: {
              serviceAccountName: backupCronJobName(cluster),
              ...templateBackupPodSpec({
                cluster: cluster.name,
                endpoint: `${clientScheme(cluster)}://${clientServiceName(cluster)}.${cluster.namespace}.svc${cluster.spec.pod.ClusterDomain ?? ''}:${CLIENT_PORT}`,
                etcdImage,
                runnerImage: cluster.settings.runnerImage,
                clientTLSSecret: cluster.spec.tls.serverSecret !== undefined ? cluster.spec.tls.operatorSecret : undefined,
                clientTLSItems: cluster.spec.tls.certManager !== undefined ? certManagerItems('operator') : undefined,
                timeoutSeconds: backup.timeoutSeconds,
                store,
                maxBackups: backup.maxBackups,
              }),
            },
          },
        },
      },
    },
  }
}

function templateBackupAccess (cluster: Cluster): KubeObject[] {
  const name = backupCronJobName(cluster)
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(cluster, name, 'backup'), automountServiceAccountToken: false },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: metadata(cluster, name, 'backup'),
      rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['patch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: metadata(cluster, name, 'backup'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: cluster.namespace }],
    },
  ]
}
