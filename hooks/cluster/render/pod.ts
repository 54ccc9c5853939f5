// The member pod: rendered new from the spec, or an observed one kept as it
// is but for its image (an upgrade) and labels.
import { runnableServerArgs } from '../../etcd/flags.js'
import { hasReadyzLivez, versionOfImage } from '../../etcd/versions.js'
import { keepObserved } from '../../kube/objects.js'
import type { KubeObject } from '../../api/kube.js'
import {
  CLIENT_PORT, ETCD_CONTAINER, METRICS_PORT, PEER_PORT, PEER_TLS_VOLUME, POD_POLICY_ANNOTATION, SERVER_TLS_VOLUME, TRUSTED_CA_ANNOTATION,
  type Cluster, type NewMemberPod, type ObservedPod,
} from '../model.js'
import { claimName, clientScheme, clientURL, peerURL } from '../names.js'
import { certManagerItems } from '../tls-files.js'
import { VOTER_LABEL, clusterLabels, memberSelector, metadata } from './labels.js'
import { restoreInitContainers, restoreVolumes } from './restore.js'

const DATA_VOLUME = 'etcd-data'
const DATA_MOUNT = '/var/etcd'
export const DATA_DIR = `${DATA_MOUNT}/data`
// Where the CoreOS operator mounted the member secrets; the file names inside
// are the ones its users already have.
const PEER_TLS_DIR = '/etc/etcdtls/member/peer-tls'
const SERVER_TLS_DIR = '/etc/etcdtls/member/server-tls'

