// Checks of an EtcdCluster that its schema cannot express. Each problem is
// a sentence naming the field, returned to Metacontroller as a 422 so that
// nothing changes until the spec is fixed.
import { MAX_CLUSTER_NAME_LENGTH, type EtcdCluster } from './schema.js'

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

// Kubernetes objects nest a few dozen levels at most; a request nesting
// deeper is refused before anything walks it recursively.
export const MAX_NESTING = 64

export function nestsDeeperThan (value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number]
    if (current === null || typeof current !== 'object') continue
    if (depth >= limit) return true
    for (const child of Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
    }
  }
  return false
}
