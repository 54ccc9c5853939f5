// Day-2 maintenance of an EtcdCluster: the backend quota, etcd's own
// auto-compaction, and defragmentation driven by the hook (issue 15). The
// quota and compaction settings are etcd flags of the member pods; defrag
// is the hook's decision (hooks/cluster/rules/maintenance.ts).
import { Type, type Static } from '@sinclair/typebox'
import { scheduleProblem, timeZoneProblem } from './schedule.js'

// etcd's own default quota when --quota-backend-bytes is not given (2 GiB).
export const ETCD_DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024
// A routine defrag starts only this long after the schedule fires.
export const DEFAULT_DEFRAG_WINDOW_MINUTES = 60

export const QuotaBackendBytesSchema = Type.Union([
  Type.Integer({ minimum: 1 }),
  Type.String({ minLength: 1 }),
], { description: 'etcd --quota-backend-bytes: integer bytes or a Kubernetes quantity (8Gi, 512Mi). Above it etcd raises NOSPACE and refuses writes. Unset: etcd\'s default, 2 GiB. A change rolls out member by member.' })

// The CRD's rule for quotaBackendBytes (hooks/api/crd.ts): the API server
// refuses what parseBytes refuses, in the same words.
export const QUOTA_RULES = [{
  rule: 'type(self) == int ? self >= 1 : self.matches(\'^[0-9]+(\\\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$\')',
  message: 'is not a quantity of bytes (an integer, or a number with Ki, Mi, Gi, Ti, k, M, G, T)',
}]

export const AutoCompactionSchema = Type.Object({
  mode: Type.Union([Type.Literal('periodic'), Type.Literal('revision')], { description: 'etcd --auto-compaction-mode.' }),
  retention: Type.String({ minLength: 1, description: 'etcd --auto-compaction-retention: a duration (1h, 30m) or whole hours for periodic, a revision count for revision.' }),
}, { additionalProperties: false, description: 'etcd\'s own compaction of old revisions. A change rolls out member by member.' })

export const DefragPolicySchema = Type.Object({
  enabled: Type.Optional(Type.Boolean({ default: true, description: 'Let the hook defragment members, one at a time, the leader last.' })),
  fragmentationAbove: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'Defragment a member when (dbSize - dbSizeInUse) / dbSize is above this.' })),
  quotaUsageAbove: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 0.8, description: '... or when dbSize / quota is above this (and there is space to reclaim).' })),
  schedule: Type.Optional(Type.String({ minLength: 1, description: 'Cron schedule (five fields): routine defrags start only within windowMinutes after it fires. NOSPACE recovery ignores it.' })),
  timeZone: Type.Optional(Type.String({ minLength: 1, description: 'Time zone of schedule (IANA name); default Etc/UTC.' })),
  windowMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440, default: DEFAULT_DEFRAG_WINDOW_MINUTES, description: 'How long after the schedule fires routine defrags may start.' })),
}, { additionalProperties: false, description: 'Defragmentation by the hook.' })

export type AutoCompaction = Static<typeof AutoCompactionSchema>
export type DefragPolicy = Static<typeof DefragPolicySchema>

const QUANTITY = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/
const FACTORS: Record<string, number> = {
  '': 1, 'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'Pi': 2 ** 50, 'Ei': 2 ** 60,
  'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'P': 1e15, 'E': 1e18,
}

// Bytes of a quantity (an integer, or a string such as 8Gi, 1.5G,
// 16777216), or why it is none: etcd takes whole bytes only.
export function parseBytes (value: number | string): { bytes: number } | { problem: string } {
  const text = String(value).trim()
  const match = QUANTITY.exec(text)
  if (match === null) return { problem: `'${text}' is not a quantity of bytes (an integer, or a number with Ki, Mi, Gi, Ti, k, M, G, T)` }
  const bytes = Number(match[1]) * (FACTORS[match[2] ?? ''] ?? 1)
  if (!Number.isSafeInteger(bytes) || bytes < 1) return { problem: `'${text}' is ${bytes} bytes: etcd needs a whole number of bytes, at least 1` }
  return { bytes }
}

