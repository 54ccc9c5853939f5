// Metacontroller's customize hook for EtcdClusters: which objects that are
// no children of ours each sync should bring along in `related`. Pure.
import { certificateSecret } from './names.js'
import { backupJobSelector } from './render/backup.js'

export interface CustomizeParent {
  metadata: { name: string, namespace?: string | undefined }
  spec: { TLS?: { static?: { operatorSecret?: string | undefined } | undefined, certManager?: unknown } | undefined, backup?: unknown }
}

export interface RelatedResource {
  apiVersion: string
  resource: string
  namespace: string
  names?: string[]
  labelSelector?: { matchLabels: Record<string, string> }
}

export function relatedResources (parent: CustomizeParent): RelatedResource[] {
  const namespace = parent.metadata.namespace ?? 'default'
  // cert-manager fills the Certificates' Secrets of the same names: the
  // operator's is the hook's certificate, the members' ca.crt tells a CA
  // change (rules/certificates.ts).
  const secrets = parent.spec.TLS?.certManager !== undefined
    ? (['operator', 'peer', 'server'] as const).map(role => certificateSecret(parent.metadata.name, role))
    : [parent.spec.TLS?.static?.operatorSecret].filter(name => name !== undefined)
  return [
    // The hook's etcd client certificate: the hook never reads the
    // Kubernetes API itself.
    ...(secrets.length > 0 ? [{ apiVersion: 'v1', resource: 'secrets', namespace, names: secrets }] : []),
    // The backup CronJob's Jobs (the CronJob owns them, so they are no
    // children): their outcome is the cluster's backup status.
    ...(parent.spec.backup !== undefined
      ? [{ apiVersion: 'batch/v1', resource: 'jobs', namespace, labelSelector: { matchLabels: backupJobSelector(parent.metadata.name) } }]
      : []),
  ]
}
