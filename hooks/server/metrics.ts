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
    help: 'Membership writes, by kind (addLearner, promote, remove, transferLeadership) and result (done, failed).',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  })

  readonly etcdErrors = new Counter({
    name: 'etcd_operator_etcd_errors_total',
    help: 'Calls to etcd that failed, by operation (observe, execute).',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  })

  // Maintenance (issue 15), per cluster (namespace/name).
  readonly defragRuns = new Counter({
    name: 'etcd_operator_defrag_runs_total',
    help: 'Defragments the hook started, by cluster and trigger (routine, nospace).',
    labelNames: ['cluster', 'trigger'] as const,
    registers: [this.registry],
  })

  readonly defragReclaimedBytes = new Counter({
    name: 'etcd_operator_defrag_reclaimed_bytes_total',
    help: 'Bytes the finished defragments gave back (db size before minus after), by cluster.',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  })

  readonly noSpaceEvents = new Counter({
    name: 'etcd_operator_nospace_events_total',
    help: 'Times the hook found etcd\'s NOSPACE alarm raised (one per recovery), by cluster.',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  })

  private readonly phases = new Map<string, { phase: string, seen: number }>()

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
    collectDefaultMetrics({ register: this.registry })
  }

  // What one sync's status says of maintenance, against the status before.
  recordMaintenance (cluster: string, before: MaintenanceStatus | undefined, after: MaintenanceStatus | undefined, defragStarted: 'routine' | 'nospace' | undefined): void {
    if (defragStarted !== undefined) this.defragRuns.inc({ cluster, trigger: defragStarted })
    const finished = after?.lastDefrag
    if (finished !== undefined && finished.finished !== before?.lastDefrag?.finished) this.defragReclaimedBytes.inc({ cluster }, finished.reclaimedBytes)
    if (after?.noSpace !== undefined && before?.noSpace === undefined) this.noSpaceEvents.inc({ cluster })
  }

  recordPhase (cluster: string, phase: string): void {
    this.phases.set(cluster, { phase, seen: this.clock() })
  }
}
