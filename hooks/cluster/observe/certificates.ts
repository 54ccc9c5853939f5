// What the request shows of a cert-manager cluster's certificates: the
// Certificates (children) and the CA in the member Secrets cert-manager
// filled (`related`, asked for by customize.ts). Pure.
import { createHash } from 'node:crypto'
import { CERT_MANAGER_GROUP, type SyncRequest } from '../../api/cluster.js'
import { CERTIFICATE_CHILDREN } from '../../api/validate.js'
import { childrenOfKind } from '../../kube/objects.js'
import type { Cluster } from '../model.js'
import { certificateSecret } from '../names.js'
import { CERT_MANAGER_KEYS } from '../tls-files.js'

// A short fingerprint of ca.crt of the peer and server Secrets; undefined
// while either is missing (not issued yet).
export function trustedCAOf (request: SyncRequest): string | undefined {
  if (request.parent.spec.TLS?.certManager === undefined) return undefined
  const secrets = childrenOfKind(request.related, 'Secret.v1')
  const name = request.parent.metadata.name
  const cas: string[] = []
  for (const role of ['peer', 'server'] as const) {
    const secret = [...secrets.values()].find(s => s.metadata.name === certificateSecret(name, role))
    const ca = (secret as { data?: Record<string, unknown> } | undefined)?.data?.[CERT_MANAGER_KEYS.ca]
    if (typeof ca !== 'string' || ca === '') return undefined
    cas.push(Buffer.from(ca, 'base64').toString('utf8').trim())
  }
  return createHash('sha256').update(cas.join('\n')).digest('hex').slice(0, 16)
}

export function observedCertificates (request: SyncRequest) {
  return childrenOfKind(request.children, CERTIFICATE_CHILDREN)
}

export interface IssuerRef { name: string, kind: string, group: string }

// The issuer the running members' certificates come from: the observed
// Certificates', once members run. A new issuer means a new CA, which
// running members would not trust (rules/certificates.ts), so the
// Certificates keep it until the spec is set back.
export function issuerInUse (cluster: Cluster): IssuerRef | undefined {
  if (!cluster.pods.some(p => !p.terminating)) return undefined
  for (const certificate of cluster.certificates.values()) {
    const ref = (certificate.spec as { issuerRef?: Partial<IssuerRef> } | undefined)?.issuerRef
    if (typeof ref?.name === 'string') return { name: ref.name, kind: ref.kind ?? 'Issuer', group: ref.group ?? CERT_MANAGER_GROUP }
  }
  return undefined
}

// spec's issuer, defaults filled in.
export function wantedIssuer (cluster: Cluster): IssuerRef | undefined {
  const ref = cluster.spec.tls.certManager?.issuerRef
  return ref === undefined ? undefined : { name: ref.name, kind: ref.kind ?? 'Issuer', group: ref.group ?? CERT_MANAGER_GROUP }
}
