// Which stored backups go and which one is newest, pure. Only generated
// names of the given cluster count: any other file under the prefix (another
// cluster's backups, a hand-made copy) is never touched.
import { compareNames, parseBackupName } from './naming.js'

// Names (relative to the prefix) to delete so that the newest `keep`
// backups of `cluster` remain. `justWritten` is never among them, even if a
// clock set back made it sort below older names (then one more stays; a
// store whose listing lags behind a write likewise keeps one more).
export function expiredBackups (names: readonly string[], cluster: string, keep: number, justWritten: string): string[] {
  if (keep <= 0) return []
  const ours = names
    .filter(name => parseBackupName(name, cluster) !== undefined)
    .sort((a, b) => compareNames(b, a, cluster))
  const kept = new Set(ours.slice(0, keep))
  kept.add(justWritten)
  return ours.filter(name => !kept.has(name))
}

// The newest backup: of `cluster` when given, else any `*.db` (generated
// names by their stamp, before others; others by name).
export function latestBackup (names: readonly string[], cluster?: string): string | undefined {
  const candidates = cluster === undefined
    ? names.filter(name => name.endsWith('.db'))
    : names.filter(name => parseBackupName(name, cluster) !== undefined)
  return candidates.sort((a, b) => compareNames(a, b, cluster)).at(-1)
}
