import type { KubeObject } from '../../api/kube.js'
import type { Cluster } from '../model.js'
import { memberSelector, metadata } from './labels.js'

// Voluntary disruptions (node drains) take down at most maxUnavailable
// members at once.
export function templateDisruptionBudget (cluster: Cluster): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(cluster, cluster.name, 'member'),
    spec: {
      maxUnavailable: cluster.spec.podDisruptionBudget.maxUnavailable,
      selector: { matchLabels: memberSelector(cluster) },
    },
  }
}
