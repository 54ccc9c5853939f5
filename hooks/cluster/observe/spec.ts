// spec with its defaults filled in, and the fingerprint of what a member
// pod is made from.
import { createHash } from 'node:crypto'
import { DEFAULT_REPOSITORY, DEFAULT_VERSION, type ClusterSpec, type PodPolicy } from '../../api/cluster.js'
import { DEFAULT_DEFRAG_WINDOW_MINUTES, parseBytes } from '../../api/maintenance.js'
import { MAX_NESTING, NestingError } from '../../api/validate.js'
import { certificateSecret } from '../names.js'
import type { ClusterTLS, ResolvedMaintenance, ResolvedSpec } from '../model.js'

export function resolveSpec (spec: ClusterSpec, name: string): ResolvedSpec {
  const version = (spec.version ?? DEFAULT_VERSION).replace(/^v/, '')
  const repository = spec.repository ?? DEFAULT_REPOSITORY
  const tls = resolveTLS(spec, name)
  const maintenance = resolveMaintenance(spec)
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
    podPolicyHash: podPolicyHash(spec.pod ?? {}, tls, maintenance),
    backup: spec.backup === undefined
      ? undefined
      : {
          maxBackups: 0, timeoutSeconds: 600, failureThreshold: 3, suspend: false,
          ...spec.backup,
        },
    restore: spec.restore,
    maintenance,
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

function resolveMaintenance (spec: ClusterSpec): ResolvedMaintenance {
  const quota = spec.quotaBackendBytes === undefined ? undefined : parseBytes(spec.quotaBackendBytes)
  return {
    // validate.ts refuses a quota that is no quantity before this runs.
    quotaBytes: quota !== undefined && 'bytes' in quota ? quota.bytes : undefined,
    autoCompaction: spec.autoCompaction,
    defrag: { enabled: true, fragmentationAbove: 0.5, quotaUsageAbove: 0.8, windowMinutes: DEFAULT_DEFRAG_WINDOW_MINUTES, ...spec.defrag },
  }
}

// Labels and annotations change in place; everything else in spec.pod, the
// member TLS secrets, and the quota and compaction flags need a new pod.
// (Unset ones add nothing to the hash: pods made before they existed stay.)
function podPolicyHash (pod: PodPolicy, tls: ClusterTLS, maintenance: ResolvedMaintenance): string {
  // Every resync of every cluster asks again with the same few policies:
  // remember the answers, keyed by the policy as sent, rather than hash on
  // every sync.
  // The cert-manager layout joins only when set: static clusters keep the
  // fingerprint their members carry.
  const flags = { quotaBackendBytes: maintenance.quotaBytes, autoCompaction: maintenance.autoCompaction, ...(tls.certManager !== undefined ? { tlsLayout: 'cert-manager' } : {}) }
  const key = policyKey(pod, tls, flags)
  const known = key === undefined ? undefined : policyHashes.get(key)
  if (known !== undefined) return known
  const { labels: _labels, annotations: _annotations, ...rest } = pod
  const material = stableJSON({ pod: rest, peerSecret: tls.peerSecret, serverSecret: tls.serverSecret, ...flags })
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
function policyKey (pod: PodPolicy, tls: ClusterTLS, flags: object): string | undefined {
  let key: string
  try {
    key = `${JSON.stringify(pod)}\n${tls.peerSecret ?? ''}\n${tls.serverSecret ?? ''}\n${JSON.stringify(flags)}`
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
