// The EtcdCluster API (etcd.database.coreos.com/v1beta2) as TypeBox
// schemas. These constants are the single source of truth: the sync route
// validates with them and hooks/api/crd.ts derives the CRD's
// openAPIV3Schema from them.
//
// Field names follow the CoreOS etcd-operator (including `TLS`,
// `ClusterDomain` and `DNSTimeoutInSecond`) so its users can move over.
import { Type, type Static } from '@sinclair/typebox'
import { BackupPolicySchema, BackupStatusSchema, RestoreSchema, RestoreStatusSchema } from './backup.js'
import { AutoCompactionSchema, DefragPolicySchema, MaintenanceStatusSchema, QuotaBackendBytesSchema } from './maintenance.js'
import { ConditionSchema, ObjectMetaSchema, Opaque, StringMap, type KubeObject } from './kube.js'
import { ChildMap, ChildrenOf, Open, OpenArray, OptionalString, syncRequestSchema, syncResponseSchema } from './metacontroller.js'

export const API_GROUP = 'etcd.database.coreos.com'
export const API_VERSION = `${API_GROUP}/v1beta2`

// The newest 3.6 patch (etcd's mainline), at or above the floor for 3.7
// (etcd/versions.ts). A cluster left at the previous default, 3.5.33,
// rolls to it as an allowed upgrade (the 3.6 floor is 3.5.32); the member
// arguments we render run on both (etcd/flags.ts).
export const DEFAULT_VERSION = '3.6.14'
export const DEFAULT_REPOSITORY = 'quay.io/coreos/etcd'
export const MAX_SIZE = 9
// Member pods are named `<cluster>-<ordinal>` and must stay a DNS label (63);
// the CoreOS operator refused names longer than 52 for the same reason.
export const MAX_CLUSTER_NAME_LENGTH = 52

export const VersionPattern = '^v?[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?$'

// A core/v1 EnvVar. Typed (not opaque) so the CRD's rules can read its name;
// lengths bounded so their CEL cost is.
const EtcdEnvVarSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 253 }),
  value: Type.Optional(Type.String({ maxLength: 32768 })),
  valueFrom: Type.Optional(Opaque('A core/v1 EnvVarSource.')),
}, { additionalProperties: false, description: 'A core/v1 EnvVar.' })

export const PodPolicySchema = Type.Object({
  labels: Type.Optional(StringMap('Labels added to every member pod. `app` and `etcd_*` are reserved.')),
  annotations: Type.Optional(StringMap('Annotations added to every member pod.')),
  nodeSelector: Type.Optional(StringMap('Node selector of every member pod.')),
  affinity: Type.Optional(Opaque('Affinity of every member pod (core/v1 Affinity).')),
  antiAffinity: Type.Optional(Type.Boolean({ description: 'Shorthand for required pod anti-affinity on kubernetes.io/hostname between members.' })),
  tolerations: Type.Optional(Type.Array(Opaque('A core/v1 Toleration.'), { description: 'Tolerations of every member pod.' })),
  resources: Type.Optional(Opaque('Resources of the etcd container (core/v1 ResourceRequirements).')),
  etcdEnv: Type.Optional(Type.Array(EtcdEnvVarSchema, { maxItems: 128, description: 'Extra environment of the etcd container (ETCD_* settings). Variables the operator sets itself are refused.' })),
  securityContext: Type.Optional(Opaque('Pod security context (core/v1 PodSecurityContext).')),
  persistentVolumeClaimSpec: Type.Optional(Opaque('When set, each member keeps its data on its own PersistentVolumeClaim of this spec.')),
  ClusterDomain: Type.Optional(Type.String({ description: 'Cluster DNS domain with its leading dot, e.g. `.cluster.local`. Empty: the search path resolves `<pod>.<cluster>.<namespace>.svc`.', pattern: '^(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' })),
  DNSTimeoutInSecond: Type.Optional(Type.Integer({ minimum: 0, description: 'Accepted for CoreOS compatibility; etcd itself retries DNS, and the pod restarts in place.' })),
  busyboxImage: Type.Optional(Type.String({ description: 'Accepted for CoreOS compatibility; member pods have no DNS-wait init container.' })),
  priorityClassName: Type.Optional(Type.String({ description: 'Priority class of every member pod.' })),
  topologySpreadConstraints: Type.Optional(Type.Array(Opaque('A core/v1 TopologySpreadConstraint.'), { description: 'Topology spread constraints of every member pod.' })),
}, { additionalProperties: false, description: 'How member pods are made. Applies to members created after the change.' })

const SecretName = (description: string) => Type.String({ minLength: 1, description })

