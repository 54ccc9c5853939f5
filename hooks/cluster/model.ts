// The EtcdCluster controller's model of one sync: the cluster's spec with
// defaults filled in, and what the observed children say. Built by
// observe/, read by rules/, render/ and status.ts.
import type { BackupPolicy, Restore } from '../api/backup.js'
import type { CertManagerPolicy, ClusterSpec, PodPolicy, SyncRequest } from '../api/cluster.js'
import type { AutoCompaction, DefragPolicy } from '../api/maintenance.js'
import type { KubeObject } from '../api/kube.js'
import type { ObservedBackupJob } from './observe/backup-jobs.js'

export const CLIENT_PORT = 2379
export const PEER_PORT = 2380
export const METRICS_PORT = 2381
export const ETCD_CONTAINER = 'etcd'
// The pod volumes that hold the member TLS secrets.
export const PEER_TLS_VOLUME = 'member-peer-tls'
export const SERVER_TLS_VOLUME = 'member-server-tls'

// What a member pod was made from (a fingerprint of spec.pod).
export const POD_POLICY_ANNOTATION = 'etcd.database.coreos.com/pod-policy'
// The CA a cert-manager member started with (a fingerprint of the member
// Secrets' ca.crt): etcd reads its trusted CA files only at start.
export const TRUSTED_CA_ANNOTATION = 'etcd.database.coreos.com/trusted-ca'

export interface ResolvedSpec {
  size: number
  version: string // without the leading v
  repository: string
  image: string
  paused: boolean
  pod: PodPolicy
  loadBalancer: Omit<NonNullable<ClusterSpec['loadBalancer']>, 'enabled'> & { enabled: boolean }
  podDisruptionBudget: { enabled: boolean, maxUnavailable: number }
  tls: ClusterTLS
  // Fingerprint of everything a pod is made from that cannot change in
  // place: members made from another one are replaced, one at a time.
  podPolicyHash: string
  // Scheduled backups, defaults filled in; undefined: none.
  backup: ResolvedBackup | undefined
  // Where the seed's data comes from; undefined: a new, empty cluster.
  restore: Restore | undefined
  // Quota, compaction (etcd flags) and defrag (the hook's), defaults filled in.
  maintenance: ResolvedMaintenance
}

export interface ResolvedMaintenance {
  // --quota-backend-bytes; undefined: not rendered (etcd's 2 GiB).
  quotaBytes: number | undefined
  autoCompaction: AutoCompaction | undefined
  defrag: Required<Pick<DefragPolicy, 'enabled' | 'fragmentationAbove' | 'quotaUsageAbove' | 'windowMinutes'>> & Pick<DefragPolicy, 'schedule' | 'timeZone'>
}

export type ResolvedBackup = Required<Pick<BackupPolicy, 'schedule' | 'maxBackups' | 'timeoutSeconds' | 'failureThreshold' | 'suspend'>> & Pick<BackupPolicy, 'timeZone' | 's3' | 'pvc'>

// What the hook is told by its own configuration (not by the request).
export interface HookSettings {
  // The operator image: backup Jobs run its runner (hooks/runner).
  runnerImage: string
}

export const DEFAULT_SETTINGS: HookSettings = { runnerImage: 'ghcr.io/etcd-operator/etcd-operator-hook:0.1.0' }

// spec.TLS, flattened: the Secrets members and the hook use, absent when
// not set. With certManager the names are the Certificates' (names.ts),
// always all three, and `certManager` says how to ask for them.
export interface ClusterTLS {
  peerSecret?: string | undefined
  serverSecret?: string | undefined
  operatorSecret?: string | undefined
  certManager?: CertManagerPolicy | undefined
}

// What the kubelet tells us of one member pod.
export interface ObservedPod {
  name: string
  ordinal: number
  object: KubeObject
  phase: string
  running: boolean // phase Running and the etcd container up
  ready: boolean // Ready condition True
  terminating: boolean // deletionTimestamp set
  image: string // the etcd container's image in the spec
  imageRolledOut: boolean // the running container uses the spec's image
  podPolicyHash: string | undefined // what it was made from (annotation)
  crashLooping: boolean // the kubelet backs off restarting etcd
  unreadySince: string | undefined // Ready condition False since (RFC 3339)
  createdAt: string | undefined // metadata.creationTimestamp (RFC 3339)
  // The member TLS secrets its volumes mount (none: plain http), and in
  // which layout: cert-manager's keys mapped to file names, or the files
  // as the Secret names them (static).
  tls: { peerSecret: string | undefined, serverSecret: string | undefined, certManager: boolean }
}

export interface Cluster {
  name: string
  namespace: string
  spec: ResolvedSpec
  previous: NonNullable<SyncRequest['parent']['status']>
  pods: ObservedPod[] // ordered by ordinal
  services: Map<string, KubeObject>
  claims: Map<string, KubeObject> // PersistentVolumeClaims by name
  token: string
  // The EtcdCluster is being deleted (deletionTimestamp, or Metacontroller
  // calls with finalizing: true).
  deleting: boolean
  settings: HookSettings
  // The backup CronJob's Jobs (from `related`), oldest first.
  backupJobs: ObservedBackupJob[]
  // When the backup CronJob was created: scheduled backups are due since.
  backupsSince: string | undefined
  // cert-manager TLS: the Certificates as observed, by name, and the
  // fingerprint of the CA in the member Secrets (from `related`;
  // undefined until both are issued).
  certificates: Map<string, KubeObject>
  trustedCA: string | undefined
}

// A member pod a rule asks for; render/pod.ts makes the object.
export interface NewMemberPod {
  pod: string
  // `new` for the seed, `existing` for a member joining a running cluster.
  initialClusterState: 'new' | 'existing'
  // name=peerURL pairs, including this member.
  initialCluster: string[]
  // The seed votes from the start; every other new pod gets VOTER_LABEL
  // once etcd lists its member as a voter.
  voter?: boolean
  // The etcd image, when not spec's: a member that joins during an upgrade
  // runs the version the cluster runs.
  image?: string
  // The seed of a cluster made from a snapshot (spec.restore): its init
  // containers restore it (render/restore.ts).
  restore?: boolean
}
