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

// etcd 3.5.11 added /readyz and /livez; older versions only have /health,
// which fails without a leader.
export function hasReadyzLivez (version: string): boolean {
  return compareVersions(version, '3.5.11') >= 0
}
