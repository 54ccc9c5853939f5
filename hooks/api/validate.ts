// Checks of an EtcdCluster that its schema cannot express. Each problem is
// a sentence naming the field, returned to Metacontroller as a 422 so that
// nothing changes until the spec is fixed.
import { MAX_CLUSTER_NAME_LENGTH, type EtcdCluster } from './cluster.js'

// Labels the hook sets itself; a user value would break selection.
export function isReservedLabel (key: string): boolean {
  return key === 'app' || key.startsWith('etcd_')
}

export function problemsOf (cluster: EtcdCluster): string[] {
  const problems: string[] = []
  const { name } = cluster.metadata
  if (name.length > MAX_CLUSTER_NAME_LENGTH) {
    problems.push(`metadata.name "${name}" is ${name.length} characters; at most ${MAX_CLUSTER_NAME_LENGTH} leave room for the member suffix in a 63-character DNS label`)
  }
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    problems.push(`metadata.name "${name}" must be a DNS label (lower-case letters, digits and '-', starting with a letter): it names Services and member hostnames`)
  }
  for (const key of Object.keys(cluster.spec.pod?.labels ?? {})) {
    if (isReservedLabel(key)) problems.push(`spec.pod.labels: "${key}" is reserved for the operator (app, etcd_*)`)
  }
  const tls = cluster.spec.TLS?.static
  if (tls?.member?.serverSecret !== undefined && tls.operatorSecret === undefined) {
    problems.push('spec.TLS.static.operatorSecret is required with member.serverSecret: the hook needs a client certificate to manage membership')
  }
  return problems
}

// Kubernetes objects nest a few dozen levels at most. The planner's walks
// over user data (copying children, fingerprinting spec.pod) stop past this
// depth with a NestingError, which the shell answers with a 422, instead of
// overflowing the stack; no separate walk of the request is needed.
export const MAX_NESTING = 64

export class NestingError extends Error {
  constructor () {
    super(`the request nests deeper than ${MAX_NESTING} levels`)
    this.name = 'NestingError'
  }
}
