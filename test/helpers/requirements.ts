// Tests that need real parts (etcd, root for network namespaces, helm) skip
// loudly where those are missing, and fail instead when
// ETCD_OPERATOR_REQUIRE_ALL=1 (as .ci/run sets it): CI never passes by
// skipping.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export const ETCD = '/usr/bin/etcd'
export const ETCDCTL = '/usr/bin/etcdctl'

export function requireAll (): boolean {
  return process.env.ETCD_OPERATOR_REQUIRE_ALL === '1'
}

// Why this machine cannot run a test of real etcd in network namespaces,
// or undefined when it can.
export function missingForNamespaces (): string | undefined {
  if (!existsSync(ETCD) || !existsSync(ETCDCTL)) return 'etcd not installed: apt-get install etcd-server etcd-client'
  if (process.getuid?.() !== 0) return 'not root: network namespaces need root'
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' })
  } catch {
    return '`ip netns` does not work: apt-get install iproute2'
  }
  return undefined
}

// tap options for a test needing `missing` to be undefined: a loud skip,
// or a failure when everything is required.
export function skipUnless (missing: string | undefined): { skip?: string } {
  if (missing === undefined) return {}
  if (requireAll()) throw new Error(`required test cannot run: ${missing}`)
  return { skip: `SKIPPED, real parts missing: ${missing}` }
}