// A Go duration as cert-manager reads it (`2160h`, `720h30m`).
const GoDuration = (description: string) => Type.String({ pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$', description })

export const CERT_MANAGER_GROUP = 'cert-manager.io'
export const CertManagerSchema = Type.Object({
  issuerRef: Type.Object({
    name: Type.String({ minLength: 1, description: 'The Issuer or ClusterIssuer that signs the peer, server and operator certificates.' }),
    kind: Type.Optional(Type.Union([Type.Literal('Issuer'), Type.Literal('ClusterIssuer')], { default: 'Issuer' })),
    group: Type.Optional(Type.String({ minLength: 1, default: CERT_MANAGER_GROUP })),
  }, { additionalProperties: false }),
  duration: Type.Optional(GoDuration('Lifetime of each certificate (cert-manager\'s default: 2160h).')),
  renewBefore: Type.Optional(GoDuration('How long before expiry cert-manager renews (default: a third of the lifetime). Members pick renewed certificates up without a restart.')),
  privateKey: Type.Optional(Type.Object({
    algorithm: Type.Optional(Type.Union([Type.Literal('ECDSA'), Type.Literal('RSA'), Type.Literal('Ed25519')])),
    size: Type.Optional(Type.Integer({ description: 'RSA: 2048 to 8192 bits; ECDSA: 256, 384 or 521; Ed25519: none.' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false, description: 'Peer and client TLS from cert-manager: the hook asks for Certificates <name>-peer-cert, <name>-server-cert and <name>-operator-cert (cert-manager.io/v1) and mounts the Secrets of the same names.' })

export const TLSPolicySchema = Type.Object({
  certManager: Type.Optional(CertManagerSchema),
  static: Type.Optional(Type.Object({
    member: Type.Optional(Type.Object({
      peerSecret: Type.Optional(SecretName('Secret with peer.crt, peer.key and peer-ca.crt: peer traffic becomes https.')),
      serverSecret: Type.Optional(SecretName('Secret with server.crt, server.key and server-ca.crt: client traffic becomes https with client certificate auth.')),
    }, { additionalProperties: false })),
    operatorSecret: Type.Optional(SecretName('Secret with etcd-client.crt, etcd-client.key and etcd-client-ca.crt, used by the hook to manage membership.')),
  }, { additionalProperties: false, description: 'Static TLS with the secret layout of the CoreOS operator.' })),
}, { additionalProperties: false, description: 'TLS for peers and clients: static (the CoreOS operator\'s Secrets) or certManager. Chosen at creation.' })

export const LoadBalancerSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean({ default: false, description: 'Create the LoadBalancer Service `<name>-client-lb` in front of ready members.' })),
  annotations: Type.Optional(StringMap('Annotations of the LoadBalancer Service (cloud provider settings).')),
  sourceRanges: Type.Optional(Type.Array(Type.String(), { description: 'CIDRs allowed to reach the LoadBalancer. Set this: etcd without client TLS has no authentication.' })),
  loadBalancerClass: Type.Optional(Type.String({ description: 'spec.loadBalancerClass of the Service.' })),
  externalTrafficPolicy: Type.Optional(Type.Union([Type.Literal('Cluster'), Type.Literal('Local')], { description: 'spec.externalTrafficPolicy of the Service.' })),
}, { additionalProperties: false })

export const PodDisruptionBudgetSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean({ default: true, description: 'Create the PodDisruptionBudget `<name>`.' })),
  maxUnavailable: Type.Optional(Type.Integer({ minimum: 1, default: 1, description: 'Members that voluntary disruptions may take down at once.' })),
}, { additionalProperties: false })

export const ClusterSpecSchema = Type.Object({
  size: Type.Integer({ minimum: 1, maximum: MAX_SIZE, description: 'Number of etcd members (1 to 9; odd sizes tolerate the most failures).' }),
  version: Type.Optional(Type.String({ default: DEFAULT_VERSION, pattern: VersionPattern, description: 'etcd version, 3.4 to 3.7 (the minors whose command line the operator knows), e.g. 3.6.14; a leading v is accepted. Upgrades go one minor at a time, from the patch etcd\'s upgrade guide names (3.5.32 before 3.6, 3.6.11 before 3.7).' })),
  repository: Type.Optional(Type.String({ default: DEFAULT_REPOSITORY, minLength: 1, description: 'Image repository; the image is `<repository>:v<version>`.' })),
  paused: Type.Optional(Type.Boolean({ default: false, description: 'When true the hook changes no member: no membership change, no pod created, changed or deleted.' })),
  pod: Type.Optional(PodPolicySchema),
  TLS: Type.Optional(TLSPolicySchema),
  loadBalancer: Type.Optional(LoadBalancerSchema),
  podDisruptionBudget: Type.Optional(PodDisruptionBudgetSchema),
  backup: Type.Optional(BackupPolicySchema),
  quotaBackendBytes: Type.Optional(QuotaBackendBytesSchema),
  autoCompaction: Type.Optional(AutoCompactionSchema),
  defrag: Type.Optional(DefragPolicySchema),
  restore: Type.Optional(RestoreSchema),
}, { additionalProperties: false })
export type ClusterSpec = Static<typeof ClusterSpecSchema>
export type PodPolicy = Static<typeof PodPolicySchema>
export type CertManagerPolicy = Static<typeof CertManagerSchema>

export const ClusterStatusSchema = Type.Object({
  phase: Type.Optional(Type.Union([Type.Literal('Creating'), Type.Literal('Running'), Type.Literal('Failed')])),
  reason: Type.Optional(Type.String()),
  controlPaused: Type.Optional(Type.Boolean()),
  conditions: Type.Optional(Type.Array(ConditionSchema)),
  size: Type.Optional(Type.Integer({ description: 'Members in etcd (voters and learners).' })),
  members: Type.Optional(Type.Object({
    ready: Type.Optional(Type.Array(Type.String())),
    unready: Type.Optional(Type.Array(Type.String())),
    outdated: Type.Optional(Type.Array(Type.String(), { description: 'Members made from an old spec.pod, being replaced one at a time.' })),
  })),
  currentVersion: Type.Optional(Type.String({ description: 'The oldest etcd version a member runs, as etcd reports it (the image tag for a member that does not answer).' })),
  clusterVersion: Type.Optional(Type.String({ description: 'etcd\'s cluster version: the minor every member speaks (GET /version).' })),
  targetVersion: Type.Optional(Type.String()),
  serviceName: Type.Optional(Type.String()),
  clientPort: Type.Optional(Type.Integer()),
  clientURL: Type.Optional(Type.String()),
  externalClientURLs: Type.Optional(Type.Array(Type.String())),
  clusterID: Type.Optional(Type.String()),
  leader: Type.Optional(Type.String()),
  learners: Type.Optional(Type.Array(Type.String())),
  backup: Type.Optional(BackupStatusSchema),
  maintenance: Type.Optional(MaintenanceStatusSchema),
  restore: Type.Optional(RestoreStatusSchema),
  highestOrdinal: Type.Optional(Type.Integer({ minimum: 0, description: 'The highest member ordinal this cluster has used: new members take higher ones, so no name (or volume) is ever reused.' })),
  lastAction: Type.Optional(Type.String()),
  observedGeneration: Type.Optional(Type.Integer()),
}, { additionalProperties: true })
export type ClusterStatus = Static<typeof ClusterStatusSchema>

export const EtcdClusterSchema = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('EtcdCluster'),
  metadata: ObjectMetaSchema,
  spec: ClusterSpecSchema,
  status: Type.Optional(ClusterStatusSchema),
}, { additionalProperties: true })
export type EtcdCluster = Static<typeof EtcdClusterSchema>

