// Labels and metadata every child of a cluster carries.
import type { Cluster } from '../model.js'

// On the pods of voting members only, and the client Services select it: a
// learner answers /health as healthy (so its pod is Ready) but refuses
// clients' reads and writes ("rpc not supported for learner").
export const VOTER_LABEL = 'etcd_voter'

export function clusterLabels (cluster: Cluster): Record<string, string> {
  return {
    'app': 'etcd',
    'etcd_cluster': cluster.name,
    'app.kubernetes.io/name': 'etcd',
    'app.kubernetes.io/instance': cluster.name,
    'app.kubernetes.io/managed-by': 'etcd-operator',
  }
}

// Selects the members of this cluster (the CoreOS operator's selector).
export function memberSelector (cluster: Cluster): Record<string, string> {
  return { app: 'etcd', etcd_cluster: cluster.name }
}

export function metadata (cluster: Cluster, name: string, component: string, extra: { labels?: Record<string, string> | undefined, annotations?: Record<string, string> | undefined } = {}) {
  return {
    name,
    namespace: cluster.namespace,
    labels: Object.assign({}, extra.labels, clusterLabels(cluster), { 'app.kubernetes.io/component': component }),
    ...(extra.annotations !== undefined && Object.keys(extra.annotations).length > 0 ? { annotations: { ...extra.annotations } } : {}),
  }
}
