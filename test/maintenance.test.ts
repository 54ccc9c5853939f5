// Issue 15: day-2 maintenance as decision rows. Which member is
// defragmented next in each situation, the situations in which nothing
// is, the NOSPACE recovery step by step, the spec's checks and flags, and
// what the status and the metrics say.
import t from 'tap'
import type { ClusterSpec, ClusterStatus } from '../hooks/api/cluster.js'
import type { KubeObject } from '../hooks/api/kube.js'
import { maintenanceProblems, parseBytes } from '../hooks/api/maintenance.js'
import { problemsOf } from '../hooks/api/validate.js'
import { plan } from '../hooks/cluster/plan.js'
import type { EtcdAlarm, Observation } from '../hooks/etcd/types.js'
import { HookMetrics } from '../hooks/server/metrics.js'
import { NAME, NOW, members, memberId, reachable, syncRequest, type PodFixture, type RequestFixture } from './helpers/fixtures.js'
import { child, etcdContainer } from './helpers/inspect.js'

const MiB = 1024 * 1024
const QUOTA = 16 * MiB
type Space = Record<number, [number, number]> // ordinal -> [dbSize, dbSizeInUse]

// Three answering members; member `leader` leads; sizes per ordinal.
function observed (space: Space, options: { leader?: number, ordinals?: number[], alarms?: EtcdAlarm[], busy?: number[], revision?: string, answering?: number[] } = {}): Observation {
  const ordinals = options.ordinals ?? [0, 1, 2]
  const base = reachable(members(...ordinals), options.leader ?? 0) as Extract<Observation, { reachable: true }>
  return {
    ...base,
    answering: (options.answering ?? ordinals).map(memberId),
    space: Object.fromEntries(Object.entries(space).map(([o, [dbSize, dbSizeInUse]]) => [memberId(Number(o)), { dbSize, dbSizeInUse }])),
    revision: options.revision ?? '4242',
    ...(options.alarms !== undefined ? { alarms: options.alarms } : {}),
    ...(options.busy !== undefined ? { backendBusy: options.busy.map(memberId) } : {}),
  }
}

const SPEC: Partial<ClusterSpec> = { quotaBackendBytes: '16Mi' }
const ready = (...ordinals: number[]): PodFixture[] => ordinals.map(ordinal => ({ ordinal }))
const request = (fixture: RequestFixture = {}) => syncRequest({ pods: ready(0, 1, 2), ...fixture, spec: { ...SPEC, ...fixture.spec } })
// Member 1 fragmented (10 of 12 MiB free), the others compact.
const FRAGMENTED_1: Space = { 0: [4 * MiB, 4 * MiB], 1: [12 * MiB, 2 * MiB], 2: [4 * MiB, 4 * MiB] }
// Every member fragmented.
const ALL_FRAGMENTED: Space = { 0: [12 * MiB, 2 * MiB], 1: [12 * MiB, 2 * MiB], 2: [12 * MiB, 2 * MiB] }
const nospace: EtcdAlarm[] = [{ memberId: memberId(0), alarm: 'NOSPACE' }]

const backupJob = (outcome: 'running' | 'succeeded'): KubeObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: `${NAME}-backup-1`, namespace: 'default', creationTimestamp: '2026-11-26T09:59:00Z', labels: { 'app': 'etcd', 'etcd_cluster': NAME, 'app.kubernetes.io/component': 'backup' } },
  status: { startTime: '2026-11-26T09:59:00Z', ...(outcome === 'succeeded' ? { completionTime: '2026-11-26T09:59:30Z', conditions: [{ type: 'Complete', status: 'True' }] } : {}) },
})

