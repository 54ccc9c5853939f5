// An EtcdBackup's children: the Job `<name>` that takes the one snapshot
// (its pod is the scheduled backups' pod, render/pod.ts), and the service
// account `<name>-backup` its runner records the result with (a Role that
// may patch jobs in this namespace, nothing else). Pure.
import type { KubeObject } from '../../api/kube.js'
import type { Backup, BackupSource } from '../model.js'
import { templateBackupPodSpec } from '../../snapshot/pod.js'

export function accessName (backup: Pick<Backup, 'name'>): string {
  return `${backup.name}-backup`
}

// Not the member labels (app, etcd_cluster): the client Services select on
// those, and the cluster's customize hook asks for its scheduled Jobs by
// them.
export function backupLabels (backup: Pick<Backup, 'name'>): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'etcd',
    'app.kubernetes.io/instance': backup.name,
    'app.kubernetes.io/managed-by': 'etcd-operator',
    'app.kubernetes.io/component': 'etcd-backup',
  }
}

function metadata (backup: Backup, name: string) {
  return { name, namespace: backup.namespace, labels: backupLabels(backup) }
}

export function templateBackupJob (backup: Backup, source: BackupSource): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: metadata(backup, backup.name),
    spec: {
      // One run: a failed backup is a failed EtcdBackup (CoreOS), never
      // retried into a second snapshot.
      backoffLimit: 0,
      activeDeadlineSeconds: backup.timeoutSeconds,
      template: {
        metadata: { labels: backupLabels(backup) },
        spec: {
          serviceAccountName: accessName(backup),
          ...templateBackupPodSpec({
            cluster: source.cluster,
            endpoint: source.endpoint,
            etcdImage: source.etcdImage,
            runnerImage: backup.settings.runnerImage,
            clientTLSSecret: source.clientTLSSecret,
            clientTLSItems: source.clientTLSItems,
            timeoutSeconds: backup.timeoutSeconds,
            store: backup.store,
            maxBackups: 0,
          }),
        },
      },
    },
  }
}

export function templateBackupAccess (backup: Backup): KubeObject[] {
  const name = accessName(backup)
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(backup, name), automountServiceAccountToken: false },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: metadata(backup, name),
      rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['patch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: metadata(backup, name),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: backup.namespace }],
    },
  ]
}
