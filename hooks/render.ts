// Pure builders of the children the hook asks for. `template*` functions
// render a new object from the spec; `keep*` re-emits an observed one.
import {
  CLIENT_PORT, ETCD_CONTAINER, METRICS_PORT, PEER_PORT, POD_POLICY_ANNOTATION,
  claimName, clientScheme, clientServiceName, clientURL, hasReadyzLivez, loadBalancerServiceName, peerURL,
  type Cluster, type ObservedPod,
} from './cluster.js'
import type { KubeObject } from './schema.js'
import { MAX_NESTING, NestingError } from './validate.js'

const DATA_VOLUME = 'etcd-data'
const DATA_MOUNT = '/var/etcd'
export const DATA_DIR = `${DATA_MOUNT}/data`
// Where the CoreOS operator mounted the member secrets; the file names inside
// are the ones its users already have.
const PEER_TLS_DIR = '/etc/etcdtls/member/peer-tls'
const SERVER_TLS_DIR = '/etc/etcdtls/member/server-tls'

export function clusterLabels (cluster: Cluster): Record<string, string> {
  return {
    app: 'etcd',
    etcd_cluster: cluster.name,
    'app.kubernetes.io/name': 'etcd',
    'app.kubernetes.io/instance': cluster.name,
    'app.kubernetes.io/managed-by': 'etcd-operator',
  }
}

// Selects the members of this cluster (the CoreOS operator's selector).
function memberSelector (cluster: Cluster): Record<string, string> {
  return { app: 'etcd', etcd_cluster: cluster.name }
}

function metadata (cluster: Cluster, name: string, component: string, extra: { labels?: Record<string, string> | undefined, annotations?: Record<string, string> | undefined } = {}) {
  return {
    name,
    namespace: cluster.namespace,
    labels: Object.assign({}, extra.labels, clusterLabels(cluster), { 'app.kubernetes.io/component': component }),
    ...(extra.annotations !== undefined && Object.keys(extra.annotations).length > 0 ? { annotations: { ...extra.annotations } } : {}),
  }
}

export interface MemberPodOptions {
  pod: string
  // `new` for the seed, `existing` for a member joining a running cluster.
  initialClusterState: 'new' | 'existing'
  // name=peerURL pairs, including this member.
  initialCluster: string[]
  // The seed votes from the start; every other new pod gets VOTER_LABEL
  // once etcd lists its member as a voter.
  voter?: boolean
}

// On the pods of voting members only, and the client Services select it: a
// learner answers /health as healthy (so its pod is Ready) but refuses
// clients' reads and writes ("rpc not supported for learner").
export const VOTER_LABEL = 'etcd_voter'

export function templateMemberPod (cluster: Cluster, options: MemberPodOptions): KubeObject {
  const { spec } = cluster
  const policy = spec.pod
  const { peerSecret, serverSecret } = spec.tls
  const peerScheme = peerSecret !== undefined ? 'https' : 'http'
  const modernProbes = hasReadyzLivez(spec.version)
  const persistent = policy.persistentVolumeClaimSpec !== undefined
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: metadata(cluster, options.pod, 'member', {
      labels: { ...policy.labels, etcd_node: options.pod, ...(options.voter === true ? { [VOTER_LABEL]: 'true' } : {}) },
      annotations: { ...policy.annotations, [POD_POLICY_ANNOTATION]: spec.podPolicyHash },
    }),
    spec: {
      // hostname + subdomain give the member its stable DNS name through the
      // headless peer Service.
      hostname: options.pod,
      subdomain: cluster.name,
      // A crashed etcd restarts in place and rejoins with its data.
      restartPolicy: 'Always',
      // etcd needs no Kubernetes credentials, and service links would put
      // ETCD_*-looking variables into its environment.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      containers: [{
        name: ETCD_CONTAINER,
        image: spec.image,
        // Plain flags: etcd images from 3.5 on have no shell.
        command: ['/usr/local/bin/etcd'],
        args: [
          `--name=${options.pod}`,
          `--data-dir=${DATA_DIR}`,
          `--listen-peer-urls=${peerScheme}://0.0.0.0:${PEER_PORT}`,
          `--listen-client-urls=${clientScheme(cluster)}://0.0.0.0:${CLIENT_PORT}`,
          `--advertise-client-urls=${clientURL(cluster, options.pod)}`,
          `--initial-advertise-peer-urls=${peerURL(cluster, options.pod)}`,
          `--initial-cluster=${options.initialCluster.join(',')}`,
          `--initial-cluster-state=${options.initialClusterState}`,
          `--initial-cluster-token=${cluster.token}`,
          // Plain HTTP even when client TLS is on, so probes keep working.
          `--listen-metrics-urls=http://0.0.0.0:${METRICS_PORT}`,
          ...(peerSecret !== undefined
            ? [
                '--peer-client-cert-auth=true',
                `--peer-trusted-ca-file=${PEER_TLS_DIR}/peer-ca.crt`,
                `--peer-cert-file=${PEER_TLS_DIR}/peer.crt`,
                `--peer-key-file=${PEER_TLS_DIR}/peer.key`,
              ]
            : []),
          ...(serverSecret !== undefined
            ? [
                '--client-cert-auth=true',
                `--trusted-ca-file=${SERVER_TLS_DIR}/server-ca.crt`,
                `--cert-file=${SERVER_TLS_DIR}/server.crt`,
                `--key-file=${SERVER_TLS_DIR}/server.key`,
              ]
            : []),
        ],
        ...(policy.etcdEnv !== undefined ? { env: policy.etcdEnv } : {}),
        ports: [
          { name: 'client', containerPort: CLIENT_PORT, protocol: 'TCP' },
          { name: 'peer', containerPort: PEER_PORT, protocol: 'TCP' },
          { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
        ],
        volumeMounts: [
          { name: DATA_VOLUME, mountPath: DATA_MOUNT },
          ...(peerSecret !== undefined ? [{ name: 'member-peer-tls', mountPath: PEER_TLS_DIR, readOnly: true }] : []),
          ...(serverSecret !== undefined ? [{ name: 'member-server-tls', mountPath: SERVER_TLS_DIR, readOnly: true }] : []),
        ],
        // Ready = this member serves clients: /readyz where etcd has it,
        // /health (needs a leader) before 3.5.11.
        readinessProbe: {
          httpGet: { path: modernProbes ? '/readyz' : '/health', port: METRICS_PORT, scheme: 'HTTP' },
          periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3,
        },
        // Alive must not depend on quorum, or losing quorum restarts every
        // member at once: /livez where etcd has it, else the metrics socket.
        livenessProbe: {
          ...(modernProbes
            ? { httpGet: { path: '/livez', port: METRICS_PORT, scheme: 'HTTP' } }
            : { tcpSocket: { port: METRICS_PORT } }),
          initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3,
        },
        ...(policy.resources !== undefined ? { resources: policy.resources } : {}),
      }],
      volumes: [
        persistent
          ? { name: DATA_VOLUME, persistentVolumeClaim: { claimName: claimName(options.pod) } }
          : { name: DATA_VOLUME, emptyDir: {} },
        ...(peerSecret !== undefined ? [{ name: 'member-peer-tls', secret: { secretName: peerSecret } }] : []),
        ...(serverSecret !== undefined ? [{ name: 'member-server-tls', secret: { secretName: serverSecret } }] : []),
      ],
      ...placement(cluster),
    },
  }
}

