// The pod of a backup Job, shared by both controllers: scheduled (the
// EtcdCluster's CronJob, hooks/cluster) or on demand (an EtcdBackup's Job,
// hooks/backup). etcd's own etcdctl takes the snapshot from one member (an
// init container of the etcd image), then the runner of the operator image
// checks, uploads and records it (hooks/runner). Plain binaries with
// explicit commands: etcd images from 3.5 on have no shell.
import type { BackupPVCSchema, BackupS3Schema } from '../api/backup.js'
import type { Static } from '@sinclair/typebox'

export const SNAPSHOT_DIR = '/snapshot'
export const SNAPSHOT_FILE = `${SNAPSHOT_DIR}/etcd.db`
const AWS_DIR = '/etc/etcd-backup/aws'
const STORE_DIR = '/backup-store'
const CLIENT_TLS_DIR = '/etc/etcd-backup/client-tls'
// Where the operator image keeps the runner and etcdutl (Dockerfile).
export const RUNNER_ENTRY = '/app/dist/runner/main.js'
const ETCDUTL = '/usr/local/bin/etcdutl'

export type S3Store = Static<typeof BackupS3Schema>
export type PVCStore = Static<typeof BackupPVCSchema>

export interface BackupPod {
  cluster: string // names the objects: <cluster>-<time>-r<revision>.db
  endpoint: string // one client URL (the client Service picks a voter)
  etcdImage: string // the version the cluster runs: its etcdctl
  runnerImage: string // the operator image
  // The operator Secret (CoreOS file names) when clients need TLS.
  clientTLSSecret: string | undefined
  // Its keys mapped to the CoreOS file names (a cert-manager Secret).
  clientTLSItems?: Array<{ key: string, path: string }> | undefined
  timeoutSeconds: number
  store: { s3: S3Store, object?: boolean } | { pvc: PVCStore, file?: string }
  maxBackups: number // 0 keeps all; scheduled backups only
}

export function templateBackupPodSpec (backup: BackupPod): Record<string, unknown> {
  return {
    restartPolicy: 'Never',
    automountServiceAccountToken: true,
    enableServiceLinks: false,
    securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 },
    initContainers: [{
      name: 'snapshot',
      image: backup.etcdImage,
      command: ['/usr/local/bin/etcdctl'],
      args: snapshotArgs(backup),
      volumeMounts: [
        { name: 'snapshot', mountPath: SNAPSHOT_DIR },
        ...(backup.clientTLSSecret !== undefined ? [{ name: 'client-tls', mountPath: CLIENT_TLS_DIR, readOnly: true }] : []),
      ],
    }],
    containers: [{
      name: 'upload',
      image: backup.runnerImage,
      command: ['node', RUNNER_ENTRY],
      args: uploadArgs(backup),
      // The runner records its result on its own Job (the hook sees the Job,
      // not its pods): the Job's name and namespace from the downward API.
      env: [
        { name: 'JOB_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.labels[\'batch.kubernetes.io/job-name\']' } } },
        { name: 'JOB_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ],
      volumeMounts: [
        { name: 'snapshot', mountPath: SNAPSHOT_DIR },
        'pvc' in backup.store ? { name: 'store', mountPath: STORE_DIR } : { name: 'aws', mountPath: AWS_DIR, readOnly: true },
      ],
    }],
    volumes: [
      { name: 'snapshot', emptyDir: {} },
      'pvc' in backup.store
        ? { name: 'store', persistentVolumeClaim: { claimName: backup.store.pvc.claimName } }
        : { name: 'aws', secret: { secretName: backup.store.s3.awsSecret } },
      ...(backup.clientTLSSecret !== undefined
        ? [{ name: 'client-tls', secret: { secretName: backup.clientTLSSecret, ...(backup.clientTLSItems !== undefined ? { items: backup.clientTLSItems } : {}) } }]
        : []),
    ],
  }
}

// `etcdctl snapshot save` streams a consistent snapshot from one member:
// the one snapshot subcommand etcdctl keeps in 3.6 and 3.7 (status and
// restore moved to etcdutl in 3.5; etcd/flags.ts, test/etcd-flags.test.ts).
function snapshotArgs (backup: BackupPod): string[] {
  return [
    `--endpoints=${backup.endpoint}`,
    '--dial-timeout=10s',
    `--command-timeout=${backup.timeoutSeconds}s`,
    ...(backup.clientTLSSecret !== undefined
      ? [`--cacert=${CLIENT_TLS_DIR}/etcd-client-ca.crt`, `--cert=${CLIENT_TLS_DIR}/etcd-client.crt`, `--key=${CLIENT_TLS_DIR}/etcd-client.key`]
      : []),
    'snapshot', 'save', SNAPSHOT_FILE,
  ]
}

function uploadArgs (backup: BackupPod): string[] {
  const { store } = backup
  const where = 'pvc' in store
    ? [
        '--store=pvc', `--pvc-dir=${STORE_DIR}`, `--pvc-claim=${store.pvc.claimName}`,
        ...(store.file !== undefined ? [`--pvc-file=${store.file}`] : store.pvc.subPath !== undefined ? [`--pvc-subpath=${store.pvc.subPath}`] : []),
      ]
    : [
        '--store=s3', store.object === true ? `--s3-object=${store.s3.path}` : `--s3-path=${store.s3.path}`, `--aws-dir=${AWS_DIR}`,
        ...(store.s3.endpoint !== undefined ? [`--s3-endpoint=${store.s3.endpoint}`] : []),
        ...(store.s3.region !== undefined ? [`--s3-region=${store.s3.region}`] : []),
        ...(store.s3.forcePathStyle === true ? ['--s3-force-path-style'] : []),
      ]
  return [
    'upload', `--snapshot=${SNAPSHOT_FILE}`, `--cluster=${backup.cluster}`, ...where,
    ...(backup.maxBackups > 0 ? [`--max-backups=${backup.maxBackups}`] : []),
    `--status-tool=${ETCDUTL}`, '--status-tool-kind=etcdutl',
    '--job=$(JOB_NAME)', '--namespace=$(JOB_NAMESPACE)',
  ]
}