t.test('routine defrag: which member is next', async t => {
  const rows: Array<{ why: string, fixture?: RequestFixture, obs: Observation, rule: string, pod?: string, kind?: string }> = [
    { why: 'the fragmented follower', obs: observed(FRAGMENTED_1), rule: 'defragMember', pod: `${NAME}-1`, kind: 'defragment' },
    { why: 'followers first, lowest ordinal first (member 0 leads)', obs: observed(ALL_FRAGMENTED), rule: 'defragMember', pod: `${NAME}-1`, kind: 'defragment' },
    { why: 'leader 1: member 0 goes first', obs: observed(ALL_FRAGMENTED, { leader: 1 }), rule: 'defragMember', pod: `${NAME}-0`, kind: 'defragment' },
    { why: 'only the leader left fragmented: leadership moves away first', obs: observed({ ...FRAGMENTED_1 }, { leader: 1 }), rule: 'transferLeadershipBeforeDefrag', pod: `${NAME}-1`, kind: 'transferLeadership' },
    { why: 'near the quota with space to reclaim (14 of 16 MiB, 2 MiB free)', obs: observed({ 0: [4 * MiB, 4 * MiB], 1: [4 * MiB, 4 * MiB], 2: [14 * MiB, 12 * MiB] }), rule: 'defragMember', pod: `${NAME}-2` },
    { why: 'a single member defragments itself (nobody to hand leadership to)', fixture: { spec: { size: 1 }, pods: ready(0) }, obs: observed({ 0: [12 * MiB, 2 * MiB] }, { ordinals: [0] }), rule: 'defragMember', pod: `${NAME}-0` },
    { why: 'inside the schedule window (fired 09:30, window 60 min)', fixture: { spec: { defrag: { schedule: '30 9 * * *' } } }, obs: observed(FRAGMENTED_1), rule: 'defragMember', pod: `${NAME}-1` },
    { why: 'a finished backup Job does not hold it back', fixture: { pods: ready(0, 1, 2) }, obs: observed(FRAGMENTED_1), rule: 'defragMember', pod: `${NAME}-1` },
  ]
  for (const row of rows) {
    const result = plan(request(row.fixture), row.obs, NOW)
    t.equal(result.rule, row.rule, `${row.why}: ${row.rule}`)
    if (row.pod !== undefined) t.equal(result.action?.pod, row.pod, `${row.why}: ${row.pod}`)
    if (row.kind !== undefined) t.equal(result.action?.kind, row.kind)
    if (result.action?.kind === 'defragment') {
      t.same(result.action.target.endpoints, [`http://${row.pod ?? ''}.${NAME}.default.svc:2379`], 'sent to that member only')
      t.equal(result.response.status.maintenance?.defragmenting?.member, row.pod, 'status records the member being defragmented')
      t.equal(result.response.status.maintenance?.defragmenting?.since, NOW.toISOString(), '... and since when')
      t.equal(result.responseIfActionFails.status.maintenance?.defragmenting, undefined, 'a defrag that could not be sent is not recorded')
    }
  }
})

t.test('routine defrag: the situations in which nothing happens', async t => {
  const job = syncRequest({ pods: ready(0, 1, 2), spec: SPEC })
  job.related = { 'Job.batch/v1': { [`${NAME}-backup-1`]: backupJob('running') } }
  const rows: Array<{ why: string, req: ReturnType<typeof syncRequest>, obs: Observation, rule: string }> = [
    { why: 'nothing fragmented', req: request(), obs: observed({ 0: [4 * MiB, 4 * MiB], 1: [4 * MiB, 3.5 * MiB], 2: [4 * MiB, 4 * MiB] }), rule: 'steady' },
    { why: 'fragmented, but less than 1 MiB to reclaim', req: request(), obs: observed({ 0: [1.5 * MiB, 0.7 * MiB], 1: [20480, 8192], 2: [20480, 16384] }), rule: 'steady' },
    { why: 'near the quota, nothing to reclaim (defrag would not help)', req: request(), obs: observed({ 0: [15 * MiB, 15 * MiB], 1: [15 * MiB, 15 * MiB], 2: [15 * MiB, 15 * MiB] }), rule: 'steady' },
    { why: 'defrag disabled', req: request({ spec: { defrag: { enabled: false } } }), obs: observed(ALL_FRAGMENTED), rule: 'steady' },
    { why: 'a learner present (a membership change)', req: request({ pods: ready(0, 1, 2, 3), spec: { size: 4 } }), obs: observed(ALL_FRAGMENTED, { ordinals: [0, 1, 2, 3] }), rule: 'promoteLearner' },
    { why: 'an upgrade running (member 2 on the old image)', req: request({ spec: { version: '3.5.33' }, pods: [{ ordinal: 0 }, { ordinal: 1 }, { ordinal: 2, image: 'quay.io/coreos/etcd:v3.5.21' }] }), obs: observed(ALL_FRAGMENTED), rule: 'upgradeMember' },
    { why: 'a member down (its pod unready)', req: request({ pods: [{ ordinal: 0 }, { ordinal: 1 }, { ordinal: 2, state: 'unready' }] }), obs: observed(ALL_FRAGMENTED), rule: 'waitForHealthy' },
    { why: 'a member that does not answer its status', req: request(), obs: observed(ALL_FRAGMENTED, { answering: [0, 1] }), rule: 'steady' },
    { why: 'a backup Job running', req: job, obs: observed(ALL_FRAGMENTED), rule: 'steady' },
    { why: 'outside the schedule window (fires 03:00, now 10:00)', req: request({ spec: { defrag: { schedule: '0 3 * * *' } } }), obs: observed(ALL_FRAGMENTED), rule: 'steady' },
    { why: 'too few members: growing comes first', req: request({ spec: { size: 5 } }), obs: observed(ALL_FRAGMENTED), rule: 'addMember' },
  ]
  // The learner row: member 3 is a learner.
  const learnerObs = rows[4]!.obs as Extract<Observation, { reachable: true }>
  learnerObs.members = members(0, 1, 2, { ordinal: 3, learner: true })
  for (const row of rows) {
    const result = plan(row.req, row.obs, NOW)
    t.not(result.action?.kind, 'defragment', `${row.why}: no defrag`)
    t.equal(result.rule, row.rule, `${row.why}: ${row.rule}`)
  }
})

