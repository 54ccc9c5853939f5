// Prometheus metrics of the hook, on a registry of its own (one per app, so
// tests and benchmarks do not share counters).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { MaintenanceStatus } from '../api/maintenance.js'

// A cluster not synced for this long no longer counts (deleted, or served by
// another replica).
const PHASE_TTL_MS = 10 * 60 * 1000

export class HookMetrics {
  readonly registry = new Registry()
  readonly syncDuration = new Histogram({
    name: 'etcd_operator_sync_duration_seconds',
    help: 'Duration of sync hook calls, by outcome (ok, invalid, error).',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })

  readonly membershipActions = new Counter({
    name: 'etcd_operator_membership_actions_total',
    help: 'Membership and maintenance writes, by kind (addLearner, promote, remove, transferLeadership; defragment, compact, disarmAlarm) and result (done, failed, unknown: sent and never answered).',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  })

  readonly etcdErrors = new Counter({
    name: 'etcd_operator_etcd_errors_total',
    help: 'Calls to etcd that failed, by operation (observe, execute).',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  })

  // Maintenance (issue 15), per cluster (labels etcd_namespace and
  // etcd_cluster, as for backups).
  readonly defragRuns = new Counter({
    name: 'etcd_operator_defrag_runs_total',
    help: 'Defragments the hook started, by cluster and trigger (routine, nospace).',
    labelNames: ['etcd_namespace', 'etcd_cluster', 'trigger'] as const,
    registers: [this.registry],
  })

  readonly defragReclaimedBytes = new Counter({
    name: 'etcd_operator_defrag_reclaimed_bytes_total',
    help: 'Bytes the finished defragments gave back (db size before minus after), by cluster.',
    labelNames: ['etcd_namespace', 'etcd_cluster'] as const,
    registers: [this.registry],
  })

  readonly noSpaceEvents = new Counter({
    name: 'etcd_operator_nospace_events_total',
    help: 'Times the hook found etcd\'s NOSPACE alarm raised (one per recovery), by cluster.',
    labelNames: ['etcd_namespace', 'etcd_cluster'] as const,
    registers: [this.registry],
  })

  private readonly phases = new Map<string, { phase: string, seen: number }>()
  private readonly backups = new Map<string, BackupTimes & { seen: number }>()

  constructor (private readonly clock: () => number = Date.now) {
    const phases = this.phases
    const ttlClock = this.clock
    new Gauge({
      name: 'etcd_operator_clusters',
      help: 'EtcdClusters by the phase of their last sync on this replica.',
      labelNames: ['phase'] as const,
      registers: [this.registry],
      collect () {
        this.reset()
        const now = ttlClock()
        for (const [cluster, { phase, seen }] of phases) {
          if (now - seen > PHASE_TTL_MS) phases.delete(cluster)
          else this.inc({ phase })
        }
      },
    })
    this.backupGauge('etcd_operator_backup_last_success_timestamp_seconds', 'When the last scheduled backup of an EtcdCluster succeeded (Unix seconds), as its status says.', 'lastSuccess')
    this.backupGauge('etcd_operator_backup_success_due_timestamp_seconds', 'A scheduled backup must succeed by this time (Unix seconds), or BackupHealthy turns False: status.backup.successDueBy.', 'dueBy')
    collectDefaultMetrics({ register: this.registry })
  }

  // Timestamps, not states: replicas behind one Service each see some syncs,
  // and max() over them is the newest word (a stale replica's time is older).
  // Labels etcd_namespace/etcd_cluster, as a scrape sets `namespace` to the
  // hook's own.
  private backupGauge (name: string, help: string, field: 'lastSuccess' | 'dueBy'): void {
    const backups = this.backups
    const ttlClock = this.clock
    new Gauge({
      name,
      help,
      labelNames: ['etcd_namespace', 'etcd_cluster'] as const,
      registers: [this.registry],
      collect () {
        this.reset()
        const now = ttlClock()
        for (const [key, times] of backups) {
          const value = times[field]
          if (now - times.seen > PHASE_TTL_MS) backups.delete(key)
          else if (value !== undefined) this.set({ etcd_namespace: times.namespace, etcd_cluster: times.cluster }, value)
        }
      },
    })
  }

  // What one sync's status says of maintenance, against the status before.
  recordMaintenance (namespace: string, name: string, before: MaintenanceStatus | undefined, after: MaintenanceStatus | undefined, defragStarted: 'routine' | 'nospace' | undefined): void {
    const cluster = { etcd_namespace: namespace, etcd_cluster: name }
    if (defragStarted !== undefined) this.defragRuns.inc({ ...cluster, trigger: defragStarted })
    const finished = after?.lastDefrag
    if (finished !== undefined && finished.finished !== before?.lastDefrag?.finished) this.defragReclaimedBytes.inc(cluster, finished.reclaimedBytes)
    if (after?.noSpace !== undefined && before?.noSpace === undefined) this.noSpaceEvents.inc(cluster)
  }

  recordPhase (cluster: string, phase: string): void {
    this.phases.set(cluster, { phase, seen: this.clock() })
  }

  // status.backup of a cluster with scheduled backups; undefined when it
  // has none (turned off, or the cluster is being deleted).
  recordBackup (namespace: string, cluster: string, backup: { lastSuccess?: { time: string }, successDueBy?: string } | undefined): void {
    const key = `${namespace}/${cluster}`
    if (backup === undefined) {
      this.backups.delete(key)
      return
    }
    this.backups.set(key, { namespace, cluster, lastSuccess: seconds(backup.lastSuccess?.time), dueBy: seconds(backup.successDueBy), seen: this.clock() })
  }
}

interface BackupTimes {
  namespace: string
  cluster: string
  lastSuccess: number | undefined
  dueBy: number | undefined
}

function seconds (time: string | undefined): number | undefined {
  const ms = time === undefined ? NaN : Date.parse(time)
  return Number.isNaN(ms) ? undefined : ms / 1000
}
