// Facts derived from one sync request, with no I/O: the cluster's names and
// URLs, its spec with defaults filled in, and what the observed pods say.
import { createHash } from 'node:crypto'
import { MAX_NESTING, NestingError } from './validate.js'
import {
  DEFAULT_REPOSITORY, DEFAULT_VERSION,
  type ClusterSpec, type KubeObject, type PodPolicy, type SyncRequest,
} from './schema.js'

export const CLIENT_PORT = 2379
export const PEER_PORT = 2380
export const METRICS_PORT = 2381
export const ETCD_CONTAINER = 'etcd'

export interface ResolvedSpec {
  size: number
  version: string // without the leading v
  repository: string
  image: string
  paused: boolean
  pod: PodPolicy
  loadBalancer: Omit<NonNullable<ClusterSpec['loadBalancer']>, 'enabled'> & { enabled: boolean }
  podDisruptionBudget: { enabled: boolean, maxUnavailable: number }
  tls: StaticTLS
  // Fingerprint of everything a pod is made from that cannot change in
  // place: members made from another one are replaced, one at a time.
  podPolicyHash: string
}

// spec.TLS.static, flattened: secret names, absent when not set.
export interface StaticTLS {
  peerSecret?: string | undefined
  serverSecret?: string | undefined
  operatorSecret?: string | undefined
}

export function resolveSpec (spec: ClusterSpec): ResolvedSpec {
  const version = (spec.version ?? DEFAULT_VERSION).replace(/^v/, '')
  const repository = spec.repository ?? DEFAULT_REPOSITORY
  const tls: StaticTLS = {
    peerSecret: spec.TLS?.static?.member?.peerSecret,
    serverSecret: spec.TLS?.static?.member?.serverSecret,
    operatorSecret: spec.TLS?.static?.operatorSecret,
  }
  return {
    size: spec.size,
    version,
    repository,
    image: `${repository}:v${version}`,
    paused: spec.paused ?? false,
    pod: spec.pod ?? {},
    loadBalancer: { enabled: false, ...spec.loadBalancer },
    podDisruptionBudget: { enabled: true, maxUnavailable: 1, ...spec.podDisruptionBudget },
    tls,
    podPolicyHash: podPolicyHash(spec.pod ?? {}, tls),
  }
}

export const POD_POLICY_ANNOTATION = 'etcd.database.coreos.com/pod-policy'

// Labels and annotations change in place; everything else in spec.pod, and
// the member TLS secrets, needs a new pod.
function podPolicyHash (pod: PodPolicy, tls: StaticTLS): string {
  // Every resync of every cluster asks again with the same few policies:
  // remember the answers, keyed by the policy as sent, rather than hash on
  // every sync.
  const key = policyKey(pod, tls)
  const known = key === undefined ? undefined : policyHashes.get(key)
  if (known !== undefined) return known
  const { labels: _labels, annotations: _annotations, ...rest } = pod
  const material = stableJSON({ pod: rest, peerSecret: tls.peerSecret, serverSecret: tls.serverSecret })
  const hash = createHash('sha256').update(material).digest('hex').slice(0, 12)
  if (key !== undefined) {
    if (policyHashes.size >= POLICY_HASHES_KEPT) policyHashes.clear()
    policyHashes.set(key, hash)
  }
  return hash
}

// At most 1,024 policies of at most 16 KiB each (16 MiB at worst); a few
// cover any number of clusters.
const POLICY_HASHES_KEPT = 1024
const POLICY_KEY_MAX_LENGTH = 16 * 1024
const policyHashes = new Map<string, string>()

// Undefined for a policy too large to keep, or nested so deep that
// JSON.stringify overflows the stack (stableJSON then refuses it with a
// NestingError: a 422, not a 500).
function policyKey (pod: PodPolicy, tls: StaticTLS): string | undefined {
  let key: string
  try {
    key = `${JSON.stringify(pod)}\n${tls.peerSecret ?? ''}\n${tls.serverSecret ?? ''}`
  } catch {
    return undefined
  }
  return key.length <= POLICY_KEY_MAX_LENGTH ? key : undefined
}

function stableJSON (value: unknown, depth = 0): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (depth > MAX_NESTING) throw new NestingError()
  if (Array.isArray(value)) return `[${value.map(v => stableJSON(v, depth + 1)).join(',')}]`
  const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJSON(v, depth + 1)}`).join(',')}}`
}

// What the kubelet tells us of one member pod.
export interface ObservedPod {
  name: string
  ordinal: number
  object: KubeObject
  phase: string
  running: boolean // phase Running and the etcd container up
  ready: boolean // Ready condition True
  terminating: boolean // deletionTimestamp set
  image: string // the etcd container's image in the spec
  imageRolledOut: boolean // the running container uses the spec's image
  podPolicyHash: string | undefined // what it was made from (annotation)
  crashLooping: boolean // the kubelet backs off restarting etcd
  unreadySince: string | undefined // Ready condition False since (RFC 3339)
}

export interface Cluster {
  name: string
  namespace: string
  spec: ResolvedSpec
  previous: NonNullable<SyncRequest['parent']['status']>
  pods: ObservedPod[] // ordered by ordinal
  services: Map<string, KubeObject>
  claims: Map<string, KubeObject> // PersistentVolumeClaims by name
  token: string
}