// A Go duration (1h, 30m, 1h30m, 90s) or whole hours.
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(h|m|s|ms))+$/

// Problems of the maintenance fields, one sentence each, naming the field.
export function maintenanceProblems (spec: { quotaBackendBytes?: number | string | undefined, autoCompaction?: AutoCompaction | undefined, defrag?: DefragPolicy | undefined }): string[] {
  const problems: string[] = []
  if (spec.quotaBackendBytes !== undefined) {
    const parsed = parseBytes(spec.quotaBackendBytes)
    if ('problem' in parsed) problems.push(`spec.quotaBackendBytes: ${parsed.problem}`)
  }
  const compaction = spec.autoCompaction
  if (compaction !== undefined) {
    const ok = compaction.mode === 'revision' ? /^[0-9]+$/.test(compaction.retention) : /^[0-9]+$/.test(compaction.retention) || GO_DURATION.test(compaction.retention)
    if (!ok) {
      problems.push(compaction.mode === 'revision'
        ? `spec.autoCompaction.retention: '${compaction.retention}' is no revision count (mode revision keeps this many revisions, a whole number)`
        : `spec.autoCompaction.retention: '${compaction.retention}' is no duration (mode periodic takes 1h, 30m, 1h30m, or whole hours)`)
    }
  }
  const defrag = spec.defrag
  if (defrag?.timeZone !== undefined) {
    const zone = timeZoneProblem(defrag.timeZone)
    if (zone !== undefined) problems.push(`spec.defrag.timeZone: ${zone}`)
  }
  if (defrag?.schedule !== undefined && (defrag.timeZone === undefined || timeZoneProblem(defrag.timeZone) === undefined)) {
    const problem = scheduleProblem(defrag.schedule, defrag.timeZone)
    if (problem !== undefined) problems.push(`spec.defrag.schedule: ${problem}`)
  }
  return problems
}

// What the status says of maintenance (the members' backends, alarms, a
// defrag under way, a NOSPACE recovery).
export const MemberSpaceSchema = Type.Object({
  name: Type.String(),
  dbSize: Type.Integer({ description: 'Bytes of the backend file, rounded down to 1% of the quota (at least 1 MiB) so that the status does not change with every write.' }),
  dbSizeInUse: Type.Integer({ description: 'Bytes of it in use (the rest a defrag reclaims), rounded down likewise.' }),
  fragmentation: Type.Number({ description: '(dbSize - dbSizeInUse) / dbSize of the rounded sizes, two decimals.' }),
  quotaUsage: Type.Number({ description: 'dbSize / quota of the rounded size, two decimals.' }),
})

export const MaintenanceStatusSchema = Type.Object({
  members: Type.Optional(Type.Array(MemberSpaceSchema)),
  quotaBytes: Type.Optional(Type.Integer()),
  largestQuotaUsage: Type.Optional(Type.String({ description: 'The largest member quota use, in percent (printer column).' })),
  alarms: Type.Optional(Type.Array(Type.Object({ member: Type.String(), alarm: Type.String() }))),
  defragmenting: Type.Optional(Type.Object({
    member: Type.String(),
    since: Type.String(),
    dbSizeBefore: Type.Integer(),
  }, { description: 'The member being defragmented now (one at a time).' })),
  lastDefrag: Type.Optional(Type.Object({
    member: Type.String(),
    finished: Type.String(),
    reclaimedBytes: Type.Integer(),
  })),
  noSpace: Type.Optional(Type.Object({
    since: Type.String(),
    compactedRevision: Type.Optional(Type.String()),
    defragmented: Type.Optional(Type.Array(Type.String())),
  }, { description: 'A NOSPACE recovery under way: compacted, members defragmented so far, then the alarm is disarmed.' })),
})
export type MaintenanceStatus = Static<typeof MaintenanceStatusSchema>
export type MemberSpace = Static<typeof MemberSpaceSchema>