t.test('a defrag under way: nothing else starts until that member is back; then the next, and the status says what it reclaimed', async t => {
  const started = plan(request(), observed(ALL_FRAGMENTED), NOW)
  t.equal(started.action?.pod, `${NAME}-1`)
  const status = started.response.status
  // The member's backend does not answer (defrag holds it).
  const busy = plan(request({ status }), observed(ALL_FRAGMENTED, { busy: [1] }), NOW)
  t.equal(busy.rule, 'waitForDefrag')
  t.equal(busy.action, undefined)
  t.match(busy.response.status.reason, /defragment of example-1/)
  t.same(busy.response.status.maintenance?.defragmenting, status.maintenance?.defragmenting, 'the record stays')
  // The member does not answer its status at all.
  const silent = plan(request({ status }), observed(ALL_FRAGMENTED, { answering: [0, 2] }), NOW)
  t.equal(silent.rule, 'waitForDefrag')
  // Done: member 1 shrank; member 2 is next, and the status has the result.
  const later = new Date(NOW.getTime() + 4000)
  const done = plan(request({ status }), observed({ ...ALL_FRAGMENTED, 1: [2 * MiB, 2 * MiB] }), later)
  t.equal(done.action?.pod, `${NAME}-2`)
  t.same(done.response.status.maintenance?.lastDefrag, { member: `${NAME}-1`, finished: later.toISOString(), reclaimedBytes: 10 * MiB })
  t.equal(done.response.status.maintenance?.defragmenting?.member, `${NAME}-2`)
  // Then the leader: leadership first, then it.
  const two = plan(request({ status: done.response.status }), observed({ ...ALL_FRAGMENTED, 1: [2 * MiB, 2 * MiB], 2: [2 * MiB, 2 * MiB] }), later)
  t.equal(two.rule, 'transferLeadershipBeforeDefrag')
  t.equal(two.action?.kind === 'transferLeadership' ? two.action.toPod : '', `${NAME}-1`, 'to the lowest-ordinal other member')
  const last = plan(request({ status: two.response.status }), observed({ 0: [12 * MiB, 2 * MiB], 1: [2 * MiB, 2 * MiB], 2: [2 * MiB, 2 * MiB] }, { leader: 1 }), later)
  t.equal(last.action?.pod, `${NAME}-0`)
  const steady = plan(request({ status: last.response.status }), observed({ 0: [2 * MiB, 2 * MiB], 1: [2 * MiB, 2 * MiB], 2: [2 * MiB, 2 * MiB] }, { leader: 1 }), later)
  t.equal(steady.rule, 'steady')
  t.equal(steady.response.status.maintenance?.defragmenting, undefined)
  t.equal(steady.response.status.maintenance?.lastDefrag?.reclaimedBytes, 10 * MiB)
  const again = plan(request({ status: steady.response.status }), observed({ 0: [2 * MiB, 2 * MiB], 1: [2 * MiB, 2 * MiB], 2: [2 * MiB, 2 * MiB] }, { leader: 1 }), later)
  t.same(again.response.status, steady.response.status, 'an unchanged world gives an unchanged status')
})