// The children the EtcdCluster controller reads, typed as far as it reads
// them.
const Str = OptionalString
const ObservedClusterChildren = {
  'Pod.v1': ChildrenOf('v1', 'Pod', {
    spec: Type.Optional(Open({
      containers: OpenArray({ name: Str(), image: Str() }),
      volumes: OpenArray({ name: Str(), secret: Type.Optional(Open({ secretName: Str() })) }),
    })),
    status: Type.Optional(Open({
      phase: Str(),
      conditions: OpenArray({ type: Str(), status: Str(), lastTransitionTime: Str() }),
      containerStatuses: OpenArray({
        name: Str(),
        image: Str(),
        state: Type.Optional(Open({ waiting: Type.Optional(Open({ reason: Str() })) })),
      }),
    })),
  }),
  'Service.v1': ChildrenOf('v1', 'Service', {
    status: Type.Optional(Open({ loadBalancer: Type.Optional(Open({ ingress: OpenArray({ ip: Str(), hostname: Str() }) })) })),
  }),
  'PersistentVolumeClaim.v1': ChildrenOf('v1', 'PersistentVolumeClaim', {}),
  'PodDisruptionBudget.policy/v1': ChildrenOf('policy/v1', 'PodDisruptionBudget', {}),
}

export const SyncRequestSchema = syncRequestSchema(EtcdClusterSchema, ObservedClusterChildren)
// Children as the hook code sees them: plain Kubernetes objects by name.
export type SyncRequest = Omit<Static<typeof SyncRequestSchema>, 'children'> & { children?: Static<typeof ChildMap> }

export const SyncResponseSchema = syncResponseSchema(ClusterStatusSchema)
export interface SyncResponse {
  status: ClusterStatus
  children: KubeObject[]
  resyncAfterSeconds: number
}
