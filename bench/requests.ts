// The sync requests the benchmark sends: what Metacontroller sends for a
// steady cluster of `size` members. Pods rendered by the hook with the
// kubelet's status (test/helpers/fixtures.ts), the Services and the
// PodDisruptionBudget as the API server stores them, and the status the
// hook wrote on the previous sync.
import { readCluster } from '../hooks/cluster/observe/cluster.js'
import { observeTarget } from '../hooks/cluster/targets.js'
import { plan } from '../hooks/cluster/plan.js'
import type { SyncRequest } from '../hooks/api/cluster.js'
import type { KubeObject } from '../hooks/api/kube.js'
import { NAME, NOW, UID, syncRequest } from '../test/helpers/fixtures.js'
import { healthyObservation } from './healthy-membership.js'

export function steadyRequest (size: number): SyncRequest {
  const fixture = { spec: { size }, pods: Array.from({ length: size }, (_, ordinal) => ({ ordinal })) }
  const first = syncRequest(fixture)
  const previous = plan(first, healthyObservation(observeTarget(readCluster(first))), NOW)
  if (previous.rule !== 'steady') throw new Error(`size ${size}: the benchmark request is not steady (rule ${previous.rule})`)

  const stored = (kind: string) => previous.response.children.filter(c => c.kind === kind).map(c => asStored(c, size))
  const request = syncRequest({ ...fixture, status: previous.response.status, services: stored('Service') })
  const budgets = Object.fromEntries(stored('PodDisruptionBudget').map(b => [b.metadata.name, b]))
  request.children = { ...request.children, 'PodDisruptionBudget.policy/v1': budgets }
  return request
}

// A child as the API server returns it: with server-owned metadata and a status.
function asStored (object: KubeObject, size: number): KubeObject {
  const { metadata } = object
  return {
    ...object,
    metadata: {
      ...metadata,
      uid: `uid-${metadata.name}`,
      resourceVersion: '4711',
      creationTimestamp: '2026-11-26T09:00:00Z',
      labels: { ...metadata.labels, 'controller-uid': UID },
      annotations: { ...metadata.annotations, 'metacontroller.k8s.io/last-applied-configuration': JSON.stringify({ metadata: { name: metadata.name } }) },
      ownerReferences: [{ apiVersion: 'etcd.database.coreos.com/v1beta2', kind: 'EtcdCluster', name: NAME, uid: UID, controller: true, blockOwnerDeletion: true }],
    },
    status: object.kind === 'Service' ? { loadBalancer: {} } : { currentHealthy: size, desiredHealthy: size - 1, disruptionsAllowed: 1, expectedPods: size, observedGeneration: 1 },
  }
}