t.test('NOSPACE: compact, defrag each member (leader last), disarm; a condition per step', async t => {
  const full: Space = { 0: [16 * MiB, 6 * MiB], 1: [16 * MiB, 6 * MiB], 2: [16 * MiB, 6 * MiB] }
  // etcd 3.4's /health fails under NOSPACE: every pod unready.
  const unready = [0, 1, 2].map(ordinal => ({ ordinal, state: 'unready' as const }))
  const at = (status: ClusterStatus | undefined, obs: Observation) => plan(request({ pods: unready, ...(status !== undefined ? { status } : {}) }), obs, NOW)
  const noSpaceCondition = (s: ClusterStatus) => s.conditions?.find(c => c.type === 'NoSpace')

  const compact = at(undefined, observed(full, { alarms: nospace }))
  t.equal(compact.rule, 'compactForNoSpace')
  t.same(compact.action?.kind === 'compact' ? compact.action.revision : '', '4242', 'to the current revision')
  t.match(noSpaceCondition(compact.response.status), { status: 'True', reason: 'Compacting' })
  t.same(compact.response.status.maintenance?.alarms, [{ member: `${NAME}-0`, alarm: 'NOSPACE' }])
  const order: string[] = []
  let status = compact.response.status
  for (let i = 0; i < 6; i++) {
    const step = at(status, observed(full, { alarms: nospace }))
    order.push(`${step.rule}:${step.action?.pod ?? ''}`)
    t.match(noSpaceCondition(step.response.status), { status: 'True', reason: /Defragmenting|MovingLeadership/ })
    status = step.response.status
    // (Each defrag finished before the next sync: the probe answered.)
    if (step.rule === 'transferLeadershipBeforeDefrag') break
  }
  t.same(order, [`defragForNoSpace:${NAME}-1`, `defragForNoSpace:${NAME}-2`, `transferLeadershipBeforeDefrag:${NAME}-0`], 'followers first; leadership moves before the leader')
  // Leadership moved: member 1 leads now, member 0 is defragmented last.
  const leader = at(status, observed(full, { alarms: nospace, leader: 1 }))
  t.equal(leader.rule, 'defragForNoSpace')
  t.equal(leader.action?.pod, `${NAME}-0`)
  const disarm = at(leader.response.status, observed({ 0: [6 * MiB, 6 * MiB], 1: [6 * MiB, 6 * MiB], 2: [6 * MiB, 6 * MiB] }, { alarms: nospace, leader: 1 }))
  t.equal(disarm.rule, 'disarmNoSpace')
  t.same(disarm.action?.kind === 'disarmAlarm' ? [disarm.action.memberId, disarm.action.alarm] : [], [memberId(0), 'NOSPACE'])
  t.match(noSpaceCondition(disarm.response.status), { status: 'True', reason: 'Disarming' })
  // Disarmed: the condition turns False, the record goes.
  const after = plan(request({ status: disarm.response.status }), observed({ 0: [6 * MiB, 6 * MiB], 1: [6 * MiB, 6 * MiB], 2: [6 * MiB, 6 * MiB] }, { leader: 1 }), NOW)
  t.equal(after.rule, 'steady')
  t.match(noSpaceCondition(after.response.status), { status: 'False', reason: 'SpaceAvailable' })
  t.equal(after.response.status.maintenance?.noSpace, undefined)
  // Never a delete: no action of the recovery removes data or members.
  for (const step of [compact, leader, disarm]) t.notOk(['remove'].includes(step.action?.kind ?? ''), 'no removal')
})

