// Where the snapshot comes from: the EtcdCluster spec.clusterName names (its
// client Service, its TLS, the etcdctl of its version), or the first of
// spec.etcdEndpoints. The cluster and the Secret arrive in `related` (the
// customize hook asks for them); nothing here reads the Kubernetes API.
import type { EtcdBackupSpec } from '../../api/backup.js'
import { API_VERSION, DEFAULT_REPOSITORY, DEFAULT_VERSION } from '../../api/cluster.js'
import type { KubeObject } from '../../api/kube.js'
import { CLIENT_PORT } from '../../cluster/model.js'
import { certificateSecret } from '../../cluster/names.js'
import { certManagerItems } from '../../cluster/tls-files.js'
import { childrenOfKind } from '../../kube/objects.js'
import type { BackupSource, SourceProblem } from '../model.js'

type Related = Record<string, Record<string, KubeObject>> | undefined
export type Source = { kind: 'ready', source: BackupSource } | { kind: 'problem', problem: SourceProblem }

// The files of a client TLS Secret (the CoreOS operator's names).
export const CLIENT_TLS_FILES = ['etcd-client.crt', 'etcd-client.key', 'etcd-client-ca.crt']

// What the hook reads of the EtcdCluster (a related object, not validated
// by the route: only these fields, each checked for its type).
interface ClusterShape {
  version?: unknown
  repository?: unknown
  TLS?: { static?: { member?: { serverSecret?: unknown }, operatorSecret?: unknown }, certManager?: unknown }
  pod?: { ClusterDomain?: unknown }
}

const text = (value: unknown): string | undefined => typeof value === 'string' && value !== '' ? value : undefined

export const RELATED_CLUSTER_KEY = `EtcdCluster.${API_VERSION}`

export function readSource (spec: EtcdBackupSpec, backup: string, namespace: string, related: Related): Source {
  if (spec.clusterName !== undefined) return clusterSource(spec.clusterName, namespace, related)
  const endpoint = spec.etcdEndpoints?.[0] ?? ''
  const secret = spec.clientTLSSecret
  if (secret !== undefined) {
    const problem = secretProblem(secret, namespace, related, 'spec.clientTLSSecret')
    if (problem !== undefined) return { kind: 'problem', problem }
  }
  return {
    kind: 'ready',
    source: { cluster: backup, endpoint, etcdImage: `${DEFAULT_REPOSITORY}:v${DEFAULT_VERSION}`, clientTLSSecret: secret },
  }
}

function clusterSource (name: string, namespace: string, related: Related): Source {
  const found = [...childrenOfKind(related, RELATED_CLUSTER_KEY).values()]
    .find(c => c.metadata.name === name && (c.metadata.namespace ?? namespace) === namespace)
  if (found === undefined) {
    return { kind: 'problem', problem: { reason: 'ClusterNotFound', message: `EtcdCluster ${namespace}/${name} not found (spec.clusterName)` } }
  }
  const spec = (found.spec ?? {}) as ClusterShape
  // cert-manager TLS is always client TLS, with the operator Certificate's Secret.
  const certManager = spec.TLS?.certManager !== undefined
  const tls = spec.TLS?.static
  const clientTLS = certManager || text(tls?.member?.serverSecret) !== undefined
  const operatorSecret = certManager ? certificateSecret(name, 'operator') : text(tls?.operatorSecret)
  if (clientTLS && operatorSecret === undefined) {
    return { kind: 'problem', problem: { reason: 'CredentialsMissing', message: `EtcdCluster ${namespace}/${name} has client TLS but no spec.TLS.static.operatorSecret to take a snapshot with` } }
  }
  const version = (text(spec.version) ?? DEFAULT_VERSION).replace(/^v/, '')
  const repository = text(spec.repository) ?? DEFAULT_REPOSITORY
  const domain = text(spec.pod?.ClusterDomain) ?? ''
  return {
    kind: 'ready',
    source: {
      cluster: name,
      endpoint: `${clientTLS ? 'https' : 'http'}://${name}-client.${namespace}.svc${domain}:${CLIENT_PORT}`,
      etcdImage: `${repository}:v${version}`,
      clientTLSSecret: clientTLS ? operatorSecret : undefined,
      ...(certManager ? { clientTLSItems: certManagerItems('operator') } : {}),
    },
  }
}

// The Secret must be there, with the three files: else the Job's pod
// would wait for it until the deadline.
function secretProblem (name: string, namespace: string, related: Related, field: string): SourceProblem | undefined {
  const secret = [...childrenOfKind(related, 'Secret.v1').values()]
    .find(s => s.metadata.name === name && (s.metadata.namespace ?? namespace) === namespace)
  if (secret === undefined) return { reason: 'CredentialsNotFound', message: `client TLS secret ${namespace}/${name} not found (${field})` }
  const data = (secret as { data?: Record<string, unknown> }).data ?? {}
  const missing = CLIENT_TLS_FILES.filter(file => typeof data[file] !== 'string' || data[file] === '')
  if (missing.length > 0) return { reason: 'CredentialsNotFound', message: `client TLS secret ${namespace}/${name} lacks ${missing.join(', ')} (${field})` }
  return undefined
}
