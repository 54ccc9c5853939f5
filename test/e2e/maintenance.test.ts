// End to end, issue 15 (day-2 maintenance), on real etcd 3.4.23:
// - nospace: a 3-member cluster with a 16 MiB quota, overwritten until
//   etcd raises NOSPACE; the hook alone compacts, defragments every member
//   (the leader last, after moving leadership away) and disarms: writes
//   succeed again, the alarm list is empty, every acknowledged value is
//   there, and a leader (a serving quorum) existed throughout.
// - fragmented: most keys deleted and compacted leave a fragmented db; the
//   threshold triggers exactly one defrag per member, each db shrinks to
//   half or less, and a writer keeps writing meanwhile.
// E2E_ONLY=nospace,fragmented runs a subset (see test/e2e/README.md).
import { type Cluster, sleep } from './harness/world.js'
import { etcdPost, put, rangePrefix } from './harness/etcd.js'
import { Suite, expectAcked, writing, writerSummary } from './harness/scenario.js'

const MiB = 1024 * 1024
const QUOTA = '16Mi'

const suite = await Suite.start('maintenance.test.ts')
if (suite) {
  const world = suite.world
  const scenario = suite.scenario.bind(suite)

  const hookLines = (c: Cluster, ms: number) => world.hook!.logEntries(ms).filter(e => e.cluster === `default/${c.name}`)
  // The maintenance writes the hook made since `ms`, in order, with when.
  const maintenanceCalls = (c: Cluster, ms: number) => hookLines(c, ms)
    .filter(e => ['compact', 'defragment', 'disarmAlarm', 'transferLeadership'].includes(String(e.action)) && !String(e.msg).includes('failed'))
    .map(e => ({ action: String(e.action), pod: String(e.pod), rule: String(e.rule), atMs: Number(e.time) }))
  const podIPs = (c: Cluster) => c.livePods().map(p => ({ name: p.metadata.name, ip: String(p.status?.podIP ?? '') }))
  const alarms = async (c: Cluster): Promise<unknown[]> => {
    for (const { ip } of podIPs(c)) {
      try {
        return ((await etcdPost(world.network, ip, '/v3/maintenance/alarm', { action: 'GET' }, 2000)) as { alarms?: unknown[] }).alarms ?? []
      } catch { /* the next member */ }
    }
    throw new Error('no member answered the alarm list')
  }
  const dbSizes = async (c: Cluster): Promise<Map<string, number>> => new Map(await Promise.all(podIPs(c).map(async ({ name, ip }) => {
    const status = await etcdPost(world.network, ip, '/v3/maintenance/status', {}, 2000) as { dbSize?: string }
    return [name, Number(status.dbSize ?? 0)] as const
  })))
  const conditionReasons = (c: Cluster, ms: number) => [...new Set(c.mc.records.filter(r => r.atMs >= ms)
    .map(r => (r.status?.conditions as Array<{ type: string, status: string, reason: string }> | undefined)?.find(x => x.type === 'NoSpace'))
    .filter(x => x?.status === 'True').map(x => x?.reason))]

  scenario('nospace', 'M1. NOSPACE with a 16 MiB quota: compacted, defragmented one member at a time (leader last), disarmed, alone', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const leaders = c.leaderMonitor()
    // 16 keys overwritten with 256 KiB values: the live data stays small
    // (4 MiB), history fills the quota.
    const last = new Map<string, string>()
    const value = (i: number) => `${String(i).padStart(8, '0')}${'v'.repeat(256 * 1024)}`
    let refusal = ''
    const tFill = Date.now()
    try {
      for (let i = 0; i < 400 && refusal === ''; i++) {
        const key = `fill/${String(i % 16).padStart(2, '0')}`
        try {
          await put(world.network, c.clientIP!, key, value(i), 5000)
          last.set(key, value(i))
        } catch (e) {
          refusal = String(e instanceof Error ? e.message : e)
        }
      }
      t.match(refusal, /database space exceeded/, `writes refused with NOSPACE after ${((Date.now() - tFill) / 1000).toFixed(1)} s`)
      const tAlarm = Date.now()
      // The hook alone: a write through the client Service succeeds again.
      await c.waitFor(async () => {
        try {
          await put(world.network, c.clientIP!, 'after/nospace', 'ok', 2000)
          return true
        } catch {
          return false
        }
      }, { timeoutMs: 180_000, what: 'a write through the client Service to succeed again' })
      suite.converged(t, 'nospace-recovered', Math.round((Date.now() - tAlarm) / 100) / 10)
      await c.waitSteady({ timeoutMs: 120_000 })
    } finally {
      await leaders.stop()
    }
    t.same(await alarms(c), [], 'the alarm list is empty')
    for (const { name, ip } of podIPs(c)) {
      const kvs = await rangePrefix(world.network, ip, 'fill/', { serializable: true })
      t.ok([...last].every(([k, v]) => kvs.get(k) === v), `${name} has the last acknowledged value of each of ${last.size} keys`)
    }
    const calls = maintenanceCalls(c, tFill)
    t.comment(`what the hook did: ${calls.map(x => `${x.action} ${x.pod} (${x.rule})`).join(' | ')}`)
    t.ok(calls.some(x => x.action === 'compact'), 'compacted')
    const defrags = calls.filter(x => x.action === 'defragment' && x.rule === 'defragForNoSpace')
    t.same([...new Set(defrags.map(x => x.pod))].sort(), c.livePods().map(p => p.metadata.name).sort(), 'every member defragmented')
    for (const d of defrags) t.not(leaders.leaderAt(d.atMs), d.pod, `${d.pod} did not lead when it was defragmented`)
    t.ok(calls.findIndex(x => x.action === 'transferLeadership') < calls.findIndex(x => x.action === 'defragment' && x.pod === calls.find(y => y.action === 'transferLeadership')?.pod), 'leadership moved away before its member was defragmented')
    t.ok(calls.some(x => x.action === 'disarmAlarm'), 'disarmed')
    t.ok(leaders.maxGapMs < 5000, `a leader throughout: longest stretch without one ${leaders.maxGapMs} ms`)
    t.comment(`leaders over time: ${leaders.timeline.map(e => `+${((e.atMs - tFill) / 1000).toFixed(1)}s ${e.leader ?? 'none'}`).join(' > ')}`)
    const reasons = conditionReasons(c, tFill)
    t.ok(['Compacting', 'Defragmenting', 'Disarming'].every(r => reasons.includes(r)), `NoSpace condition per step: ${reasons.join(', ')}`)
    t.equal(c.condition('NoSpace')?.status, 'False', `NoSpace is False at the end (${c.condition('NoSpace')?.reason})`)
    t.equal(c.status.maintenance?.noSpace, undefined, 'no recovery recorded any more')
  }, { quotaBackendBytes: QUOTA, autoCompaction: { mode: 'periodic', retention: '1h' } })

  scenario('fragmented', 'M2. deletes leave a fragmented db: one defrag per member, each db half or less, writes go on', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    // 64 keys of 128 KiB, then 60 deleted and compacted: ~7.5 MiB free.
    let revision = ''
    for (let i = 0; i < 64; i++) revision = await put(world.network, c.clientIP!, `frag/${String(i).padStart(2, '0')}`, 'f'.repeat(128 * 1024), 5000)
    const before = await dbSizes(c)
    // 8 MiB of values; the backend file grows in steps, so it may be a
    // little under that when measured (7.3 MiB seen in CI).
    t.ok([...before.values()].every(s => s >= 6 * MiB), `dbs before: ${[...before].map(([k, v]) => `${k}=${(v / MiB).toFixed(1)}MiB`).join(', ')}`)
    const writer = c.writer('fw/').start()
    let tDelete = 0
    try {
      await writing(c, writer)
      tDelete = Date.now()
      for (let i = 0; i < 60; i++) revision = (await etcdPost(world.network, c.clientIP!, '/v3/kv/deleterange', { key: Buffer.from(`frag/${String(i).padStart(2, '0')}`).toString('base64') }, 5000) as { header: { revision: string } }).header.revision
      // What auto-compaction would do; the db keeps its size until defragmented.
      await etcdPost(world.network, c.clientIP!, '/v3/kv/compaction', { revision, physical: true }, 10_000)
      await c.waitFor(() => (c.status.maintenance?.lastDefrag !== undefined && c.status.maintenance.defragmenting === undefined && maintenanceCalls(c, tDelete).filter(x => x.action === 'defragment').length >= 3) || undefined, { timeoutMs: 120_000, what: 'a defrag of every member' })
      await sleep(3000)
      await c.waitSteady({ timeoutMs: 60_000 })
    } finally {
      await writer.stop()
    }
    const after = await dbSizes(c)
    for (const [pod, size] of after) t.ok(size * 2 <= (before.get(pod) ?? 0), `${pod}: ${((before.get(pod) ?? 0) / MiB).toFixed(1)} MiB -> ${(size / MiB).toFixed(1)} MiB`)
    const calls = maintenanceCalls(c, tDelete)
    t.comment(`what the hook did: ${calls.map(x => `${x.action} ${x.pod}`).join(' | ')}`)
    const defrags = calls.filter(x => x.action === 'defragment').map(x => x.pod)
    t.same([...defrags].sort(), c.livePods().map(p => p.metadata.name).sort(), 'exactly one defrag per member')
    t.ok(writer.acked.length >= 20 && writer.failures <= 3, `writes went on: ${writerSummary(writer)}`)
    await expectAcked(t, c, writer, 'fw/')
    t.ok((c.status.maintenance?.lastDefrag?.reclaimedBytes ?? 0) > MiB, `status: last defrag reclaimed ${c.status.maintenance?.lastDefrag?.reclaimedBytes} bytes`)
  }, { quotaBackendBytes: '64Mi' })
}
