// Backups and restores: where snapshots go (S3 or a PersistentVolumeClaim),
// EtcdCluster's spec.backup (scheduled) and spec.restore (a new cluster from
// a snapshot), and the on-demand EtcdBackup (CoreOS's API, plus
// `clusterName` and the PVC store).
import { Type, type Static } from '@sinclair/typebox'
import { ConditionSchema, ObjectMetaSchema, type KubeObject } from './kube.js'
import { ChildMap, ChildrenOf, Open, OpenArray, OptionalString, syncRequestSchema, syncResponseSchema } from './metacontroller.js'

// The runner records a backup's result on its own Job under these
// annotations (object, revision, size, sha256, etcd-version); the hook
// reads them back from the Job Metacontroller shows it.
export const BACKUP_ANNOTATION_PREFIX = 'etcd.database.coreos.com/backup-'

const SecretName = (description: string) => Type.String({ minLength: 1, description })

// An S3 (or S3-compatible) store, CoreOS's fields.
const s3Store = (path: string) => Type.Object({
  path: Type.String({ minLength: 3, pattern: '^[^/]+/.*$', description: path }),
  awsSecret: SecretName('Secret with the credentials: files `credentials` and `config` (AWS shared-file format, as CoreOS had them), or keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.'),
  endpoint: Type.Optional(Type.String({ minLength: 1, description: 'URL of an S3-compatible store (MinIO, Ceph, ...); AWS when unset.' })),
  region: Type.Optional(Type.String({ minLength: 1, description: 'Region; us-east-1 when unset.' })),
  forcePathStyle: Type.Optional(Type.Boolean({ description: 'Path-style addressing (most S3-compatible stores want it).' })),
}, { additionalProperties: false })

export const BackupS3Schema = s3Store('`<bucket>/<prefix>`: backups are named `<prefix>/<cluster>-<UTC time>-r<revision>.db`.')
export const BackupPVCSchema = Type.Object({
  claimName: Type.String({ minLength: 1, description: 'An existing PersistentVolumeClaim in the cluster\'s namespace (ReadWriteMany, or ReadWriteOnce on one node).' }),
  subPath: Type.Optional(Type.String({ description: 'Directory inside the claim.' })),
}, { additionalProperties: false })

export const BackupPolicySchema = Type.Object({
  schedule: Type.String({ minLength: 1, description: 'Cron schedule of the CronJob `<name>-backup`, e.g. `*/30 * * * *`.' }),
  timeZone: Type.Optional(Type.String({ minLength: 1, description: 'Time zone of the schedule (CronJob timeZone), e.g. Etc/UTC.' })),
  maxBackups: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Keep the newest N backups of this cluster in the store; 0 keeps all. Older ones are deleted only after a new one succeeded.' })),
  timeoutSeconds: Type.Optional(Type.Integer({ minimum: 30, default: 600, description: 'A backup running longer fails (the Job\'s activeDeadlineSeconds).' })),
  failureThreshold: Type.Optional(Type.Integer({ minimum: 1, default: 3, description: 'Failed runs in a row before BackupHealthy turns False.' })),
  suspend: Type.Optional(Type.Boolean({ default: false, description: 'Suspend the schedule; running backups finish.' })),
  s3: Type.Optional(BackupS3Schema),
  pvc: Type.Optional(BackupPVCSchema),
}, { additionalProperties: false, description: 'Scheduled backups. Exactly one of s3 and pvc.' })
export type BackupPolicy = Static<typeof BackupPolicySchema>

export const RestoreS3Schema = s3Store('`<bucket>/<key>` of one snapshot, or `<bucket>/<prefix>` with latest: true (the newest snapshot under it).')
export const RestorePVCSchema = Type.Object({
  claimName: Type.String({ minLength: 1, description: 'The PersistentVolumeClaim holding the snapshot.' }),
  path: Type.String({ minLength: 1, description: 'The snapshot\'s path inside the claim, or a directory with latest: true.' }),
}, { additionalProperties: false })

export const RestoreSchema = Type.Object({
  s3: Type.Optional(RestoreS3Schema),
  pvc: Type.Optional(RestorePVCSchema),
  latest: Type.Optional(Type.Boolean({ default: false, description: 'The path is a prefix (or directory): restore the newest snapshot under it.' })),
}, { additionalProperties: false, description: 'Create the cluster from a snapshot. Read only when the cluster is created; it cannot change afterwards. Exactly one of s3 and pvc.' })
export type Restore = Static<typeof RestoreSchema>

export const BACKUP_RULES = [
  { rule: 'has(self.s3) != has(self.pvc)', message: 'exactly one of s3 and pvc says where backups go' },
]
export const RESTORE_RULES = [
  { rule: 'has(self.s3) != has(self.pvc)', message: 'exactly one of s3 and pvc says where the snapshot is' },
]
// On spec: restore is read when the cluster is created; changing it later
// would promise a restore that never happens.
export const RESTORE_IMMUTABLE_RULES = [
  { rule: 'has(self.restore) == has(oldSelf.restore) && (!has(self.restore) || self.restore == oldSelf.restore)', message: 'restore cannot be added, changed or removed after the cluster is created' },
]

