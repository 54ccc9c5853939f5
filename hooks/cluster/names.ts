// The names and URLs of a cluster's members and children, derived from the
// cluster's name, namespace and spec: pure and shared by every part of the
// controller.
import { CLIENT_PORT, PEER_PORT, type Cluster } from './model.js'

export function podName (cluster: Pick<Cluster, 'name'>, ordinal: number): string {
  return `${cluster.name}-${ordinal}`
}

// The backup CronJob, and its service account, Role and RoleBinding.
export function backupCronJobName (cluster: Pick<Cluster, 'name'>): string {
  return `${cluster.name}-backup`
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

// The cert-manager Certificates of a cluster and the Secrets they fill
// (one name for both): peer, server (client traffic) and the hook's client
// certificate.
export type CertificateRole = 'peer' | 'server' | 'operator'
export function certificateSecret (cluster: string, role: CertificateRole): string {
  return `${cluster}-${role}-cert`
}

const CLAIM_PREFIX = 'etcd-data-'

export function claimName (pod: string): string {
  return `${CLAIM_PREFIX}${pod}`
}

export function claimOrdinal (cluster: Pick<Cluster, 'name'>, claim: string): number | undefined {
  return ordinalOf(cluster, claim.startsWith(CLAIM_PREFIX) ? claim.slice(CLAIM_PREFIX.length) : claim)
}

// The pod a member belongs to: its name once started, else the host of its
// peer URL (a member added but not started has no name yet).
export function podOfMember (cluster: Pick<Cluster, 'name'>, member: { name: string, peerURLs: string[] }): string | undefined {
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
