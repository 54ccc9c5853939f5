// What the end-to-end test files share: one World per file, scenarios
// selected by E2E_ONLY, each on a fresh EtcdCluster with the contract
// checks after it, convergence times, and the assertions' helpers (the
// writer's acknowledged writes on every member, windows in which nothing
// may happen, what the hook did).
import t, { type Test } from 'tap'
import { World, Cluster, Writer, sleep, waitFor, type MembershipMonitor, type StaticTLS } from './world.js'
import { missingPrereq, skipBanner, REQUIRE_ALL } from './prereqs.js'
import type { SyncRecord } from './metacontroller.js'

export const VERSION = '3.4.23'
export const IMAGE = (v: string): string => `quay.io/coreos/etcd:v${v}`

export type ScenarioBody = (t: Test, c: Cluster) => Promise<void>

export class Suite {
  readonly only = (process.env.E2E_ONLY ?? '').split(',').filter(Boolean)
  readonly convergence: Array<[string, number]> = []

  private constructor (readonly world: World) {}

  // The World for `file`, torn down with the file's tap run; undefined
  // (after a loud skip, or a failure under ETCD_OPERATOR_REQUIRE_ALL=1) when
  // this machine cannot run real etcd in network namespaces.
  static async start (file: string): Promise<Suite | undefined> {
    const missing = missingPrereq({ hook: true })
    if (missing) {
      if (REQUIRE_ALL) t.fail(`end-to-end scenarios cannot run: ${missing}`)
      else {
        console.error(skipBanner(file, missing))
        t.comment(skipBanner(file, missing))
        t.test('end-to-end scenarios', { skip: missing }, async () => {})
      }
      return undefined
    }
    const world = await World.start({ hook: true, log: s => (process.env.E2E_VERBOSE ? console.error(s) : undefined) })
    const suite = new Suite(world)
    t.teardown(async () => {
      await world.destroy()
      if (suite.convergence.length) t.comment('convergence times (s): ' + suite.convergence.map(([k, v]) => `${k}=${v}`).join(', '))
      t.comment(`end-to-end suite took ${((Date.now() - world.startedAt) / 1000).toFixed(0)} s`)
    })
    return suite
  }

  // One scenario: a fresh cluster, the body, the contract checks, the
  // cluster's removal, and on failure everything describe() knows.
  // With `tls`, the scenario's certificates and Secrets are made first and
  // the cluster gets spec.TLS.static (see World.staticTLS).
  // `tls` may also make the certificates itself (certmanager.test.ts).
  scenario (name: string, title: string, body: ScenarioBody, spec: Record<string, unknown> = {}, opts: { tls?: boolean | ((name: string) => Promise<StaticTLS>) } = {}): void {
    if (this.only.length && !this.only.includes(name)) return
    const world = this.world
    t.test(title, async t => {
      const crashesBefore = world.hook!.crashes
      const tls = typeof opts.tls === 'function' ? await opts.tls(name) : opts.tls === true ? await world.staticTLS(name) : undefined
      const c = await world.createCluster(name, { size: 3, version: VERSION, ...spec, ...(tls ? { TLS: tls.spec } : {}) }, { tls })
      try {
        await body(t, c)
      } catch (e) {
        t.fail(String(e instanceof Error ? e.message : e))
      } finally {
        t.same(c.mc.rejectedUpdates, [], 'the hook never asked for a pod change the API server refuses')
        t.same(c.mc.violations, [], 'every response kept the Metacontroller contract')
        t.equal(world.hook!.crashes - crashesBefore, 0, 'the hook server never crashed')
        if (!t.passing()) t.comment(`diagnostics for ${name}:\n${c.describe()}`)
        await c.delete()
      }
    })
  }

  converged (t: Test, what: string, s: number): void {
    this.convergence.push([what, s])
    t.comment(`convergence ${what}: ${s} s`)
  }
}

