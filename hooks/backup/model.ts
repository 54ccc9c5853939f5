// The EtcdBackup controller's model of one sync: the backup's spec with
// defaults filled in, where the snapshot comes from (the EtcdCluster or bare
// endpoints, from `related`), and what its one Job says. Built by observe/,
// read by rules/, render/ and status.ts.
import type { EtcdBackupSpec, EtcdBackupStatus } from '../api/backup.js'
import type { KubeObject } from '../api/kube.js'
import type { HookSettings } from '../cluster/model.js'
import type { PVCStore, S3Store } from '../snapshot/pod.js'

export const DEFAULT_TIMEOUT_SECONDS = 600

// What the snapshot is taken from.
export interface BackupSource {
  cluster: string // names the snapshot (the runner's --cluster)
  endpoint: string
  etcdImage: string
  clientTLSSecret: string | undefined
  // cert-manager's keys mapped to the CoreOS file names (snapshot/pod.ts).
  clientTLSItems?: Array<{ key: string, path: string }> | undefined
}

// Why no Job can be made now: the status says so, a later sync tries again.
export interface SourceProblem {
  reason: 'ClusterNotFound' | 'CredentialsMissing' | 'CredentialsNotFound'
  message: string
}

// The backup's Job, as Metacontroller shows it, and what its runner
// recorded on it (annotations).
export interface ObservedJob {
  object: KubeObject
  outcome: 'running' | 'succeeded' | 'failed'
  finishedAt: string | undefined // completionTime, or the Failed condition's time
  failure: { reason: string, message: string } | undefined
  recorded: Recorded
}

// What the runner wrote on its Job once the snapshot was stored.
export interface Recorded {
  object?: string // s3://bucket/key or pvc://claim/path
  revision?: number
  size?: number
  sha256?: string
  etcdVersion?: string
}

export interface Backup {
  name: string
  namespace: string
  spec: EtcdBackupSpec
  timeoutSeconds: number
  store: { s3: S3Store, object: true } | { pvc: PVCStore, file: string }
  source: { kind: 'ready', source: BackupSource } | { kind: 'problem', problem: SourceProblem }
  job: ObservedJob | undefined
  previous: EtcdBackupStatus
  settings: HookSettings
}
