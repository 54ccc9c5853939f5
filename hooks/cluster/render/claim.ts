import type { KubeObject } from '../../api/kube.js'
import type { Cluster } from '../model.js'
import { claimName } from '../names.js'
import { metadata } from './labels.js'

// A member's data volume, when spec.pod.persistentVolumeClaimSpec is set.
export function templateClaim (cluster: Cluster, pod: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: metadata(cluster, claimName(pod), 'member', { labels: { etcd_node: pod } }),
    spec: cluster.spec.pod.persistentVolumeClaimSpec ?? {},
  }
}
