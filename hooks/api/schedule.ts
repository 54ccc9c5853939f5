// CronJob schedules as Kubernetes reads them: five fields, or one of the
// descriptors its parser knows, in the CronJob's time zone. The fields are
// read by cron-parser; what Kubernetes refuses that cron-parser would take
// (a sixth field for seconds, a TZ= prefix) is refused here first, so a
// schedule the API server would reject never reaches it: the CronJob
// would fail with 422 on every sync.
import { CronExpressionParser } from 'cron-parser'

const DESCRIPTORS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'])

// Why Kubernetes would refuse this schedule, or undefined.
export function scheduleProblem (schedule: string, timeZone: string | undefined): string | undefined {
  const text = schedule.trim()
  if (/^(CRON_)?TZ=/.test(text)) return `'${schedule}': a TZ= prefix is not allowed: set timeZone instead`
  if (text.startsWith('@')) {
    return DESCRIPTORS.has(text) ? undefined : `'${schedule}' is not a schedule: the descriptors are ${[...DESCRIPTORS].join(', ')}`
  }
  const fields = text.split(/\s+/).length
  if (fields !== 5) return `'${schedule}' has ${fields} fields; a schedule has five: minute hour day-of-month month day-of-week`
  try {
    CronExpressionParser.parse(text, { tz: timeZone ?? 'Etc/UTC' })
    return undefined
  } catch (error) {
    return `'${schedule}' is not a schedule: ${error instanceof Error ? error.message : String(error)}`
  }
}

// Why this is no IANA time zone name, or undefined.
export function timeZoneProblem (timeZone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone })
    return undefined
  } catch {
    return `'${timeZone}' is not a time zone name (IANA, such as Etc/UTC or Europe/Berlin)`
  }
}

// The first `count` times the schedule fires after `after` (exclusive).
// The schedule must have passed scheduleProblem.
export function nextFires (schedule: string, timeZone: string | undefined, after: Date, count: number): Date[] {
  const expression = CronExpressionParser.parse(schedule.trim(), { currentDate: after, tz: timeZone ?? 'Etc/UTC' })
  return Array.from({ length: count }, () => expression.next().toDate())
}

// The last time the schedule fired before `now` (for a window that opens
// when it fires). The schedule must have passed scheduleProblem.
export function lastFire (schedule: string, timeZone: string | undefined, now: Date): Date {
  return CronExpressionParser.parse(schedule.trim(), { currentDate: now, tz: timeZone ?? 'Etc/UTC' }).prev().toDate()
}
