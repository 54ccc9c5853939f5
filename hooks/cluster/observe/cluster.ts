// The request, read into the controller's model: spec with defaults, member
// pods by ordinal, Services and claims by name. No I/O.
import type { SyncRequest } from '../../api/cluster.js'
import type { KubeObject } from '../../api/kube.js'
import { childrenOfKind } from '../../kube/objects.js'
import { DEFAULT_SETTINGS, type Cluster, type HookSettings } from '../model.js'
import { ordinalOf } from '../names.js'
import { readBackupJobs } from './backup-jobs.js'
import { backupCronJobName } from '../names.js'
import { observedCertificates, trustedCAOf } from './certificates.js'
import { observePod } from './pods.js'
import { resolveSpec } from './spec.js'

export function readCluster (request: SyncRequest, settings: HookSettings = DEFAULT_SETTINGS): Cluster {
  const { parent } = request
  const name = parent.metadata.name
  const namespace = parent.metadata.namespace ?? 'default'
  const cluster: Cluster = {
    name,
    namespace,
    spec: resolveSpec(parent.spec, parent.metadata.name),
    previous: parent.status ?? {},
    pods: [],
    services: childrenOfKind(request.children, 'Service.v1'),
    claims: childrenOfKind(request.children, 'PersistentVolumeClaim.v1'),
    // Unique to this cluster object, so members of a deleted and re-created
    // cluster of the same name never join each other.
    token: `${name}-${parent.metadata.uid ?? namespace}`,
    deleting: parent.metadata.deletionTimestamp !== undefined || request.finalizing === true,
    settings,
    backupJobs: readBackupJobs(request, name, namespace),
    backupsSince: createdAt(childrenOfKind(request.children, 'CronJob.batch/v1').get(backupCronJobName({ name }))),
    certificates: observedCertificates(request),
    trustedCA: trustedCAOf(request),
  }
  for (const pod of childrenOfKind(request.children, 'Pod.v1').values()) {
    const ordinal = ordinalOf(cluster, pod.metadata.name)
    if (ordinal !== undefined) cluster.pods.push(observePod(pod, ordinal))
  }
  cluster.pods.sort((a, b) => a.ordinal - b.ordinal)
  return cluster
}

function createdAt (object: KubeObject | undefined): string | undefined {
  const created = object?.metadata.creationTimestamp
  return typeof created === 'string' ? created : undefined
}
