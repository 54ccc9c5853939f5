// spec with its defaults filled in, and the fingerprint of what a member
// pod is made from.
import { createHash } from 'node:crypto'
import { DEFAULT_REPOSITORY, DEFAULT_VERSION, type ClusterSpec, type PodPolicy } from '../../api/cluster.js'
import { MAX_NESTING, NestingError } from '../../api/validate.js'
import { certificateSecret } from '../names.js'
import type { ClusterTLS, ResolvedSpec } from '../model.js'

export function resolveSpec (spec: ClusterSpec, name: string): ResolvedSpec {
  const version = (spec.version ?? DEFAULT_VERSION).replace(/^v/, '')
  const repository = spec.repository ?? DEFAULT_REPOSITORY
  const tls = resolveTLS(spec, name)
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
    backup: spec.backup === undefined
      ? undefined
      : {
          maxBackups: 0, timeoutSeconds: 600, failureThreshold: 3, suspend: false,
          ...spec.backup,
        },
    restore: spec.restore,
  }
}

// cert-manager TLS is always peer and client TLS, from the three
// Certificates the hook asks for.
function resolveTLS (spec: ClusterSpec, name: string): ClusterTLS {
  const certManager = spec.TLS?.certManager
  if (certManager !== undefined) {
    return {
      peerSecret: certificateSecret(name, 'peer'),
      serverSecret: certificateSecret(name, 'server'),
      operatorSecret: certificateSecret(name, 'operator'),
      certManager,
    }
  }
  return {
    peerSecret: spec.TLS?.static?.member?.peerSecret,
    serverSecret: spec.TLS?.static?.member?.serverSecret,
    operatorSecret: spec.TLS?.static?.operatorSecret,
  }
}

// Labels and annotations change in place; everything else in spec.pod, and
// the member TLS secrets, needs a new pod.
function podPolicyHash (pod: PodPolicy, tls: ClusterTLS): string {
  // Every resync of every cluster asks again with the same few policies:
  // remember the answers, keyed by the policy as sent, rather than hash on
  // every sync.
  const key = policyKey(pod, tls)
  const known = key === undefined ? undefined : policyHashes.get(key)
  if (known !== undefined) return known
  const { labels: _labels, annotations: _annotations, ...rest } = pod
  // The layout joins the material only with cert-manager: static clusters
  // keep the fingerprint their members carry.
  const layout = tls.certManager !== undefined ? { tlsLayout: 'cert-manager' } : {}
  const material = stableJSON({ pod: rest, peerSecret: tls.peerSecret, serverSecret: tls.serverSecret, ...layout })
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
function policyKey (pod: PodPolicy, tls: ClusterTLS): string | undefined {
  let key: string
  try {
    key = `${JSON.stringify(pod)}\n${tls.peerSecret ?? ''}\n${tls.serverSecret ?? ''}\n${tls.certManager !== undefined}`
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