// Where member pods may run, from spec.pod.
function placement (cluster: Cluster): Record<string, unknown> {
  const policy = cluster.spec.pod
  const result: Record<string, unknown> = {}
  if (policy.nodeSelector !== undefined) result.nodeSelector = policy.nodeSelector
  if (policy.tolerations !== undefined) result.tolerations = policy.tolerations
  if (policy.securityContext !== undefined) result.securityContext = policy.securityContext
  if (policy.priorityClassName !== undefined) result.priorityClassName = policy.priorityClassName
  if (policy.topologySpreadConstraints !== undefined) result.topologySpreadConstraints = policy.topologySpreadConstraints
  const affinity = memberAffinity(cluster)
  if (affinity !== undefined) result.affinity = affinity
  return result
}

// `antiAffinity: true` adds a required rule keeping members on different nodes.
function memberAffinity (cluster: Cluster): Record<string, unknown> | undefined {
  const { antiAffinity } = cluster.spec.pod
  const affinity = cluster.spec.pod.affinity as Record<string, unknown> | undefined
  if (antiAffinity !== true) return affinity
  const podAntiAffinity = (affinity?.podAntiAffinity ?? {}) as Record<string, unknown>
  const required = (podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution ?? []) as unknown[]
  return {
    ...affinity,
    podAntiAffinity: {
      ...podAntiAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: [
        ...required,
        { labelSelector: { matchLabels: memberSelector(cluster) }, topologyKey: 'kubernetes.io/hostname' },
      ],
    },
  }
}

export function templateClaim (cluster: Cluster, pod: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: metadata(cluster, claimName(pod), 'member', { labels: { etcd_node: pod } }),
    spec: cluster.spec.pod.persistentVolumeClaimSpec ?? {},
  }
}

// Headless: gives every member its DNS name, ready or not, so members can
// find each other while they start.
export function templatePeerService (cluster: Cluster): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(cluster, cluster.name, 'peer'),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: memberSelector(cluster),
      ports: [
        { name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT, protocol: 'TCP' },
        { name: 'peer', port: PEER_PORT, targetPort: PEER_PORT, protocol: 'TCP' },
      ],
    },
  }
}

// What clients use: only ready members are behind it, and with
// `votersOnly` only voting ones.
export function templateClientService (cluster: Cluster, votersOnly: boolean): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(cluster, clientServiceName(cluster), 'client'),
    spec: {
      type: 'ClusterIP',
      selector: clientSelector(cluster, votersOnly),
      ports: [{ name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT, protocol: 'TCP' }],
    },
  }
}

