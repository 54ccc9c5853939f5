// Realistic sync requests, built the way Metacontroller would send them:
// pods rendered by the hook itself, then given the metadata the API server
// adds and the status a kubelet reports. Every call returns fresh objects.
import { readFileSync } from 'node:fs'
import { POD_POLICY_ANNOTATION, type Cluster } from '../../hooks/cluster/model.js'
import { clientURL, peerURL } from '../../hooks/cluster/names.js'
import { readCluster } from '../../hooks/cluster/observe/cluster.js'
import type { EtcdMember, Observation } from '../../hooks/etcd/types.js'
import { templateClaim } from '../../hooks/cluster/render/claim.js'
import { templateMemberPod } from '../../hooks/cluster/render/pod.js'
import type { ClusterSpec, ClusterStatus, SyncRequest } from '../../hooks/api/cluster.js'
import type { KubeObject } from '../../hooks/api/kube.js'

export const NAME = 'example'
export const NAMESPACE = 'default'
export const UID = '6c1e1a60-2d7f-4a4c-9f0e-2f1f4c3b9a10'
export const NOW = new Date('2026-11-26T10:00:00Z')

export type PodState = 'pending' | 'starting' | 'ready' | 'unready' | 'crashloop' | 'failed' | 'succeeded' | 'terminating'

export interface PodFixture {
  ordinal: number
  state?: PodState // default ready
  image?: string // spec image; default the cluster's
  runningImage?: string // what the kubelet reports; default the spec image
  oldPodPolicy?: boolean // made from an earlier spec.pod
  since?: string // when its conditions last changed; default 09:00:05, an hour before NOW
  created?: string // metadata.creationTimestamp; default 09:00:00, an hour before NOW
}

export interface RequestFixture {
  spec?: Partial<ClusterSpec>
  status?: ClusterStatus
  pods?: PodFixture[]
  claims?: number[] // ordinals with a PersistentVolumeClaim
  services?: KubeObject[]
  keyStyle?: 'v1' | 'v2' // child keys: name (v1) or namespace/name (v2)
}

export function syncRequest (fixture: RequestFixture = {}): SyncRequest {
  const parent = {
    apiVersion: 'etcd.database.coreos.com/v1beta2' as const,
    kind: 'EtcdCluster' as const,
    metadata: { name: NAME, namespace: NAMESPACE, uid: UID, generation: 1 },
    spec: { size: 3, version: '3.5.21', ...fixture.spec },
    ...(fixture.status !== undefined ? { status: fixture.status } : {}),
  }
  const base: SyncRequest = { parent, children: {} }
  const cluster = readCluster(base)
  const pods = (fixture.pods ?? []).map(p => observedPod(cluster, p))
  const claims = (fixture.claims ?? []).map(o => apiObject(templateClaim(cluster, `${NAME}-${o}`)))
  const key = (o: KubeObject) => fixture.keyStyle === 'v2' ? `${NAMESPACE}/${o.metadata.name}` : o.metadata.name
  const byKey = (objects: KubeObject[]) => Object.fromEntries(objects.map(o => [key(o), o]))
  return {
    controller: { apiVersion: 'metacontroller.k8s.io/v1alpha1', kind: 'CompositeController', metadata: { name: 'etcdclusters.etcd.database.coreos.com' } },
    parent,
    children: {
      'Pod.v1': byKey(pods),
      'Service.v1': byKey(fixture.services ?? []),
      'PersistentVolumeClaim.v1': byKey(claims),
      'PodDisruptionBudget.policy/v1': {},
    },
    related: {},
    finalizing: false,
  }
}

// What the API server adds to everything it stores.
function apiObject (object: KubeObject): KubeObject {
  return {
    ...object,
    metadata: {
      ...object.metadata as Record<string, unknown>,
      name: object.metadata.name,
      uid: `uid-${object.metadata.name}`,
      resourceVersion: '4711',
      creationTimestamp: '2026-11-26T09:00:00Z',
      labels: { ...object.metadata.labels, 'controller-uid': UID },
      annotations: { ...object.metadata.annotations, 'metacontroller.k8s.io/last-applied-configuration': '{}' },
      ownerReferences: [{ apiVersion: 'etcd.database.coreos.com/v1beta2', kind: 'EtcdCluster', name: NAME, uid: UID, controller: true, blockOwnerDeletion: true }],
    },
  }
}