export function readCluster (request: SyncRequest): Cluster {
  const { parent } = request
  const name = parent.metadata.name
  const namespace = parent.metadata.namespace ?? 'default'
  const cluster: Cluster = {
    name,
    namespace,
    spec: resolveSpec(parent.spec),
    previous: parent.status ?? {},
    pods: [],
    services: childrenOfKind(request, 'Service.v1'),
    claims: childrenOfKind(request, 'PersistentVolumeClaim.v1'),
    // Unique to this cluster object, so members of a deleted and re-created
    // cluster of the same name never join each other.
    token: `${name}-${parent.metadata.uid ?? namespace}`,
  }
  for (const pod of childrenOfKind(request, 'Pod.v1').values()) {
    const ordinal = ordinalOf(cluster, pod.metadata.name)
    if (ordinal !== undefined) cluster.pods.push(observePod(pod, ordinal))
  }
  cluster.pods.sort((a, b) => a.ordinal - b.ordinal)
  return cluster
}

// Children arrive keyed by name (v1 hooks) or namespace/name (v2 hooks):
// the keys are ignored and objects are indexed by metadata.name.
function childrenOfKind (request: SyncRequest, key: string): Map<string, KubeObject> {
  const byName = new Map<string, KubeObject>()
  for (const child of Object.values(request.children?.[key] ?? {})) {
    byName.set(child.metadata.name, child as KubeObject)
  }
  return byName
}

interface PodShape {
  spec?: { containers?: Array<{ name?: string, image?: string }> }
  status?: {
    phase?: string
    conditions?: Array<{ type?: string, status?: string, lastTransitionTime?: string }>
    containerStatuses?: Array<{ name?: string, image?: string, state?: { running?: unknown, waiting?: { reason?: string } } }>
  }
}

function observePod (object: KubeObject, ordinal: number): ObservedPod {
  const pod = object as PodShape
  const phase = pod.status?.phase ?? 'Pending'
  const image = pod.spec?.containers?.find(c => c.name === ETCD_CONTAINER)?.image ?? ''
  const container = pod.status?.containerStatuses?.find(c => c.name === ETCD_CONTAINER)
  const readyCondition = pod.status?.conditions?.find(c => c.type === 'Ready')
  const ready = readyCondition?.status === 'True'
  return {
    name: object.metadata.name,
    ordinal,
    object,
    phase,
    running: phase === 'Running' && container?.state?.running !== undefined,
    ready,
    terminating: object.metadata.deletionTimestamp !== undefined,
    image,
    imageRolledOut: container?.image !== undefined && sameImage(container.image, image),
    podPolicyHash: object.metadata.annotations?.[POD_POLICY_ANNOTATION],
    crashLooping: container?.state?.waiting?.reason === 'CrashLoopBackOff',
    unreadySince: !ready ? readyCondition?.lastTransitionTime : undefined,
  }
}

// The kubelet may report an image with the registry's default prefix.
function sameImage (reported: string, wanted: string): boolean {
  const strip = (image: string) => image.replace(/^docker\.io\//, '').replace(/^library\//, '')
  return strip(reported) === strip(wanted)
}

export function podName (cluster: Cluster, ordinal: number): string {
  return `${cluster.name}-${ordinal}`
}

export function ordinalOf (cluster: Pick<Cluster, 'name'>, objectName: string): number | undefined {
  const prefix = `${cluster.name}-`
  if (!objectName.startsWith(prefix)) return undefined
  const rest = objectName.slice(prefix.length)
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined
}

// `<pod>.<cluster>.<namespace>.svc<ClusterDomain>`: the pod's hostname and
// subdomain make this name resolve through the headless peer Service.
export function memberHost (cluster: Cluster, pod: string): string {
  return `${pod}.${cluster.name}.${cluster.namespace}.svc${cluster.spec.pod.ClusterDomain ?? ''}`
}

// Peer and client traffic become https independently, each with its secret.
export function peerURL (cluster: Cluster, pod: string): string {
  return `${cluster.spec.tls.peerSecret !== undefined ? 'https' : 'http'}://${memberHost(cluster, pod)}:${PEER_PORT}`
}

export function clientURL (cluster: Cluster, pod: string): string {
  return `${clientScheme(cluster)}://${memberHost(cluster, pod)}:${CLIENT_PORT}`
}

export function clientScheme (cluster: Pick<Cluster, 'spec'>): 'http' | 'https' {
  return cluster.spec.tls.serverSecret !== undefined ? 'https' : 'http'
}

export function clientServiceName (cluster: Pick<Cluster, 'name'>): string {
  return `${cluster.name}-client`
}

export function loadBalancerServiceName (cluster: Pick<Cluster, 'name'>): string {
  return `${cluster.name}-client-lb`
}

export function claimName (pod: string): string {
  return `etcd-data-${pod}`
}

// The pod a member belongs to: its name once started, else the host of its
// peer URL (a member added but not started has no name yet).
export function podOfMember (cluster: Cluster, member: { name: string, peerURLs: string[] }): string | undefined {
  const candidate = member.name !== '' ? member.name : hostLabel(member.peerURLs[0])
  return candidate !== undefined && ordinalOf(cluster, candidate) !== undefined ? candidate : undefined
}

function hostLabel (url: string | undefined): string | undefined {
  if (url === undefined) return undefined
  try {
    return new URL(url).hostname.split('.')[0]
  } catch {
    return undefined
  }
}

// "3.5.21" or "v3.5.21" → [3, 5, 21]; undefined when it is no version.
export function parseVersion (version: string): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version)
  return match === null ? undefined : [Number(match[1]), Number(match[2]), Number(match[3])]
}

export function compareVersions (a: string, b: string): number {
  const [a0, a1, a2] = parseVersion(a) ?? [0, 0, 0]
  const [b0, b1, b2] = parseVersion(b) ?? [0, 0, 0]
  return a0 - b0 || a1 - b1 || a2 - b2
}

export function versionOfImage (image: string): string {
  const tag = image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : ''
  return tag.replace(/^v/, '')
}

// etcd 3.5.11 added /readyz and /livez; older versions only have /health,
// which fails without a leader.
export function hasReadyzLivez (version: string): boolean {
  return compareVersions(version, '3.5.11') >= 0
}
