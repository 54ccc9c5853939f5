// The file names inside a cluster's TLS Secrets. Static TLS Secrets carry
// the CoreOS operator's names; cert-manager writes `tls.crt`, `tls.key` and
// `ca.crt` into every Secret it fills, and volumes map those keys (`items`)
// to the CoreOS names, so etcd's flags are the same for both.
import type { CertificateRole } from './names.js'

export interface TLSFiles { cert: string, key: string, ca: string }

export const COREOS_FILES: Record<CertificateRole, TLSFiles> = {
  peer: { cert: 'peer.crt', key: 'peer.key', ca: 'peer-ca.crt' },
  server: { cert: 'server.crt', key: 'server.key', ca: 'server-ca.crt' },
  operator: { cert: 'etcd-client.crt', key: 'etcd-client.key', ca: 'etcd-client-ca.crt' },
}

export const CERT_MANAGER_KEYS: TLSFiles = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' }

// A secret volume's `items`: cert-manager's keys under the CoreOS names.
export function certManagerItems (role: CertificateRole): Array<{ key: string, path: string }> {
  const files = COREOS_FILES[role]
  return [
    { key: CERT_MANAGER_KEYS.cert, path: files.cert },
    { key: CERT_MANAGER_KEYS.key, path: files.key },
    { key: CERT_MANAGER_KEYS.ca, path: files.ca },
  ]
}
