// The EtcdBackup controller's decision table: an ordered list of small pure
// rules; the first that returns a step wins. A backup runs once: its Job
// `<name>` is kept as the record of the run, and once the status says it
// finished no Job is made again.
import type { Condition } from '../../api/kube.js'
import type { Backup, SourceProblem } from '../model.js'

export type StepName = 'jobExists' | 'finished' | 'sourceProblem' | 'createJob'

export interface Step {
  rule: StepName
  // keep: the Job as observed; create: a new one; none: no Job.
  job: 'keep' | 'create' | 'none'
  problem?: SourceProblem
}

export type Rule = (backup: Backup) => Step | undefined

// Failures found before any Job ran: a later sync tries again (the cluster
// or the Secret may appear).
export const PROBLEM_REASONS: ReadonlySet<string> = new Set<SourceProblem['reason']>(['ClusterNotFound', 'CredentialsMissing', 'CredentialsNotFound'])

const isTrue = (conditions: Condition[] | undefined, type: string) => conditions?.find(c => c.type === type)?.status === 'True'

// A Job ran to its end, as an earlier sync reported it.
export function finishedBefore (backup: Backup): boolean {
  const conditions = backup.previous.conditions
  if (isTrue(conditions, 'Succeeded')) return true
  const failed = conditions?.find(c => c.type === 'Failed')
  return failed?.status === 'True' && !PROBLEM_REASONS.has(failed.reason ?? '')
}

// The Job is there (running or done): it is the record, whatever happened
// to the cluster since.
const jobExists: Rule = b => b.job !== undefined ? { rule: 'jobExists', job: 'keep' } : undefined
// Finished, its Job deleted since: never a second run.
const finished: Rule = b => finishedBefore(b) ? { rule: 'finished', job: 'none' } : undefined
const sourceProblem: Rule = b => b.source.kind === 'problem' ? { rule: 'sourceProblem', job: 'none', problem: b.source.problem } : undefined
const createJob: Rule = () => ({ rule: 'createJob', job: 'create' })

export const RULES: readonly Rule[] = [jobExists, finished, sourceProblem, createJob]

export function decide (backup: Backup, rules: readonly Rule[] = RULES): Step {
  for (const rule of rules) {
    const step = rule(backup)
    if (step !== undefined) return step
  }
  throw new Error('no rule matched: the table must end in a rule that always does')
}
