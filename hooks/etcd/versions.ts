// etcd's version numbers, and what each version has. Pure knowledge of
// etcd; nothing here talks to it.

// "3.5.21" or "v3.5.21" → [3, 5, 21]; undefined when it is no version.
export function parseVersion (version: string): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version)
  return match === null ? undefined : [Number(match[1]), Number(match[2]), Number(match[3])]
}

export function compareVersions (a: string, b: string): number {
  const [a0, a1, a2] = parseVersion(a) ?? [0, 0, 0]
  const [b0, b1, b2] = parseVersion(b) ?? [0, 0, 0]
  return a0 - b0 || a1 - b1 || a2 - b2
}

export function versionOfImage (image: string): string {
  const tag = image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : ''
  return tag.replace(/^v/, '')
}

// /readyz and /livez came with 3.4.29 and 3.5.11 (etcdhttp/health.go,
// served on the metrics listener too); older versions only have /health,
// which fails without a leader. From 3.5.19 and 3.6.0 /readyz also fails
// on a learner (its non_learner check), which keeps learners out of the
// client Service; learners are promoted once their pod runs, not when
// it is ready (rules/learner.ts).
export function hasReadyzLivez (version: string): boolean {
  const parsed = parseVersion(version)
  if (parsed?.[0] === 3 && parsed[1] === 4) return parsed[2] >= 29
  return compareVersions(version, '3.5.11') >= 0
}

// Before a rolling upgrade to a minor, every member must run at least this
// patch of the minor before it, or the upgrade may fail half way. From
// etcd's upgrade guides (etcd-io/website, content/en/docs/v3.6/upgrades/
// upgrade_3_6.md: 3.5.32 since 2026-08, after 3.5.20, 3.5.24, 3.5.26;
// content/en/docs/v3.7/upgrades/upgrade_3_7.md: 3.6.11). Raise a floor
// here when the guide does.
export const UPGRADE_FLOORS: Readonly<Record<string, string>> = {
  3.6: '3.5.32',
  3.7: '3.6.11',
}

// Why etcd would not take this rolling upgrade, or undefined when it may
// go: one minor at a time, from the floor patch of the minor before, never
// down a minor.
export function upgradeRefusal (running: string, wanted: string): string | undefined {
  const from = parseVersion(running)
  const to = parseVersion(wanted)
  if (from === undefined || to === undefined) return undefined
  if (to[0] !== from[0] || to[1] > from[1] + 1) {
    return `an upgrade from ${from.join('.')} to ${wanted} skips a minor version; go one minor at a time`
  }
  if (to[1] < from[1]) return `etcd cannot downgrade from ${from.join('.')} to ${wanted}`
  const floor = to[1] === from[1] + 1 ? UPGRADE_FLOORS[`${to[0]}.${to[1]}`] : undefined
  if (floor !== undefined && compareVersions(running, floor) < 0) {
    return `etcd's upgrade guide for ${to[0]}.${to[1]} asks every ${from[0]}.${from[1]} member to run ${floor} or later first (one runs ${from.join('.')}): set version ${floor} or later, then ${wanted}`
  }
  // A member keeps its probes through an in-place upgrade: the version it
  // moves to must serve the /readyz and /livez they may ask for (3.4.29+
  // to 3.5.0-3.5.10, or a patch back, would never be ready again).
  if (hasReadyzLivez(running) && !hasReadyzLivez(wanted)) {
    return `members on ${from.join('.')} are probed on /readyz and /livez, which etcd ${wanted} does not serve (3.4.29 and later 3.4 patches, 3.5.11 and later, and 3.6 on do)`
  }
  return undefined
}
