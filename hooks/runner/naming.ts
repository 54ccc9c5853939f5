// Names of generated backups, pure: `<cluster>-<yyyymmddThhmmssZ>-r<revision>.db`
// under a prefix. The UTC stamp has a fixed width, so for one cluster the
// names sort by time; the revision breaks a tie within one second.

export interface BackupName {
  cluster: string
  stamp: string
  revision: bigint
}

// 2024-01-02T03:04:05.678Z -> 20240102T030405Z
export function stamp (date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')
}

export function backupName (cluster: string, date: Date, revision: number): string {
  return `${cluster}-${stamp(date)}-r${revision}.db`
}

// `name` under `prefix` ('' is the top of the bucket or directory).
export function keyUnder (prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}/${name}`
}

function escapeRegExp (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

// A generated name of `cluster` (strictly: cluster "a" never matches
// "a-b-..." of cluster "a-b"), or of any cluster when none is given.
export function parseBackupName (name: string, cluster?: string): BackupName | undefined {
  const owner = cluster === undefined ? '(.+)' : `(${escapeRegExp(cluster)})`
  const match = new RegExp(`^${owner}-(\\d{8}T\\d{6}Z)-r(\\d{1,19})\\.db$`).exec(name)
  if (match === null) return undefined
  const [, who = '', when = '', revision = '0'] = match
  return { cluster: who, stamp: when, revision: BigInt(revision) }
}

// Older first: by stamp, then revision, then the name itself.
export function compareNames (a: string, b: string, cluster?: string): number {
  const x = parseBackupName(a, cluster)
  const y = parseBackupName(b, cluster)
  const byStamp = (x?.stamp ?? '').localeCompare(y?.stamp ?? '')
  if (byStamp !== 0) return byStamp
  const byRevision = (x?.revision ?? 0n) - (y?.revision ?? 0n)
  if (byRevision !== 0n) return byRevision < 0n ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}