function clientSelector (cluster: Cluster, votersOnly: boolean): Record<string, string> {
  return votersOnly ? { app: 'etcd', etcd_cluster: cluster.name, [VOTER_LABEL]: 'true' } : memberSelector(cluster)
}

export function templateLoadBalancerService (cluster: Cluster, votersOnly: boolean): KubeObject {
  const lb = cluster.spec.loadBalancer
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(cluster, loadBalancerServiceName(cluster), 'client', { annotations: lb.annotations }),
    spec: {
      type: 'LoadBalancer',
      selector: clientSelector(cluster, votersOnly),
      ports: [{ name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT, protocol: 'TCP' }],
      ...(lb.sourceRanges !== undefined ? { loadBalancerSourceRanges: lb.sourceRanges } : {}),
      ...(lb.loadBalancerClass !== undefined ? { loadBalancerClass: lb.loadBalancerClass } : {}),
      ...(lb.externalTrafficPolicy !== undefined ? { externalTrafficPolicy: lb.externalTrafficPolicy } : {}),
    },
  }
}

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

// A live pod is re-emitted as observed: its spec is immutable, so rendering
// it again from a changed spec would be refused on every sync. Only the etcd
// image (an upgrade) may change in place; our labels are kept current.
// `voter`: whether etcd lists its member as a voter; undefined when etcd did
// not answer (VOTER_LABEL stays as observed).
export function keepPod (cluster: Cluster, pod: ObservedPod, image: string = pod.image, voter?: boolean): KubeObject {
  const kept = keepObserved(pod.object)
  const spec = kept.spec as { containers?: Array<Record<string, unknown>> }
  if (image !== pod.image) {
    spec.containers = (spec.containers ?? []).map(c => c.name === ETCD_CONTAINER ? { ...c, image } : c)
  }
  // Labels and annotations of spec.pod apply in place.
  const { labels, annotations } = cluster.spec.pod
  const observedLabels = kept.metadata.labels ?? {}
  const votes = voter ?? observedLabels[VOTER_LABEL] === 'true'
  // Object.assign, not a spread literal: V8 gives an object built by
  // spreading and then extended a fresh hidden class on every sync, which
  // the young generation cannot collect (old-space growth under load).
  const podLabels: Record<string, string> = Object.assign({}, observedLabels, labels, clusterLabels(cluster))
  podLabels.etcd_node = pod.name
  if (votes) podLabels[VOTER_LABEL] = 'true'
  else if (VOTER_LABEL in podLabels) delete podLabels[VOTER_LABEL]
  kept.metadata.labels = podLabels
  if (annotations !== undefined) kept.metadata.annotations = Object.assign({}, kept.metadata.annotations, annotations)
  return kept
}

// An observed object minus what the API server owns (status, uid,
// resourceVersion, ...). Top levels are copies, so the request is never
// mutated.
export function keepObserved (object: KubeObject): KubeObject {
  const { apiVersion, kind, metadata: meta } = object
  const kept: KubeObject = {
    apiVersion,
    kind,
    metadata: {
      name: meta.name,
      ...(meta.namespace !== undefined ? { namespace: meta.namespace } : {}),
      ...(meta.labels !== undefined ? { labels: { ...meta.labels } } : {}),
      ...(meta.annotations !== undefined ? { annotations: withoutAppliedAnnotation(meta.annotations) } : {}),
    },
  }
  // Shallow: deeper levels are never mutated.
  if (object.spec !== undefined) kept.spec = { ...(object.spec as Record<string, unknown>) }
  return kept
}

// Metacontroller writes this one itself on every apply.
function withoutAppliedAnnotation (annotations: Record<string, string>): Record<string, string> {
  const { 'metacontroller.k8s.io/last-applied-configuration': _applied, ...rest } = annotations
  return rest
}

// Metacontroller's three-way merge turns a null into a deletion on every
// sync: never emit one. Copy on write: a subtree without nulls is returned
// as it is (nothing downstream mutates it), so a steady answer copies
// nothing. It runs on every child of every answer, so plain loops.
export function withoutNulls<T> (value: T, depth = 0): T {
  if (value === null || typeof value !== 'object') return value
  if (depth > MAX_NESTING) throw new NestingError()
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      const kept = item === null || item === undefined ? undefined : withoutNulls(item, depth + 1)
      if (copy === undefined && kept !== item) copy = value.slice(0, i)
      if (copy !== undefined && kept !== undefined) copy.push(kept)
    }
    return (copy ?? value) as T
  }
  let copy: Record<string, unknown> | undefined
  const record = value as Record<string, unknown>
  for (const key in record) {
    const item = record[key]
    const kept = item === null || item === undefined ? undefined : withoutNulls(item, depth + 1)
    if (copy === undefined && kept !== item) copy = copyUntil(record, key)
    if (copy !== undefined && kept !== undefined) copy[key] = kept
  }
  return (copy ?? value) as T
}

// The entries of `record` before `stop`, in order.
function copyUntil (record: Record<string, unknown>, stop: string): Record<string, unknown> {
  const copy: Record<string, unknown> = {}
  for (const key in record) {
    if (key === stop) break
    copy[key] = record[key]
  }
  return copy
}
