// Checks of an EtcdCluster that its schema cannot express. Each problem is
// a sentence naming the field, returned to Metacontroller as a 422 so that
// nothing changes until the spec is fixed.
import { ETCD_SERVER_FLAGS } from '../etcd/flags.js'
import { parseVersion } from '../etcd/versions.js'
import type { EtcdBackup } from './backup.js'
import { MAX_CLUSTER_NAME_LENGTH, type EtcdCluster, type SyncRequest } from './cluster.js'
import { GO_TRUE, RESERVED_ETCD_ENV } from './etcd-env.js'
import { maintenanceProblems } from './maintenance.js'
import { scheduleProblem, timeZoneProblem } from './schedule.js'

// Labels the hook sets itself; a user value would break selection.
export function isReservedLabel (key: string): boolean {
  return key === 'app' || key.startsWith('etcd_')
}

export function problemsOf (cluster: EtcdCluster): string[] {
  const problems: string[] = []
  const { name } = cluster.metadata
  if (name.length > MAX_CLUSTER_NAME_LENGTH) {
    problems.push(`metadata.name "${name}" is ${name.length} characters; at most ${MAX_CLUSTER_NAME_LENGTH} leave room for the member suffix in a 63-character DNS label`)
  }
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    problems.push(`metadata.name "${name}" must be a DNS label (lower-case letters, digits and '-', starting with a letter): it names Services and member hostnames`)
  }
  for (const key of Object.keys(cluster.spec.pod?.labels ?? {})) {
    if (isReservedLabel(key)) problems.push(`spec.pod.labels: "${key}" is reserved for the operator (app, etcd_*)`)
  }
  problems.push(...etcdEnvProblems(cluster.spec.pod?.etcdEnv ?? []))
  const version = parseVersion(cluster.spec.version ?? '')
  if (version !== undefined && ETCD_SERVER_FLAGS[`${version[0]}.${version[1]}`] === undefined) {
    problems.push(`spec.version ${cluster.spec.version ?? ''}: the operator knows the command line of etcd ${Object.keys(ETCD_SERVER_FLAGS).join(', ')} only, and renders no member it cannot check (hooks/etcd/flags.ts)`)
  }
  problems.push(...tlsProblems(cluster.spec.TLS))
  const backup = cluster.spec.backup
  if (backup !== undefined && (backup.s3 === undefined) === (backup.pvc === undefined)) {
    problems.push('spec.backup: exactly one of s3 and pvc says where backups go')
  }
  if (backup !== undefined) problems.push(...scheduleProblems(backup.schedule, backup.timeZone))
  const restore = cluster.spec.restore
  if (restore !== undefined && (restore.s3 === undefined) === (restore.pvc === undefined)) {
    problems.push('spec.restore: exactly one of s3 and pvc says where the snapshot is')
  }
  problems.push(...maintenanceProblems(cluster.spec), ...maintenanceEnvProblems(cluster))
  return problems
}

// Metacontroller lists every child type its CompositeController declares
// in `children`, even when empty. Without Certificates declared it would
// refuse an answer holding them, and no certificate would ever be issued.
export const CERTIFICATE_CHILDREN = 'Certificate.cert-manager.io/v1'
export function requestProblemsOf (request: SyncRequest): string[] {
  const problems = problemsOf(request.parent)
  if (request.parent.spec.TLS?.certManager !== undefined && request.children?.[CERTIFICATE_CHILDREN] === undefined) {
    problems.push('spec.TLS.certManager: the CompositeController does not declare cert-manager.io/v1 certificates as children (chart: certManager.enabled=true; README, cert-manager)')
  }
  return problems
}

// crd.ts's TLS rules, in the same words.
function tlsProblems (tls: EtcdCluster['spec']['TLS']): string[] {
  if (tls === undefined) return []
  const problems: string[] = []
  if ((tls.static !== undefined) === (tls.certManager !== undefined)) {
    problems.push('spec.TLS: exactly one of static and certManager says where the certificates come from')
  }
  if (tls.static?.member?.serverSecret !== undefined && tls.static.operatorSecret === undefined) {
    problems.push('spec.TLS.static.operatorSecret is required with member.serverSecret: the hook needs a client certificate to manage membership')
  }
  const key = tls.certManager?.privateKey
  if (key?.size !== undefined && !keySizeFits(key.algorithm ?? 'RSA', key.size)) {
    problems.push('spec.TLS.certManager.privateKey: size: RSA (the default) takes 2048 to 8192 bits, ECDSA 256, 384 or 521, Ed25519 none')
  }
  const { duration, renewBefore } = tls.certManager ?? {}
  if (duration !== undefined && renewBefore !== undefined && goDurationSeconds(renewBefore) >= goDurationSeconds(duration)) {
    problems.push('spec.TLS.certManager: renewBefore must be shorter than duration: cert-manager refuses the Certificates otherwise')
  }
  return problems
}