export const memberIds = async (c: Cluster): Promise<Map<string, string>> => new Map(((await c.members())?.members ?? []).map(m => [m.name, m.id]))
export const syncsSince = (c: Cluster, ms: number): SyncRecord[] => c.mc.records.filter(r => r.atMs >= ms)
export const podDeletesSince = (c: Cluster, ms: number): string[] => syncsSince(c, ms).flatMap(r => r.deletes).filter(d => d.startsWith('Pod.v1/')).map(d => d.slice('Pod.v1/'.length))
export const podCreatesSince = (c: Cluster, ms: number): string[] => syncsSince(c, ms).flatMap(r => r.creates).filter(d => d.startsWith('Pod.v1/')).map(d => d.slice('Pod.v1/'.length))
// status.lastAction as it changed, sync after sync.
export const actionsSince = (c: Cluster, ms: number): string[] => syncsSince(c, ms).map(r => r.status?.lastAction as string | undefined).filter((a, i, all): a is string => !!a && a !== all[i - 1])
export const writerSummary = (w: Writer): string => `${w.acked.length} acknowledged, ${w.failures} failed${w.failures ? `, last: ${w.lastError}` : ''}; longest gap ${(w.maxAckGapMs / 1000).toFixed(1)} s`

// The writer's first writes acknowledged: writes are going on when the
// change that follows starts.
export const writing = (c: Cluster, writer: Writer): Promise<boolean> => c.waitFor(() => writer.acked.length >= 5, {
  timeoutMs: 30_000,
  what: 'the writer\'s first five acknowledged writes',
  describe: () => `writer: ${writerSummary(writer)}\n${c.describe()}`,
})

// A window in which something must not happen: `windowMs` from `sinceMs`,
// then `syncs` more syncs that the hook answered, so that it has seen the
// world again after the window however slow the machine is.
export const quietWindow = async (c: Cluster, what: string, sinceMs: number, windowMs: number, syncs: number): Promise<void> => {
  await sleep(Math.max(0, sinceMs + windowMs - Date.now()))
  let answered = 0
  await c.waitFor(async () => !(await c.mc.nextSync()).error && ++answered >= syncs, { timeoutMs: 90_000, what: `${syncs} answered syncs ${what}` })
}

// A value from every member's own store (serializable reads), retried
// briefly: a member may apply the last entries a moment later.
export const expectEverywhere = async (t: Test, c: Cluster, key: string, value: string): Promise<void> => {
  for (const p of c.livePods()) {
    const name = p.metadata.name
    const got = await c.world.etcdctlOk([...c.etcdctlTLS(), 'get', key, '--print-value-only', '--consistency=s'], {
      endpoints: `${c.scheme}://${name}.${c.name}.default.svc:2379`,
      timeoutMs: 15_000,
      what: `${key} on ${name}`,
    })
    t.equal(got.trim(), value, `${key} read back from ${name}`)
  }
}

// Every write the writer saw acknowledged, on every member's own store.
export const expectAcked = async (t: Test, c: Cluster, writer: Writer, prefix: string): Promise<void> => {
  for (const [pod, kvs] of await waitFor(
    async () => {
      const all = await c.readEveryMember(prefix)
      return [...all.values()].every(kv => writer.acked.every(k => kv.has(k))) ? all : undefined
    },
    { timeoutMs: 15_000, what: 'every acknowledged write on every member', describe: () => c.describe() },
  ).catch(async () => c.readEveryMember(prefix))) {
    const lost = writer.acked.filter(k => !kvs.has(k))
    t.same(lost, [], `${pod} has all ${writer.acked.length} acknowledged writes`)
  }
}

// The pod a member label from the membership monitor names: "x-3", or
// "(unstarted http://x-3.x.default.svc:2380)".
export const memberPod = (label: string): string => label.startsWith('(unstarted ') ? (/\/\/([^.]+)\./.exec(label)?.[1] ?? label) : label

// Members (by pod) that were in etcd's member list at some point since
// `sinceMs` and missing from it later: removed (and maybe added again).
export const flapped = (monitor: MembershipMonitor, sinceMs: number): string[] => {
  const entries = monitor.timeline.filter((e, i, all) => e.atMs >= sinceMs || all[i + 1] === undefined || all[i + 1]!.atMs >= sinceMs)
  const out = new Set<string>()
  entries.forEach((e, i) => {
    const now = new Set([...e.voters, ...e.learners].map(memberPod))
    for (const later of entries.slice(i + 1)) {
      const then = new Set([...later.voters, ...later.learners].map(memberPod))
      for (const m of now) if (!then.has(m)) out.add(m)
    }
  })
  return [...out]
}