t.test('NOSPACE: a compaction already made is not repeated; a new revision starts a new round; data that fills the quota asks for a larger one', async t => {
  const status: ClusterStatus = { maintenance: { noSpace: { since: NOW.toISOString(), compactedRevision: '4242', defragmented: [`${NAME}-1`, `${NAME}-2`, `${NAME}-0`] } } }
  const stillFull: Space = { 0: [16 * MiB, 15.8 * MiB], 1: [16 * MiB, 15.8 * MiB], 2: [16 * MiB, 15.8 * MiB] }
  const disarm = plan(request({ status }), observed(stillFull, { alarms: nospace }), NOW)
  t.equal(disarm.rule, 'disarmNoSpace', 'every member done: disarm, no second compaction')
  t.equal(disarm.response.resyncAfterSeconds, 30, 'no hurry: the alarm comes back at once')
  t.match(disarm.response.status.conditions?.find(c => c.type === 'NoSpace'), { status: 'True', reason: 'QuotaTooSmall', message: /raise spec\.quotaBackendBytes/ })
  const moved = plan(request({ status }), observed(stillFull, { alarms: nospace, revision: '4300' }), NOW)
  t.equal(moved.rule, 'compactForNoSpace', 'keys deleted since (revision moved): compact again')
  t.same(moved.response.status.maintenance?.noSpace?.defragmented, [])
})

t.test('NOSPACE: what holds the recovery back', async t => {
  const full: Space = { 0: [16 * MiB, 6 * MiB], 1: [16 * MiB, 6 * MiB], 2: [16 * MiB, 6 * MiB] }
  const job = request()
  job.related = { 'Job.batch/v1': { [`${NAME}-backup-1`]: backupJob('running') } }
  t.equal(plan(job, observed(full, { alarms: nospace }), NOW).rule, 'noSpaceWaiting', 'a backup Job running')
  t.not(plan(request(), observed(full, { alarms: nospace, answering: [0, 1] }), NOW).rule, 'compactForNoSpace', 'a member not answering')
  const learner = observed(full, { alarms: nospace, ordinals: [0, 1, 2, 3] }) as Extract<Observation, { reachable: true }>
  learner.members = members(0, 1, 2, { ordinal: 3, learner: true })
  t.notMatch(plan(request({ pods: ready(0, 1, 2, 3), spec: { size: 4 } }), learner, NOW).rule, /NoSpace/, 'a learner present')
  t.equal(plan(request({ status: { maintenance: { defragmenting: { member: `${NAME}-1`, since: NOW.toISOString(), dbSizeBefore: 1 } } } }), observed(full, { alarms: nospace, busy: [1] }), NOW).rule, 'waitForDefrag', 'a defrag still running')
  t.equal(plan(request(), observed(full, { alarms: [{ memberId: memberId(0), alarm: 'CORRUPT' }] }), NOW).rule, 'steady', 'another alarm is not NOSPACE')
  const off = plan(request({ spec: { defrag: { enabled: false } } }), observed(full, { alarms: nospace }), NOW)
  t.same([off.rule, off.action], ['steady', undefined], 'defrag.enabled false: the hook leaves NOSPACE to the user')
  t.match(off.response.status.conditions?.find(c => c.type === 'NoSpace'), { status: 'True', reason: 'Waiting' }, '... and still says so')
})

t.test('spec: quotaBackendBytes, autoCompaction and defrag are checked, naming the field', async t => {
  t.same(parseBytes('16Mi'), { bytes: 16 * MiB })
  t.same(parseBytes(8589934592), { bytes: 8 * 1024 * MiB })
  t.same(parseBytes('1.5Gi'), { bytes: 1.5 * 1024 * MiB })
  t.same(parseBytes('2G'), { bytes: 2e9 })
  t.match(parseBytes('lots'), { problem: /'lots' is not a quantity of bytes/ })
  t.match(parseBytes('0.5'), { problem: /whole number of bytes/ })
  t.match(maintenanceProblems({ quotaBackendBytes: '16MB' }), [/^spec\.quotaBackendBytes: '16MB' is not a quantity/])
  t.match(maintenanceProblems({ autoCompaction: { mode: 'periodic', retention: 'an hour' } }), [/^spec\.autoCompaction\.retention: 'an hour' is no duration/])
  t.match(maintenanceProblems({ autoCompaction: { mode: 'revision', retention: '1h' } }), [/^spec\.autoCompaction\.retention: '1h' is no revision count/])
  t.same(maintenanceProblems({ autoCompaction: { mode: 'periodic', retention: '1h30m' } }), [])
  t.same(maintenanceProblems({ autoCompaction: { mode: 'periodic', retention: '5' } }), [], 'whole hours')
  t.match(maintenanceProblems({ defrag: { schedule: '0 3 * *' } }), [/^spec\.defrag\.schedule: '0 3 \* \*' has 4 fields/])
  t.match(maintenanceProblems({ defrag: { schedule: '0 3 * * *', timeZone: 'Mars/Olympus' } }), [/^spec\.defrag\.timeZone: 'Mars\/Olympus' is not a time zone/])
  const clash = syncRequest({ spec: { quotaBackendBytes: '1Gi', pod: { etcdEnv: [{ name: 'ETCD_QUOTA_BACKEND_BYTES', value: '5' }] } } }).parent
  t.match(problemsOf(clash), [/spec\.pod\.etcdEnv\[0\]\.name: ETCD_QUOTA_BACKEND_BYTES repeats spec\.quotaBackendBytes/])
  t.same(problemsOf(syncRequest({ spec: { pod: { etcdEnv: [{ name: 'ETCD_QUOTA_BACKEND_BYTES', value: '5' }] } } }).parent), [], 'without the field, etcdEnv may still set it')
})