function keySizeFits (algorithm: string, size: number): boolean {
  if (algorithm === 'ECDSA') return [256, 384, 521].includes(size)
  if (algorithm === 'Ed25519') return false
  return size >= 2048 && size <= 8192
}

// `1h30m` -> 5400 (the schema's pattern has checked the form).
const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }
export function goDurationSeconds (text: string): number {
  let seconds = 0
  for (const [, amount, unit] of text.matchAll(/([0-9.]+)(ns|us|ms|s|m|h)/g)) seconds += Number(amount) * (DURATION_UNITS[unit ?? 's'] ?? 0)
  return seconds
}

// The EtcdBackup's CEL rules (ETCD_BACKUP_RULES in backup.ts), in the
// same words: what the API server refuses, the hook refuses too.
export function backupProblemsOf (backup: EtcdBackup): string[] {
  const { spec } = backup
  const problems: string[] = []
  if ((spec.clusterName !== undefined) === ((spec.etcdEndpoints?.length ?? 0) > 0)) {
    problems.push('spec: exactly one of clusterName and etcdEndpoints says which etcd to back up')
  }
  if ((spec.s3 !== undefined) === (spec.pvc !== undefined)) {
    problems.push('spec: exactly one of s3 and pvc says where the snapshot goes')
  }
  if (spec.storageType !== undefined && (spec.storageType === 'S3') !== (spec.s3 !== undefined)) {
    problems.push('spec: storageType must name the store that is set')
  }
  return problems
}

// spec.pod.etcdEnv entries that set a RESERVED_ETCD_ENV variable, one
// sentence each. Entries are core/v1 EnvVars the API server checks itself.
function etcdEnvProblems (env: readonly unknown[]): string[] {
  const problems: string[] = []
  env.forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null) return
    const { name, value, valueFrom } = entry as { name?: unknown, value?: unknown, valueFrom?: unknown }
    if (typeof name !== 'string') return
    const reserved = RESERVED_ETCD_ENV.find(r => r.match === 'prefix' ? name.startsWith(r.name) : name === r.name)
    if (reserved === undefined) return
    if (reserved.match !== 'unlessTrue') {
      problems.push(`spec.pod.etcdEnv[${i}].name: ${name} is set by the operator: ${reserved.why}`)
    } else if (valueFrom !== undefined) {
      problems.push(`spec.pod.etcdEnv[${i}].valueFrom: ${name} must be a literal true, not read from elsewhere: ${reserved.why}`)
    } else if (typeof value !== 'string' || !GO_TRUE.includes(value)) {
      problems.push(`spec.pod.etcdEnv[${i}].value: ${name}=${typeof value === 'string' ? value : ''} is refused: ${reserved.why}`)
    }
  })
  return problems
}

// etcd exits when the environment repeats a flag the command line sets:
// with spec.quotaBackendBytes or spec.autoCompaction the hook renders these.
function maintenanceEnvProblems (cluster: EtcdCluster): string[] {
  const rendered = [
    ...(cluster.spec.quotaBackendBytes !== undefined ? [['ETCD_QUOTA_BACKEND_BYTES', 'spec.quotaBackendBytes']] : []),
    ...(cluster.spec.autoCompaction !== undefined ? [['ETCD_AUTO_COMPACTION_MODE', 'spec.autoCompaction'], ['ETCD_AUTO_COMPACTION_RETENTION', 'spec.autoCompaction']] : []),
  ]
  const env = cluster.spec.pod?.etcdEnv ?? []
  return env.flatMap((entry, i) => {
    const name = (entry as { name?: unknown }).name
    const clash = rendered.find(([variable]) => variable === name)
    return clash === undefined ? [] : [`spec.pod.etcdEnv[${i}].name: ${String(name)} repeats ${clash[1] ?? ''}, which the operator renders as a flag (etcd refuses to start with both): set one`]
  })
}

// Kubernetes objects nest a few dozen levels at most. The planner's walks
// over user data (copying children, fingerprinting spec.pod) stop past this
// depth with a NestingError, which the shell answers with a 422, instead of
// overflowing the stack; no separate walk of the request is needed.
export const MAX_NESTING = 64

export class NestingError extends Error {
  constructor () {
    super(`the request nests deeper than ${MAX_NESTING} levels`)
    this.name = 'NestingError'
  }
}

// The CronJob's schedule and time zone, checked as the API server would:
// a CronJob it refuses would fail on every sync.
function scheduleProblems (schedule: string, timeZone: string | undefined): string[] {
  const zone = timeZone === undefined ? undefined : timeZoneProblem(timeZone)
  if (zone !== undefined) return [`spec.backup.timeZone: ${zone}`]
  const problem = scheduleProblem(schedule, timeZone)
  return problem === undefined ? [] : [`spec.backup.schedule: ${problem}`]
}