export function observedPod (cluster: Cluster, fixture: PodFixture): KubeObject {
  const name = `${NAME}-${fixture.ordinal}`
  const rendered = templateMemberPod(cluster, {
    pod: name, initialClusterState: 'existing', initialCluster: [`${name}=${peerURL(cluster, name)}`],
  })
  const pod = apiObject(rendered) as KubeObject & { spec: { containers: Array<{ image: string }>, nodeName?: string } }
  if (fixture.created !== undefined) pod.metadata.creationTimestamp = fixture.created
  const image = fixture.image ?? cluster.spec.image
  pod.spec.containers[0]!.image = image
  pod.spec.nodeName = `node-${fixture.ordinal % 3}`
  if (fixture.oldPodPolicy === true) pod.metadata.annotations = { ...pod.metadata.annotations, [POD_POLICY_ANNOTATION]: 'earlierpolicy' }
  const state = fixture.state ?? 'ready'
  if (state === 'terminating') pod.metadata.deletionTimestamp = '2026-11-26T09:59:00Z'
  pod.status = kubeletStatus(state, fixture.runningImage ?? image, fixture.ordinal, fixture.since ?? '2026-11-26T09:00:05Z')
  return pod
}

function kubeletStatus (state: PodState, image: string, ordinal: number, since: string): Record<string, unknown> {
  const phase = { pending: 'Pending', starting: 'Running', ready: 'Running', unready: 'Running', crashloop: 'Running', failed: 'Failed', succeeded: 'Succeeded', terminating: 'Running' }[state]
  const ready = state === 'ready' || state === 'terminating'
  const started = state !== 'pending'
  const condition = (type: string, status: boolean) => ({ type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: since })
  return {
    phase,
    podIP: `10.244.${ordinal % 3}.${10 + ordinal}`,
    hostIP: `192.168.1.${ordinal % 3}`,
    startTime: '2026-11-26T09:00:01Z',
    conditions: [condition('PodScheduled', true), condition('Initialized', true), condition('ContainersReady', ready), condition('Ready', ready)],
    containerStatuses: started
      ? [{
          name: 'etcd',
          image,
          imageID: `${image}@sha256:0000`,
          ready,
          started: state !== 'failed' && state !== 'succeeded',
          restartCount: state === 'unready' ? 4 : state === 'crashloop' ? 9 : 0,
          state: state === 'failed' || state === 'succeeded'
            ? { terminated: { exitCode: state === 'failed' ? 1 : 0, reason: state === 'failed' ? 'Error' : 'Completed' } }
            : state === 'crashloop'
              ? { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container=etcd' } }
              : { running: { startedAt: '2026-11-26T09:00:02Z' } },
        }]
      : [{ name: 'etcd', image, imageID: '', ready: false, started: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }],
  }
}

// etcd's member list for these ordinals. IDs are large uint64 values, as
// etcd makes them, to catch any lossy number handling.
export interface MemberFixture {
  ordinal: number
  learner?: boolean
  unstarted?: boolean
}

export function memberId (ordinal: number): string {
  return (18446744073709551000n - BigInt(ordinal) * 7919n).toString()
}

export function members (...fixtures: Array<number | MemberFixture>): EtcdMember[] {
  const cluster = readCluster(syncRequest())
  return fixtures.map(f => typeof f === 'number' ? { ordinal: f } : f).map(f => {
    const pod = `${NAME}-${f.ordinal}`
    return {
      id: memberId(f.ordinal),
      name: f.unstarted === true ? '' : pod,
      peerURLs: [peerURL(cluster, pod)],
      clientURLs: f.unstarted === true ? [] : [clientURL(cluster, pod)],
      isLearner: f.learner === true,
    }
  })
}

export const CLUSTER_ID = '14841639068965178418'

export function reachable (memberList: EtcdMember[], leaderOrdinal: number | undefined): Observation {
  return {
    reachable: true,
    clusterId: CLUSTER_ID,
    leaderId: leaderOrdinal === undefined ? undefined : memberId(leaderOrdinal),
    members: memberList,
  }
}

export const unreachable: Observation = { reachable: false, error: 'no member answered' }

// The request files under manifests/examples, fresh on every call.
export function exampleRequest (file: string): SyncRequest {
  return JSON.parse(readFileSync(new URL(`../../manifests/examples/${file}`, import.meta.url), 'utf8')) as SyncRequest
}