// EtcdBackup (etcd.database.coreos.com/v1beta2): one snapshot, now.
export const EtcdBackupSpecSchema = Type.Object({
  clusterName: Type.Optional(Type.String({ minLength: 1, description: 'An EtcdCluster in this namespace: its members and TLS are used.' })),
  etcdEndpoints: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Client URLs to take the snapshot from (CoreOS); with clusterName, taken from the cluster.' })),
  clientTLSSecret: Type.Optional(SecretName('Secret with etcd-client.crt, etcd-client.key and etcd-client-ca.crt for etcdEndpoints over https (CoreOS); with clusterName, the cluster\'s operatorSecret.')),
  storageType: Type.Optional(Type.Union([Type.Literal('S3'), Type.Literal('PVC')], { description: 'S3 (CoreOS) or PVC; taken from which store is set when unset.' })),
  s3: Type.Optional(s3Store('`<bucket>/<key>`: the exact object to write (CoreOS).')),
  pvc: Type.Optional(RestorePVCSchema),
  backupPolicy: Type.Optional(Type.Object({
    timeoutInSecond: Type.Optional(Type.Integer({ minimum: 30, description: 'The backup fails after this long (default 600).' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false })
export type EtcdBackupSpec = Static<typeof EtcdBackupSpecSchema>

export const ETCD_BACKUP_RULES = [
  { rule: 'has(self.clusterName) != (has(self.etcdEndpoints) && size(self.etcdEndpoints) > 0)', message: 'exactly one of clusterName and etcdEndpoints says which etcd to back up' },
  { rule: 'has(self.s3) != has(self.pvc)', message: 'exactly one of s3 and pvc says where the snapshot goes' },
  { rule: '!has(self.storageType) || (self.storageType == \'S3\') == has(self.s3)', message: 'storageType must name the store that is set' },
]

export const EtcdBackupStatusSchema = Type.Object({
  succeeded: Type.Optional(Type.Boolean()),
  reason: Type.Optional(Type.String()),
  etcdVersion: Type.Optional(Type.String()),
  etcdRevision: Type.Optional(Type.Integer()),
  lastSuccessDate: Type.Optional(Type.String()),
  object: Type.Optional(Type.String({ description: '`s3://bucket/key` or `pvc://claim/path`.' })),
  size: Type.Optional(Type.Integer()),
  sha256: Type.Optional(Type.String()),
  conditions: Type.Optional(Type.Array(ConditionSchema)),
  observedGeneration: Type.Optional(Type.Integer()),
}, { additionalProperties: true })
export type EtcdBackupStatus = Static<typeof EtcdBackupStatusSchema>

export const EtcdBackupSchema = Type.Object({
  apiVersion: Type.Literal('etcd.database.coreos.com/v1beta2'),
  kind: Type.Literal('EtcdBackup'),
  metadata: ObjectMetaSchema,
  spec: EtcdBackupSpecSchema,
  status: Type.Optional(EtcdBackupStatusSchema),
}, { additionalProperties: true })
export type EtcdBackup = Static<typeof EtcdBackupSchema>

// What the last scheduled backups did, on the EtcdCluster's status.
export const BackupStatusSchema = Type.Object({
  lastSuccess: Type.Optional(Type.Object({
    time: Type.String(),
    object: Type.String(),
    revision: Type.Optional(Type.Integer()),
    size: Type.Optional(Type.Integer()),
    sha256: Type.Optional(Type.String()),
  })),
  lastFailure: Type.Optional(Type.Object({ time: Type.String(), reason: Type.String() })),
  failuresInARow: Type.Optional(Type.Integer({ minimum: 0 })),
  successDueBy: Type.Optional(Type.String({ description: 'A backup must succeed by this time, or BackupHealthy turns False: the schedule\'s second run after the last success (or after the CronJob was created), plus timeoutSeconds. Absent while suspended.' })),
})
export type BackupStatus = Static<typeof BackupStatusSchema>

// Where a restored cluster's data came from, on the EtcdCluster's status:
// learned from the seed's restore init containers, kept after that pod is
// gone.
export const RestoreStatusSchema = Type.Object({
  object: Type.String({ description: '`s3://bucket/key` or `pvc://path` of the snapshot restored.' }),
  revision: Type.Optional(Type.Integer({ description: 'The snapshot\'s revision, as etcd reported it.' })),
  time: Type.String({ description: 'When the restored data was moved into place.' }),
})
export type RestoreStatus = Static<typeof RestoreStatusSchema>

// The EtcdBackup controller's sync request: its one Job child, typed as far
// as the hook reads it.
const Str = OptionalString
export const ObservedBackupChildren = {
  'Job.batch/v1': ChildrenOf('batch/v1', 'Job', {
    status: Type.Optional(Open({
      startTime: Str(),
      completionTime: Str(),
      conditions: OpenArray({ type: Str(), status: Str(), reason: Str(), message: Str(), lastTransitionTime: Str() }),
    })),
  }),
}
export const BackupSyncRequestSchema = syncRequestSchema(EtcdBackupSchema, ObservedBackupChildren)
export type BackupSyncRequest = Omit<Static<typeof BackupSyncRequestSchema>, 'children'> & { children?: Static<typeof ChildMap> }
export const BackupSyncResponseSchema = syncResponseSchema(EtcdBackupStatusSchema)
export interface BackupSyncResponse {
  status: EtcdBackupStatus
  children: KubeObject[]
  resyncAfterSeconds: number
}
