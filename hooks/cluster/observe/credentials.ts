// The hook's etcd client certificate, from the operator Secret that the
// customize hook asked Metacontroller to send along (`related`). Pure: it
// reads the request, never the Kubernetes API.
import type { SyncRequest } from '../../api/cluster.js'
import type { ClientTLS } from '../../etcd/types.js'

// The CoreOS operator's file names inside spec.TLS.static.operatorSecret.
const CERT = 'etcd-client.crt'
const KEY = 'etcd-client.key'
const CA = 'etcd-client-ca.crt'

export type OperatorCredentials =
  | { kind: 'none' } // no client TLS configured
  | { kind: 'ready', tls: ClientTLS }
  | { kind: 'problem', message: string } // configured, but unusable

export function operatorCredentials (request: SyncRequest): OperatorCredentials {
  const name = request.parent.spec.TLS?.static?.operatorSecret
  if (name === undefined) return { kind: 'none' }
  const namespace = request.parent.metadata.namespace ?? 'default'
  const secrets = Object.values(request.related?.['Secret.v1'] ?? {})
  const secret = secrets.find(s => s.metadata.name === name && (s.metadata.namespace ?? namespace) === namespace)
  if (secret === undefined) {
    return { kind: 'problem', message: `operator secret ${namespace}/${name} not found (spec.TLS.static.operatorSecret)` }
  }
  const data = (secret as { data?: Record<string, string> }).data ?? {}
  const missing = [CERT, KEY, CA].filter(file => typeof data[file] !== 'string' || data[file] === '')
  if (missing.length > 0) {
    return { kind: 'problem', message: `operator secret ${namespace}/${name} lacks ${missing.join(', ')}` }
  }
  const decode = (file: string) => Buffer.from(data[file] ?? '', 'base64').toString('utf8')
  const tls = { cert: decode(CERT), key: decode(KEY), ca: decode(CA) }
  const notPEM = ([['etcd-client.crt', tls.cert], ['etcd-client.key', tls.key], ['etcd-client-ca.crt', tls.ca]] as const)
    .filter(([, pem]) => !pem.includes('-----BEGIN ')).map(([file]) => file)
  if (notPEM.length > 0) {
    return { kind: 'problem', message: `operator secret ${namespace}/${name}: ${notPEM.join(', ')} not PEM` }
  }
  return { kind: 'ready', tls }
}
