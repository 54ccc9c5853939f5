// cert-manager Certificates (cert-manager.io/v1) for a cluster with
// spec.TLS.certManager: one for peer traffic, one for client traffic (the
// members' server certificate) and the hook's own client certificate.
// cert-manager fills a Secret of the same name with tls.crt, tls.key and
// ca.crt and renews it before it expires; member pods mount the member
// Secrets (render/pod.ts), the hook reads the operator Secret from
// `related` (observe/credentials.ts).
import type { CertManagerPolicy } from '../../api/cluster.js'
import type { KubeObject } from '../../api/kube.js'
import type { Cluster } from '../model.js'
import { issuerInUse, wantedIssuer } from '../observe/certificates.js'
import { certificateSecret, clientServiceName, loadBalancerServiceName, type CertificateRole } from '../names.js'
import { metadata } from './labels.js'

interface Subject {
  commonName: string
  dnsNames?: string[]
  ipAddresses?: string[]
  usages: string[]
}

export function templateCertificates (cluster: Cluster): KubeObject[] {
  const policy = cluster.spec.tls.certManager
  if (policy === undefined) return []
  return (['peer', 'server', 'operator'] as const).map(role => templateCertificate(cluster, policy, role, subjectOf(cluster, role)))
}

function templateCertificate (cluster: Cluster, policy: CertManagerPolicy, role: CertificateRole, subject: Subject): KubeObject {
  const name = certificateSecret(cluster.name, role)
  const { duration, renewBefore, privateKey } = policy
  // Once members run, the issuer stays the one they trust.
  const issuerRef = issuerInUse(cluster) ?? wantedIssuer(cluster)
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: metadata(cluster, name, `tls-${role}`),
    spec: {
      secretName: name,
      ...subject,
      issuerRef,
      ...(duration !== undefined ? { duration } : {}),
      ...(renewBefore !== undefined ? { renewBefore } : {}),
      // A new key on every renewal: a leaked key dies with its certificate.
      privateKey: { rotationPolicy: 'Always', ...privateKey },
    },
  }
}

// Who each certificate speaks for. Peers reach each other by member name;
// clients also by the client Services, localhost and the LoadBalancer's
// address. With client TLS, etcd 3.4's own gRPC gateway dials etcd with
// the server certificate as a client: it needs client auth too.
function subjectOf (cluster: Cluster, role: CertificateRole): Subject {
  const domain = cluster.spec.pod.ClusterDomain ?? ''
  const withDomain = (host: string) => domain !== '' ? [host, `${host}${domain}`] : [host]
  const members = withDomain(`*.${cluster.name}.${cluster.namespace}.svc`)
  const usages = ['digital signature', 'key encipherment']
  if (role === 'peer') return { commonName: certificateSecret(cluster.name, role), dnsNames: members, usages: [...usages, 'server auth', 'client auth'] }
  if (role === 'operator') return { commonName: certificateSecret(cluster.name, role), usages: [...usages, 'client auth'] }
  const client = clientServiceName(cluster)
  const ingress = cluster.spec.loadBalancer.enabled ? loadBalancerIngress(cluster) : { hostnames: [], ips: [] }
  return {
    commonName: certificateSecret(cluster.name, role),
    dnsNames: [
      ...members,
      client, `${client}.${cluster.namespace}`, ...withDomain(`${client}.${cluster.namespace}.svc`),
      ...(cluster.spec.loadBalancer.enabled ? withDomain(`${loadBalancerServiceName(cluster)}.${cluster.namespace}.svc`) : []),
      ...ingress.hostnames,
      'localhost',
    ],
    ipAddresses: ['127.0.0.1', ...ingress.ips],
    usages: [...usages, 'server auth', 'client auth'],
  }
}

// The addresses the cloud gave the LoadBalancer Service, as observed.
function loadBalancerIngress (cluster: Cluster): { hostnames: string[], ips: string[] } {
  const service = cluster.services.get(loadBalancerServiceName(cluster))
  const ingress = (service?.status as { loadBalancer?: { ingress?: Array<{ ip?: string, hostname?: string }> } } | undefined)?.loadBalancer?.ingress ?? []
  const present = (value: string | undefined): value is string => value !== undefined && value !== ''
  return {
    hostnames: [...new Set(ingress.map(i => i.hostname).filter(present))].sort(),
    ips: [...new Set(ingress.map(i => i.ip).filter(present))].sort(),
  }
}
