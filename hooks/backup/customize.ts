// Metacontroller's customize hook for EtcdBackups: the EtcdCluster
// spec.clusterName names, or (for bare etcdEndpoints) the client TLS Secret
// spec.clientTLSSecret names, arrive with every sync in `related`. Pure.
// (The customize hook sees only the parent, so it cannot ask for the
// operator Secret the cluster names: the Job mounts that one itself.)
import { API_VERSION } from '../api/cluster.js'
import type { RelatedResource } from '../cluster/customize.js'

export interface BackupCustomizeParent {
  metadata: { name: string, namespace?: string | undefined }
  spec: { clusterName?: string | undefined, clientTLSSecret?: string | undefined }
}

export function backupRelatedResources (parent: BackupCustomizeParent): RelatedResource[] {
  const namespace = parent.metadata.namespace ?? 'default'
  const { clusterName, clientTLSSecret } = parent.spec
  return [
    ...(clusterName !== undefined ? [{ apiVersion: API_VERSION, resource: 'etcdclusters', namespace, names: [clusterName] }] : []),
    ...(clusterName === undefined && clientTLSSecret !== undefined ? [{ apiVersion: 'v1', resource: 'secrets', namespace, names: [clientTLSSecret] }] : []),
  ]
}
