// When the end-to-end suite can run here, and what to do when it cannot:
// skip loudly, or fail when ETCD_OPERATOR_REQUIRE_ALL=1 (CI).
import fs from 'node:fs'
import { execFileSync } from 'node:child_process'
import { SERVER_SOURCE } from './hook.js'

export const REQUIRE_ALL = process.env.ETCD_OPERATOR_REQUIRE_ALL === '1'

function executable (p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

// Undefined when everything is there; otherwise why not.
export function missingPrereq (opts: { hook: boolean }): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`
  if (process.getuid?.() !== 0) return 'not running as root (network namespaces need it)'
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore', timeout: 5000 })
  } catch {
    return 'no working `ip` (iproute2) command'
  }
  for (const bin of ['/usr/bin/etcd', '/usr/bin/etcdctl']) if (!executable(bin)) return `${bin} is missing (install Debian's etcd-server and etcd-client)`
  if (opts.hook && !fs.existsSync(SERVER_SOURCE)) return `the hook's entry point ${SERVER_SOURCE} does not exist yet`
  return undefined
}

export function skipBanner (file: string, reason: string): string {
  const line = '!'.repeat(78)
  return `${line}\n!! END-TO-END TESTS SKIPPED (${file}): ${reason}\n!! Set ETCD_OPERATOR_REQUIRE_ALL=1 to make this a failure.\n${line}`
}
