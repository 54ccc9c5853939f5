// One sync of an EtcdCluster, from request to answer: read the request,
// observe etcd (read-only), plan (pure), carry out the plan's single
// membership write. etcd is reached only through the MembershipClient the
// server hands in; nothing here knows HTTP.
import type { SyncRequest, SyncResponse } from '../api/cluster.js'
import { EtcdError } from '../etcd/errors.js'
import type { MembershipAction, MembershipClient, Observation } from '../etcd/types.js'
import { DEFAULT_SETTINGS, type HookSettings } from './model.js'
import { readCluster } from './observe/cluster.js'
import { operatorCredentials } from './observe/credentials.js'
import { planCluster, type Plan } from './plan.js'
import { clientURL } from './names.js'
import { observeTarget } from './targets.js'

// Every etcd call of a sync ends within this budget, well inside
// Metacontroller's default hook timeout of 10 s: a sync that outlived it
// would be called again while its own write might still land.
export const SYNC_BUDGET_MS = 8000
// A write is sent only with this much of the budget left (one request);
// with less, the sync answers as for a failed write and the next one tries.
export const MIN_WRITE_MS = 1000

export interface SyncTiming {
  budgetMs: number
  clock: () => number // epoch ms
}

export interface ClusterSync {
  response: SyncResponse
  plan: Plan
  // etcd was there to ask (pods exist) and did not answer.
  observeFailed: boolean
  // The plan's write, when it had one.
  // unknown: sent, never answered (it may still be applied).
  write?: { action: MembershipAction, done: true } | { action: MembershipAction, done: false, refused: boolean, unknown: boolean, error: string }
}

// `now` is read once etcd has answered: the plan's time is the answer's.
export async function syncCluster (request: SyncRequest, etcd: MembershipClient, now: () => Date, timing: SyncTiming = { budgetMs: SYNC_BUDGET_MS, clock: Date.now }, settings: HookSettings = DEFAULT_SETTINGS): Promise<ClusterSync> {
  const deadline = timing.clock() + timing.budgetMs
  // The client certificate for members with client TLS, from `related`.
  const credentials = operatorCredentials(request)
  const tls = credentials.kind === 'ready' ? credentials.tls : undefined
  const cluster = readCluster(request, settings)
  const target = { ...observeTarget(cluster), tls }
  const observation: Observation = credentials.kind === 'problem'
    ? { reachable: false, error: credentials.message }
    : target.endpoints.length === 0
      ? { reachable: false, error: 'no member pods' }
      : await etcd.observe(target, deadline, observeExtras(cluster))
  const plan = planCluster(cluster, observation, now())
  const observeFailed = !observation.reachable && target.endpoints.length > 0
  if (plan.action === undefined) return { response: plan.response, plan, observeFailed }

  const action = { ...plan.action, target: { ...plan.action.target, tls } }
  try {
    if (deadline - timing.clock() < MIN_WRITE_MS) throw new Error(`not sent: less than ${MIN_WRITE_MS} ms left of this sync's ${timing.budgetMs} ms`)
    await etcd.execute(action, deadline)
    return { response: plan.response, plan, observeFailed, write: { action: plan.action, done: true } }
  } catch (error) {
    // etcd said no (a learner not caught up yet) or did not answer: the
    // plan for that case adds and removes nothing; try again soon.
    return {
      response: plan.responseIfActionFails,
      plan,
      observeFailed,
      write: {
        action: plan.action,
        done: false,
        refused: error instanceof EtcdError && error.code === 'Refused',
        unknown: error instanceof EtcdError && error.code === 'Unknown',
        error: String(error instanceof Error ? error.message : error),
      },
    }
  }
}

// A defrag an earlier sync started: probe that member's backend to see
// whether it still runs (no probe, no extra call, otherwise).
function observeExtras (cluster: ReturnType<typeof readCluster>): { probeBackend?: string[] } {
  const member = cluster.previous.maintenance?.defragmenting?.member
  return member === undefined ? {} : { probeBackend: [clientURL(cluster, member)] }
}
