// The hook's etcd client certificate, from the operator Secret that the
// customize hook asked Metacontroller to send along (`related`). Pure: it
// reads the request, never the Kubernetes API.
import type { SyncRequest } from '../../api/cluster.js'
import type { ClientTLS } from '../../etcd/types.js'
import { certificateSecret } from '../names.js'
import { CERT_MANAGER_KEYS, COREOS_FILES, type TLSFiles } from '../tls-files.js'

export type OperatorCredentials =
  | { kind: 'none' } // no client TLS configured
  | { kind: 'ready', tls: ClientTLS }
  | { kind: 'problem', message: string } // configured, but unusable

// Which Secret holds the hook's certificate, under which keys.
interface OperatorSecret { name: string, files: TLSFiles, field: string }

function operatorSecret (parent: SyncRequest['parent']): OperatorSecret | undefined {
  const tls = parent.spec.TLS
  if (tls?.certManager !== undefined) {
    const name = certificateSecret(parent.metadata.name, 'operator')
    return { name, files: CERT_MANAGER_KEYS, field: `Certificate ${name}, spec.TLS.certManager` }
  }
  const name = tls?.static?.operatorSecret
  return name === undefined ? undefined : { name, files: COREOS_FILES.operator, field: 'spec.TLS.static.operatorSecret' }
}

export function operatorCredentials (request: SyncRequest): OperatorCredentials {
  const wanted = operatorSecret(request.parent)
  if (wanted === undefined) return { kind: 'none' }
  const { name, files } = wanted
  const namespace = request.parent.metadata.namespace ?? 'default'
  const secrets = Object.values(request.related?.['Secret.v1'] ?? {})
  const secret = secrets.find(s => s.metadata.name === name && (s.metadata.namespace ?? namespace) === namespace)
  if (secret === undefined) {
    return { kind: 'problem', message: `operator secret ${namespace}/${name} not found (${wanted.field})` }
  }
  const data = (secret as { data?: Record<string, string> }).data ?? {}
  const missing = [files.cert, files.key, files.ca].filter(file => typeof data[file] !== 'string' || data[file] === '')
  if (missing.length > 0) {
    return { kind: 'problem', message: `operator secret ${namespace}/${name} lacks ${missing.join(', ')}` }
  }
  const decode = (file: string) => Buffer.from(data[file] ?? '', 'base64').toString('utf8')
  const tls = { cert: decode(files.cert), key: decode(files.key), ca: decode(files.ca) }
  const notPEM = ([[files.cert, tls.cert], [files.key, tls.key], [files.ca, tls.ca]] as const)
    .filter(([, pem]) => !pem.includes('-----BEGIN ')).map(([file]) => file)
  if (notPEM.length > 0) {
    return { kind: 'problem', message: `operator secret ${namespace}/${name}: ${notPEM.join(', ')} not PEM` }
  }
  return { kind: 'ready', tls }
}