export function templateMemberPod (cluster: Cluster, options: NewMemberPod): KubeObject {
  const { spec } = cluster
  const policy = spec.pod
  const image = options.image ?? spec.image
  const version = versionOfImage(image) || spec.version
  // Only a seed is ever made from a snapshot.
  const restore = options.restore === true ? spec.restore : undefined
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: metadata(cluster, options.pod, 'member', {
      labels: { ...policy.labels, etcd_node: options.pod, ...(options.voter === true ? { [VOTER_LABEL]: 'true' } : {}) },
      annotations: {
        ...policy.annotations,
        [POD_POLICY_ANNOTATION]: spec.podPolicyHash,
        ...(cluster.trustedCA !== undefined ? { [TRUSTED_CA_ANNOTATION]: cluster.trustedCA } : {}),
      },
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
      ...(restore !== undefined ? { initContainers: restoreInitContainers(cluster, restore, options.pod, version, { name: DATA_VOLUME, mountPath: DATA_MOUNT, dataDir: DATA_DIR }) } : {}),
      containers: [{
        name: ETCD_CONTAINER,
        image,
        // Plain flags: etcd images from 3.5 on have no shell.
        command: ['/usr/local/bin/etcd'],
        // Valid for this version and every minor an in-place upgrade may
        // move the pod to: its arguments stay as they are (flags.ts).
        args: runnableServerArgs(version, etcdArgs(cluster, options)),
        ...(policy.etcdEnv !== undefined ? { env: policy.etcdEnv } : {}),
        ports: [
          { name: 'client', containerPort: CLIENT_PORT, protocol: 'TCP' },
          { name: 'peer', containerPort: PEER_PORT, protocol: 'TCP' },
          { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
        ],
        volumeMounts: [
          { name: DATA_VOLUME, mountPath: DATA_MOUNT },
          ...(spec.tls.peerSecret !== undefined ? [{ name: PEER_TLS_VOLUME, mountPath: PEER_TLS_DIR, readOnly: true }] : []),
          ...(spec.tls.serverSecret !== undefined ? [{ name: SERVER_TLS_VOLUME, mountPath: SERVER_TLS_DIR, readOnly: true }] : []),
        ],
        ...probes(version),
        ...(policy.resources !== undefined ? { resources: policy.resources } : {}),
      }],
      volumes: [...volumes(cluster, options.pod), ...(restore !== undefined ? restoreVolumes(restore) : [])],
      ...placement(cluster),
    },
  }
}

// The etcd command line of a new member.
function etcdArgs (cluster: Cluster, options: NewMemberPod): string[] {
  const { peerSecret, serverSecret } = cluster.spec.tls
  return [
    `--name=${options.pod}`,
    `--data-dir=${DATA_DIR}`,
    `--listen-peer-urls=${peerSecret !== undefined ? 'https' : 'http'}://0.0.0.0:${PEER_PORT}`,
    `--listen-client-urls=${clientScheme(cluster)}://0.0.0.0:${CLIENT_PORT}`,
    `--advertise-client-urls=${clientURL(cluster, options.pod)}`,
    `--initial-advertise-peer-urls=${peerURL(cluster, options.pod)}`,
    `--initial-cluster=${options.initialCluster.join(',')}`,
    `--initial-cluster-state=${options.initialClusterState}`,
    `--initial-cluster-token=${cluster.token}`,
    // Plain HTTP even when client TLS is on, so probes keep working.
    `--listen-metrics-urls=http://0.0.0.0:${METRICS_PORT}`,
    ...maintenanceArgs(cluster),
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
  ]
}

// spec.quotaBackendBytes and spec.autoCompaction, when set (every minor
// 3.4-3.7 knows these flags under these names: flags.ts).
function maintenanceArgs (cluster: Cluster): string[] {
  const { quotaBytes, autoCompaction } = cluster.spec.maintenance
  return [
    ...(quotaBytes !== undefined ? [`--quota-backend-bytes=${quotaBytes}`] : []),
    ...(autoCompaction !== undefined ? [`--auto-compaction-mode=${autoCompaction.mode}`, `--auto-compaction-retention=${autoCompaction.retention}`] : []),
  ]
}

// Probes on the plain-HTTP metrics port, so they work with client TLS.
function probes (version: string): Record<string, unknown> {
  const modern = hasReadyzLivez(version)
  // Alive must not depend on quorum, or losing quorum restarts every
  // member at once: /livez where etcd has it, else the metrics socket.
  const alive = modern
    ? { httpGet: { path: '/livez', port: METRICS_PORT, scheme: 'HTTP' } }
    : { tcpSocket: { port: METRICS_PORT } }
  return {
    // Ready = this member serves clients: /readyz where etcd has it,
    // /health (needs a leader) before 3.5.11. Checked every 2 s and out
    // after two failures: a partitioned leader steps down within an
    // election timeout, and leaves the client Service within about 6 s
    // (with 5 s x 3 it stayed behind it for 15 s and more, failing writes).
    readinessProbe: {
      httpGet: { path: modern ? '/readyz' : '/health', port: METRICS_PORT, scheme: 'HTTP' },
      periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 2,
    },
    // A member opening a large database (reading an 8 GiB db takes
    // minutes) is given 15 minutes before liveness may restart it.
    startupProbe: { ...alive, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 90 },
    livenessProbe: { ...alive, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
  }
}

// The data volume (a claim of its own, or an emptyDir) and the TLS secrets.
function volumes (cluster: Cluster, pod: string): Array<Record<string, unknown>> {
  const { peerSecret, serverSecret } = cluster.spec.tls
  return [
    cluster.spec.pod.persistentVolumeClaimSpec !== undefined
      ? { name: DATA_VOLUME, persistentVolumeClaim: { claimName: claimName(pod) } }
      : { name: DATA_VOLUME, emptyDir: {} },
    ...(peerSecret !== undefined ? [{ name: PEER_TLS_VOLUME, secret: secretSource(cluster, peerSecret, 'peer') }] : []),
    ...(serverSecret !== undefined ? [{ name: SERVER_TLS_VOLUME, secret: secretSource(cluster, serverSecret, 'server') }] : []),
  ]
}

// cert-manager's Secrets hold tls.crt, tls.key and ca.crt: the volume maps
// them to the file names etcd's flags name (tls-files.ts).
function secretSource (cluster: Cluster, secretName: string, role: 'peer' | 'server'): Record<string, unknown> {
  return cluster.spec.tls.certManager !== undefined ? { secretName, items: certManagerItems(role) } : { secretName }
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
  else if (VOTER_LABEL in podLabels) Reflect.deleteProperty(podLabels, VOTER_LABEL)
  kept.metadata.labels = podLabels
  if (annotations !== undefined) kept.metadata.annotations = Object.assign({}, kept.metadata.annotations, annotations)
  return kept
}