t.test('spec: the flags in a new member pod; a change rolls out by replacement like any pod policy change', async t => {
  const seed = plan(syncRequest({ spec: { size: 1, quotaBackendBytes: '16Mi', autoCompaction: { mode: 'periodic', retention: '1h' } } }), { reachable: false, error: 'none yet' }, NOW)
  const args = (etcdContainer(child(seed.response, 'Pod', `${NAME}-0`)) as unknown as { args: string[] }).args
  t.ok(args.includes(`--quota-backend-bytes=${16 * MiB}`))
  t.ok(args.includes('--auto-compaction-mode=periodic') && args.includes('--auto-compaction-retention=1h'))
  const plain = plan(syncRequest({ spec: { size: 1 } }), { reachable: false, error: 'none yet' }, NOW)
  t.notOk((etcdContainer(child(plain.response, 'Pod', `${NAME}-0`)) as unknown as { args: string[] }).args.some(a => a.startsWith('--quota') || a.startsWith('--auto-compaction')), 'unset: nothing rendered')
  // Pods made without a quota; the spec now sets one: replaced one by one.
  const running = syncRequest({ pods: ready(0, 1, 2) })
  const changed = syncRequest({ spec: { quotaBackendBytes: '4Gi' } })
  changed.children = running.children
  const rolled = plan(changed, observed(FRAGMENTED_1), NOW)
  t.equal(rolled.rule, 'replaceMember', 'a new member from the new spec first')
  t.same(rolled.response.status.members?.outdated, [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`])
  // Unset fields leave the pods of clusters made before this alone.
  const before = plan(syncRequest({ pods: ready(0, 1, 2), spec: { defrag: { enabled: false } } }), observed({}), NOW)
  t.equal(before.rule, 'steady', 'defrag settings are the hook\'s, not the pods\'')
})

t.test('status: per member size, in use, fragmentation and quota use; the largest quota use; nothing without the numbers', async t => {
  const result = plan(request({ spec: { defrag: { enabled: false } } }), observed({ 0: [4 * MiB, 3 * MiB], 1: [8 * MiB, 2 * MiB], 2: [12 * MiB, 12 * MiB] }), NOW)
  t.same(result.response.status.maintenance?.members, [
    { name: `${NAME}-0`, dbSize: 4 * MiB, dbSizeInUse: 3 * MiB, fragmentation: 0.25, quotaUsage: 0.25 },
    { name: `${NAME}-1`, dbSize: 8 * MiB, dbSizeInUse: 2 * MiB, fragmentation: 0.75, quotaUsage: 0.5 },
    { name: `${NAME}-2`, dbSize: 12 * MiB, dbSizeInUse: 12 * MiB, fragmentation: 0, quotaUsage: 0.75 },
  ])
  t.equal(result.response.status.maintenance?.largestQuotaUsage, '75%')
  t.equal(result.response.status.maintenance?.quotaBytes, QUOTA)
  // Writes move dbSizeInUse a few KiB between syncs: the status stays, or
  // every write would make Metacontroller write the status and sync again.
  const busy = (inUse: number) => plan(request({ spec: { defrag: { enabled: false } }, status: result.response.status }), observed({ 0: [4 * MiB, inUse], 1: [8 * MiB, 2 * MiB], 2: [12 * MiB, 12 * MiB] }), NOW).response.status
  t.same(busy(3 * MiB + 4096), busy(3 * MiB + 300 * 1024), 'a busy cluster\'s status does not change with every write')
  t.same(busy(3 * MiB + 4096).maintenance?.members, result.response.status.maintenance?.members, 'sizes rounded down to 1% of the quota, at least 1 MiB')
  t.not(busy(2 * MiB).maintenance?.members?.[0]?.dbSizeInUse, 3 * MiB, 'a change of a step shows')
  const defaultQuota = plan(syncRequest({ pods: ready(0, 1, 2) }), observed({ 0: [20480, 16384], 1: [20480, 16384], 2: [20480, 16384] }), NOW)
  t.equal(defaultQuota.response.status.maintenance?.quotaBytes, 2 * 1024 * MiB, 'etcd\'s default quota when unset')
  const fake = plan(syncRequest({ pods: ready(0, 1, 2) }), reachable(members(0, 1, 2), 0), NOW)
  t.equal(fake.response.status.maintenance, undefined, 'no sizes observed: no maintenance status')
  t.notOk(fake.response.status.conditions?.some(c => c.type === 'NoSpace'), 'no NoSpace condition before an alarm was ever seen')
})

t.test('status: kept as it was while etcd does not answer; a recorded defrag of a member since removed is dropped', async t => {
  const full: Space = { 0: [16 * MiB, 6 * MiB], 1: [16 * MiB, 6 * MiB], 2: [16 * MiB, 6 * MiB] }
  const during = plan(request(), observed(full, { alarms: nospace }), NOW).response.status
  const blind = plan(request({ status: during }), { reachable: false, error: 'no member answered' }, NOW).response.status
  t.same(blind.maintenance, during.maintenance, 'status.maintenance kept')
  t.same(blind.conditions?.find(c => c.type === 'NoSpace'), during.conditions?.find(c => c.type === 'NoSpace'), 'the NoSpace condition kept')
  const record = { maintenance: { defragmenting: { member: `${NAME}-7`, since: NOW.toISOString(), dbSizeBefore: 9 } } }
  const gone = plan(request({ status: record }), observed(FRAGMENTED_1), NOW)
  t.equal(gone.response.status.maintenance?.defragmenting?.member, `${NAME}-1`, 'no wait for a member etcd no longer lists: the next defrag starts')
})

t.test('metrics: defrag runs, bytes reclaimed and NOSPACE events per cluster', async t => {
  const metrics = new HookMetrics()
  metrics.recordMaintenance('default', 'a', undefined, { defragmenting: { member: 'a-1', since: 't0', dbSizeBefore: 10 } }, 'routine')
  metrics.recordMaintenance('default', 'a', { defragmenting: { member: 'a-1', since: 't0', dbSizeBefore: 10 } }, { lastDefrag: { member: 'a-1', finished: 't1', reclaimedBytes: 7 } }, undefined)
  metrics.recordMaintenance('default', 'a', { lastDefrag: { member: 'a-1', finished: 't1', reclaimedBytes: 7 } }, { lastDefrag: { member: 'a-1', finished: 't1', reclaimedBytes: 7 } }, undefined)
  metrics.recordMaintenance('default', 'b', undefined, { noSpace: { since: 't0' } }, undefined)
  metrics.recordMaintenance('default', 'b', { noSpace: { since: 't0' } }, { noSpace: { since: 't0', compactedRevision: '5' } }, 'nospace')
  const text = await metrics.registry.metrics()
  t.match(text, /etcd_operator_defrag_runs_total\{etcd_namespace="default",etcd_cluster="a",trigger="routine"\} 1/)
  t.match(text, /etcd_operator_defrag_runs_total\{etcd_namespace="default",etcd_cluster="b",trigger="nospace"\} 1/)
  t.match(text, /etcd_operator_defrag_reclaimed_bytes_total\{etcd_namespace="default",etcd_cluster="a"\} 7\n/, 'counted once, not on every sync that shows it')
  t.match(text, /etcd_operator_nospace_events_total\{etcd_namespace="default",etcd_cluster="b"\} 1\n/)
})
