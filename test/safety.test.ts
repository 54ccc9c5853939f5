// The safety issue's planner items, one row each, named after the item.
// Every row reproduces a way the hook could lose a member's data, wedge a
// cluster or fight itself, and checks that it no longer does.
import { createServer as createHttpServer } from 'node:http'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { syncCluster } from '../hooks/cluster/sync.js'
import { EtcdGateway } from '../hooks/etcd/gateway.js'
import { plan, type Plan, type StepName } from '../hooks/cluster/plan.js'
import type { EtcdMember, MembershipClient, Observation } from '../hooks/etcd/types.js'
import { NAME, NOW, members, memberId, reachable, syncRequest, type RequestFixture } from './helpers/fixtures.js'
import { child, childrenOfKind, conditionOf, etcdContainer, podNames } from './helpers/inspect.js'

const pod = (o: number) => `${NAME}-${o}`
const ready = (...ordinals: number[]) => ordinals.map(ordinal => ({ ordinal }))
// Every listed member answered its own status call (what the real gateway
// reports); the fixtures' default says nothing about it.
const answering = (observation: Observation, ...ordinals: number[]): Observation =>
  observation.reachable ? { ...observation, answering: ordinals.map(memberId) } : observation
const run = (request: RequestFixture, observation: Observation): Plan => plan(syncRequest(request), observation, NOW)
const claimNames = (p: Plan) => childrenOfKind(p.response, 'PersistentVolumeClaim').map(c => c.metadata.name)
const expectRule = (t: Test, rule: StepName, p: Plan) => {
  t.equal(p.rule, rule, `rule ${rule} (${p.response.status.lastAction ?? p.response.status.reason ?? ''})`)
}

t.test('item 17: a member whose pod is missing from stale children, but that answers, is not removed', async t => {
  // Scale-up: the learner added one sync ago started at once; the informer
  // has not shown its pod yet.
  const observation = answering(reachable(members(0, 1, 2, { ordinal: 3, learner: true }), 0), 0, 1, 2, 3)
  const p = run({ spec: { size: 4 }, pods: ready(0, 1, 2), status: { highestOrdinal: 3 } }, observation)
  expectRule(t, 'waitForMissingPod', p)
  t.equal(p.action, undefined, 'no membership write: the learner is alive')
  t.match(p.response.status.reason, /example-3/)
  // The same without an answer from member 3: its pod is really gone.
  const gone = run({ spec: { size: 4 }, pods: ready(0, 1, 2) }, answering(reachable(members(0, 1, 2, 3), 0), 0, 1, 2))
  t.match(gone.action, { kind: 'remove', pod: pod(3) }, 'a member that does not answer and has no pod is removed')
})

t.test('item 17: a pod released from the parent (orphaning delete) keeps its member', async t => {
  const p = run({ pods: ready(0, 2) }, answering(reachable(members(0, 1, 2), 0), 0, 1, 2))
  t.equal(p.action, undefined)
  t.same(podNames(p.response), [pod(0), pod(2)], 'nothing deleted')
})

t.test('item 8: a replaced member gets a new name, never the name of one removed a sync ago', async t => {
  // Member 2 was removed (dead) last sync; its pod and claim are gone.
  // The status that sync wrote remembers ordinal 2.
  const p = run({ pods: ready(0, 1), status: { highestOrdinal: 2 } }, answering(reachable(members(0, 1), 0), 0, 1))
  expectRule(t, 'addMember', p)
  t.match(p.action, { kind: 'addLearner', pod: pod(3) }, 'ordinal 3, not 2 again')
  t.equal(p.response.status.highestOrdinal, 3, 'the new ordinal is recorded')
  // Without the status (an older operator), the highest observed ordinal
  // is recorded from now on.
  const first = run({ pods: ready(0, 1, 2) }, answering(reachable(members(0, 1, 2), 0), 0, 1, 2))
  t.equal(first.response.status.highestOrdinal, 2)
})

t.test('item 19/12: while the EtcdCluster is being deleted, no membership call and nothing deleted', async t => {
  const request = syncRequest({ spec: { size: 5 }, pods: ready(0, 1, 2) })
  request.parent.metadata.deletionTimestamp = '2026-11-26T09:59:00Z'
  const deleting = plan(request, answering(reachable(members(0, 1, 2), 0), 0, 1, 2), NOW)
  expectRule(t, 'parentDeleting', deleting)
  t.equal(deleting.action, undefined, 'no learner added during deletion')
  t.same(podNames(deleting.response), [pod(0), pod(1), pod(2)])
  // Metacontroller's finalize call says finalizing: true.
  const finalizing = syncRequest({ pods: [{ ordinal: 0, state: 'failed' }, ...ready(1, 2)] })
  finalizing.finalizing = true
  const f = plan(finalizing, answering(reachable(members(0, 1, 2), 1), 1, 2), NOW)
  expectRule(t, 'parentDeleting', f)
  t.equal(f.action, undefined, 'not even a dead member is removed')
})

t.test('item 20: quorum lost with a majority of pods Failed on their volumes: recreate them, nothing else', async t => {
  const persistent = { pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } }
  const failed = run(
    { spec: persistent, pods: [{ ordinal: 0, state: 'failed' }, { ordinal: 1, state: 'failed' }, ...ready(2)], claims: [0, 1, 2] },
    answering(reachable(members(0, 1, 2), undefined), 2),
  )
  expectRule(t, 'replacePodOnClaim', failed)
  t.equal(failed.action, undefined, 'no membership write while quorum is lost')
  t.same(podNames(failed.response), [pod(1), pod(2)], 'the first Failed pod is deleted to start again on its volume')
  t.same(claimNames(failed).sort(), ['etcd-data-example-0', 'etcd-data-example-1', 'etcd-data-example-2'], 'no claim dropped')
  // Next sync: the pod is gone; it comes back on its volume, same name.
  const gone = run(
    { spec: persistent, pods: [{ ordinal: 1, state: 'failed' }, ...ready(2)], claims: [0, 1, 2] },
    answering(reachable(members(0, 1, 2), undefined), 2),
  )
  expectRule(t, 'restartOnClaim', gone)
  t.equal(gone.action, undefined)
  t.ok(podNames(gone.response).includes(pod(0)), 'example-0 is created again')
  t.match(child(gone.response, 'Pod', pod(0)).spec, { volumes: [{ persistentVolumeClaim: { claimName: 'etcd-data-example-0' } }] })
})

t.test('item 21: a leader is named but only one of three voters is healthy: no membership write', async t => {
  // Two members died a moment ago; the survivor still names a leader.
  const p = run({ pods: [{ ordinal: 0, state: 'unready' }, { ordinal: 1, state: 'unready' }, ...ready(2)] }, answering(reachable(members(0, 1, 2), 2), 2))
  expectRule(t, 'quorumUnhealthy', p)
  t.equal(p.action, undefined)
  t.same(podNames(p.response), [pod(0), pod(1), pod(2)])
  // The same with the two pods gone: still no removal, which etcd could
  // commit later (when a member comes back) after the hook took it as failed.
  const gone = run({ pods: ready(2) }, answering(reachable(members(0, 1, 2), 2), 2))
  t.equal(gone.action, undefined, 'dead members are not removed without a healthy majority')
})

t.test('item 6: a leader that no pod of ours holds is not quorum lost; leadership moves before it is removed', async t => {
  const stray: EtcdMember = { id: '4242', name: 'by-hand', peerURLs: ['http://10.0.0.9:2380'], clientURLs: ['http://10.0.0.9:2379'], isLearner: false }
  const observation: Observation = { reachable: true, clusterId: '1', leaderId: stray.id, members: [...members(0, 1, 2), stray], answering: [memberId(0), memberId(1), memberId(2), stray.id] }
  const p = run({ pods: ready(0, 1, 2) }, observation)
  t.not(p.rule, 'quorumLost', 'a foreign leader is still a leader')
  t.equal(conditionOf(p.response, 'Available').status, 'True')
  t.equal(p.response.status.leader, 'by-hand')
  expectRule(t, 'transferLeadershipFromForeign', p)
  t.match(p.action, { kind: 'transferLeadership', toPod: pod(0), target: { endpoints: ['http://10.0.0.9:2379'] } })
  // Once it follows, it is removed (quorum holds without it).
  const follower = run({ pods: ready(0, 1, 2) }, { ...observation, leaderId: memberId(0) })
  expectRule(t, 'removeForeignMember', follower)
  t.match(follower.action, { kind: 'remove', memberId: '4242' })
})

t.test('item 6: a foreign member is not removed while our voters are no healthy majority without it', async t => {
  const stray: EtcdMember = { id: '4242', name: 'by-hand', peerURLs: ['http://10.0.0.9:2380'], clientURLs: ['http://10.0.0.9:2379'], isLearner: false }
  // Ours: 0 healthy, 1 unready; with the stray, 3 voters need 2 healthy.
  const observation: Observation = { reachable: true, clusterId: '1', leaderId: memberId(0), members: [...members(0, 1), stray] }
  const p = run({ spec: { size: 2 }, pods: [...ready(0), { ordinal: 1, state: 'unready' }] }, observation)
  expectRule(t, 'quorumUnhealthy', p)
  t.equal(p.action, undefined)
})

t.test('item 4/18: a learner whose pod never starts is removed after the deadline, and the next step goes on', async t => {
  const observation = answering(reachable(members(0, 1, 2, { ordinal: 3, learner: true, unstarted: true }), 0), 0, 1, 2)
  const stuck = run({ spec: { size: 4 }, pods: [...ready(0, 1, 2), { ordinal: 3, state: 'pending' }] }, observation)
  expectRule(t, 'removeStuckLearner', stuck)
  t.match(stuck.action, { kind: 'remove', pod: pod(3), memberId: memberId(3) })
  t.same(podNames(stuck.response), [pod(0), pod(1), pod(2)], 'its pod is deleted')
  t.equal(conditionOf(stuck.response, 'Recovering').status, 'True')
  t.match(conditionOf(stuck.response, 'Recovering').message, /did not start within 15 minutes/)
  // Inside the deadline it is waited for.
  const young = run({ spec: { size: 4 }, pods: [...ready(0, 1, 2), { ordinal: 3, state: 'pending', created: '2026-11-26T09:58:00Z' }] }, observation)
  expectRule(t, 'waitForLearner', young)
  // A crash-looping learner counts as not started, too (caught as stuck
  // after 5 minutes of crash loop, before the learner deadline).
  const crashing = run({ spec: { size: 4 }, pods: [...ready(0, 1, 2), { ordinal: 3, state: 'crashloop', created: '2026-11-26T09:50:00Z' }] }, answering(reachable(members(0, 1, 2, { ordinal: 3, learner: true }), 0), 0, 1, 2))
  t.match(crashing.action, { kind: 'remove', pod: pod(3) })
})

t.test('item 18: size set back while a learner is Pending: the learner goes at once', async t => {
  const p = run(
    { spec: { size: 3 }, pods: [...ready(0, 1, 2), { ordinal: 3, state: 'pending', created: '2026-11-26T09:59:30Z' }] },
    answering(reachable(members(0, 1, 2, { ordinal: 3, learner: true, unstarted: true }), 0), 0, 1, 2),
  )
  expectRule(t, 'removeStuckLearner', p)
  t.match(p.action, { kind: 'remove', pod: pod(3) })
  t.match(p.response.status.lastAction, /size is 3/)
})

t.test('item 5: a crash-looping member on its own volume is never removed; one without a volume is', async t => {
  const persistent = { pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } }
  const onClaim = run(
    { spec: persistent, pods: [...ready(0, 1), { ordinal: 2, state: 'crashloop' }], claims: [0, 1, 2] },
    answering(reachable(members(0, 1, 2), 0), 0, 1),
  )
  t.not(onClaim.rule, 'removeStuckMember')
  t.equal(onClaim.action, undefined, 'no removal: its data may be the copy that matters')
  t.ok(claimNames(onClaim).includes('etcd-data-example-2'), 'its claim is kept')
  const ephemeral = run({ pods: [...ready(0, 1), { ordinal: 2, state: 'crashloop' }] }, answering(reachable(members(0, 1, 2), 0), 0, 1))
  expectRule(t, 'removeStuckMember', ephemeral)
})

t.test('item 5: member pods have a startupProbe sized for opening a large database', async t => {
  const p = run({}, { reachable: false, error: 'no pods' })
  const etcd = etcdContainer(child(p.response, 'Pod', pod(0))) as unknown as Record<string, { periodSeconds: number, failureThreshold: number }>
  const startup = etcd.startupProbe
  t.ok(startup !== undefined, 'a startupProbe')
  t.ok(startup !== undefined && startup.periodSeconds * startup.failureThreshold >= 10 * 60, 'at least 10 minutes to start')
})

t.test('item 22: readiness drops a partitioned member from the client Service within about 6 s', async t => {
  for (const version of ['3.4.23', '3.5.21']) {
    const p = run({ spec: { version } }, { reachable: false, error: 'no pods' })
    const probe = (etcdContainer(child(p.response, 'Pod', pod(0))) as unknown as Record<string, { periodSeconds: number, failureThreshold: number, timeoutSeconds: number }>).readinessProbe
    t.ok(probe !== undefined && probe.periodSeconds * probe.failureThreshold + probe.timeoutSeconds <= 6, `${version}: out of the Service within 6 s`)
  }
})

t.test('item 1: a member created during a blocked or unfinished upgrade runs the version the cluster runs', async t => {
  const old = 'quay.io/coreos/etcd:v3.4.23'
  // The whole cluster runs 3.4; spec asks for 3.6 (a skipped minor:
  // blocked) and one more member.
  const blocked = run(
    { spec: { size: 4, version: '3.6.0' }, pods: [0, 1, 2].map(ordinal => ({ ordinal, image: old })) },
    answering(reachable(members(0, 1, 2), 0), 0, 1, 2),
  )
  expectRule(t, 'addMember', blocked)
  t.equal(etcdContainer(child(blocked.response, 'Pod', pod(3))).image, old, 'the new member runs 3.4.23, not the blocked 3.6.0')
  // Mid-upgrade (one member moved to 3.5.21): new members join at the
  // oldest version; the rolling upgrade moves them later.
  const rolling = run(
    { spec: { size: 4, version: '3.5.21' }, pods: [{ ordinal: 0, image: old }, { ordinal: 1, image: old }, { ordinal: 2 }] },
    answering(reachable(members(0, 1, 2), 0), 0, 1, 2),
  )
  expectRule(t, 'addMember', rolling)
  const created = child(rolling.response, 'Pod', pod(3))
  t.equal(etcdContainer(created).image, old)
  t.match((created.spec as { containers: Array<{ readinessProbe: unknown }> }).containers[0]?.readinessProbe, { httpGet: { path: '/health' } }, 'probes of the version it runs (3.4 has no /readyz)')
  // A member restarted on its volume during the blocked upgrade, too.
  const persistent = { pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } }
  const restart = run(
    { spec: { version: '3.6.0', ...persistent }, pods: [0, 1].map(ordinal => ({ ordinal, image: old })), claims: [0, 1, 2] },
    answering(reachable(members(0, 1, 2), 0), 0, 1),
  )
  expectRule(t, 'restartOnClaim', restart)
  t.equal(etcdContainer(child(restart.response, 'Pod', pod(2))).image, old)
})

t.test('item 10: turning TLS on, off or to other secrets on a running cluster changes nothing and says why', async t => {
  // Members were made without TLS; spec now asks for peer and client TLS.
  const observation = answering(reachable(members(0, 1, 2), 0), 0, 1, 2)
  const plain = syncRequest({ pods: ready(0, 1, 2) })
  const on = plan({ ...plain, parent: { ...plain.parent, spec: { ...plain.parent.spec, TLS: { static: { member: { peerSecret: 'peer', serverSecret: 'server' }, operatorSecret: 'op' } } } } }, observation, NOW)
  expectRule(t, 'tlsChangeRefused', on)
  t.equal(on.action, undefined, 'no member replaced by one that cannot talk to the others')
  t.same(podNames(on.response), [pod(0), pod(1), pod(2)])
  t.match(on.response.status.reason, /cannot change after creation/)
  // Members made with TLS; spec drops it.
  const tls = { static: { member: { peerSecret: 'peer', serverSecret: 'server' }, operatorSecret: 'op' } }
  const secured = syncRequest({ spec: { TLS: tls }, pods: ready(0, 1, 2) })
  const off = plan({ ...secured, parent: { ...secured.parent, spec: { size: 3, version: '3.5.21' } } }, observation, NOW)
  expectRule(t, 'tlsChangeRefused', off)
  // Other secrets (perhaps another CA): refused the same way.
  const renamed = plan({ ...secured, parent: { ...secured.parent, spec: { ...secured.parent.spec, TLS: { static: { member: { peerSecret: 'peer-2', serverSecret: 'server' }, operatorSecret: 'op' } } } } }, observation, NOW)
  expectRule(t, 'tlsChangeRefused', renamed)
  // Unchanged TLS: nothing refused.
  t.not(plan(secured, observation, NOW).rule, 'tlsChangeRefused')
})

t.test('item 11: one deadline covers every etcd call of a sync', async t => {
  // A member that accepts connections and never answers.
  const sockets = new Set<Socket>()
  const hang = createServer(socket => sockets.add(socket))
  await new Promise<void>(resolve => hang.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    hang.close()
  })
  const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`
  // Each request alone may take 20 s; the sync has 300 ms.
  const gateway = new EtcdGateway({ requestTimeoutMs: 20_000 })
  t.teardown(() => { gateway.close() })
  const started = Date.now()
  const seen = await gateway.observe({ endpoints: [url] }, Date.now() + 300)
  t.equal(seen.reachable, false)
  t.ok(Date.now() - started < 10_000, `observe ended with the sync's deadline, not the request timeout (${Date.now() - started} ms)`)
  await t.rejects(gateway.execute({ kind: 'promote', pod: 'x', memberId: '1', target: { endpoints: [url] } }, Date.now() - 1), /no time left/, 'a write with no time left is not sent')

  // The sync: observing took almost all of the budget, so the write waits
  // for the next sync and the answer is the one for a failed write.
  let clock = 0
  let executed = 0
  const slow: MembershipClient = {
    observe: (_target, deadline) => {
      t.equal(deadline, 8000, 'observe is given the sync\'s deadline')
      clock += 7500
      return Promise.resolve(answering(reachable(members(0, 1, 2), 0), 0, 1, 2))
    },
    execute: () => {
      executed++
      return Promise.resolve()
    },
  }
  const result = await syncCluster(syncRequest({ spec: { size: 4 }, pods: ready(0, 1, 2) }), slow, () => NOW, { budgetMs: 8000, clock: () => clock })
  t.equal(result.plan.rule, 'addMember')
  t.equal(executed, 0, 'no write started with 500 ms left')
  t.match(result.write, { done: false, error: /less than 1000 ms left/ })
  t.same(podNames(result.response), [pod(0), pod(1), pod(2)], 'the answer adds no pod')
})

t.test('item 7: the member list that decides removals is read linearizably', async t => {
  for (const version of ['3.4.23', '3.5.21']) {
    const calls: Array<{ path: string, body: Record<string, unknown> }> = []
    const server = createHttpServer((req, res) => {
      let text = ''
      req.on('data', (chunk: Buffer) => { text += chunk.toString() })
      req.on('end', () => {
        calls.push({ path: req.url ?? '', body: JSON.parse(text === '' ? '{}' : text) as Record<string, unknown> })
        const header = { cluster_id: '7', member_id: '1', raft_term: '2' }
        const answers: Record<string, unknown> = {
          '/v3/maintenance/status': { header, version, leader: '1', raftTerm: '2' },
          '/v3/kv/range': { header },
          '/v3/cluster/member/list': { header, members: [{ ID: '1', name: 'm', peerURLs: ['http://m:2380'], clientURLs: [] }] },
        }
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(answers[req.url ?? ''] ?? {}))
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const gateway = new EtcdGateway()
    const seen = await gateway.observe({ endpoints: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`] })
    gateway.close()
    server.close()
    t.match(seen, { reachable: true, clusterId: '7' })
    const list = calls.find(c => c.path === '/v3/cluster/member/list')
    t.same(list?.body, { linearizable: true }, `${version}: member list asked linearizable`)
    const range = calls.findIndex(c => c.path === '/v3/kv/range')
    if (version.startsWith('3.4')) {
      t.ok(range >= 0 && range < calls.findIndex(c => c.path === '/v3/cluster/member/list'), '3.4: a quorum read on the same member first')
      t.notOk(calls[range]?.body.serializable, 'the read is linearizable (not serializable)')
    } else {
      t.equal(range, -1, '3.5+: no extra read')
    }
  }
})

t.test('item 3: versions come from etcd, not from image tags', async t => {
  // Pods are tagged v3.5.21, but etcd says its members run 3.4.23 (a
  // retagged image): an upgrade to 3.6 skips a minor and is refused.
  const observed = (clusterVersion: string, versions: string[]): Observation => ({
    reachable: true,
    clusterId: '7',
    leaderId: memberId(0),
    members: members(0, 1, 2),
    answering: [0, 1, 2].map(memberId),
    serverVersions: Object.fromEntries(versions.map((v, i) => [memberId(i), v])),
    clusterVersion,
  })
  const retagged = run({ spec: { version: '3.6.0' }, pods: [0, 1, 2].map(ordinal => ({ ordinal, image: 'quay.io/coreos/etcd:v3.5.21' })) }, observed('3.4.0', ['3.4.23', '3.4.23', '3.4.23']))
  expectRule(t, 'upgradeBlocked', retagged)
  t.match(conditionOf(retagged.response, 'Upgrading').message, /from 3\.4\.23 to 3\.6\.0 skips a minor/)
  t.equal(retagged.response.status.currentVersion, '3.4.23', 'status: the version etcd reports')
  t.equal(retagged.response.status.clusterVersion, '3.4.0', 'status: etcd\'s cluster version')
  // No downgrade below the cluster version, whatever the images say.
  const down = run({ spec: { version: '3.4.23' }, pods: [0, 1, 2].map(ordinal => ({ ordinal, image: 'quay.io/coreos/etcd:v3.4.22' })) }, observed('3.5.0', ['3.5.21', '3.5.21', '3.5.21']))
  expectRule(t, 'upgradeBlocked', down)
  t.match(down.response.status.reason, /below its cluster version 3\.5/)
})

t.test('item 2: the upgrade rules etcd enforces are checked before a pod moves, naming the rule', async t => {
  const cluster = (running: string, wanted: string) => run(
    { spec: { version: wanted }, pods: [0, 1, 2].map(ordinal => ({ ordinal, image: `quay.io/coreos/etcd:v${running}` })) },
    answering(reachable(members(0, 1, 2), 0), 0, 1, 2),
  )
  const below = cluster('3.5.21', '3.6.14')
  expectRule(t, 'upgradeBlocked', below)
  t.match(conditionOf(below.response, 'Upgrading'), { status: 'True', reason: 'UpgradeBlocked', message: /3\.5\.32 or later first/ })
  t.same(below.response.children.filter(c => c.kind === 'Pod').map(p => etcdContainer(p).image), Array(3).fill('quay.io/coreos/etcd:v3.5.21'), 'no pod moved')
  expectRule(t, 'upgradeMember', cluster('3.5.32', '3.6.14'))
  expectRule(t, 'upgradeBlocked', cluster('3.6.10', '3.7.1'))
  expectRule(t, 'upgradeMember', cluster('3.6.11', '3.7.1'))
  expectRule(t, 'upgradeMember', cluster('3.6.14', '3.7.1'))
  expectRule(t, 'upgradeBlocked', cluster('3.4.45', '3.5.10'))
  expectRule(t, 'upgradeBlocked', cluster('3.5.33', '3.7.1'))
  expectRule(t, 'upgradeBlocked', cluster('3.6.14', '3.5.33'))
  expectRule(t, 'upgradeMember', cluster('3.5.21', '3.5.33'))
})

t.test('item 2: the default version is the newest 3.6 patch, which the previous default (3.5.33) may roll to', async t => {
  const p = run({}, { reachable: false, error: 'no pods' })
  const fresh = syncRequest({})
  delete (fresh.parent.spec as { version?: string }).version
  const seed = plan(fresh, { reachable: false, error: 'no pods' }, NOW)
  const image = etcdContainer(child(seed.response, 'Pod', pod(0))).image
  t.equal(image, 'quay.io/coreos/etcd:v3.6.14')
  t.ok(p.rule === 'bootstrap')
  // A cluster that took the previous default rolls to this one.
  const defaulted = syncRequest({ pods: [0, 1, 2].map(ordinal => ({ ordinal, image: 'quay.io/coreos/etcd:v3.5.33' })) })
  delete (defaulted.parent.spec as { version?: string }).version
  expectRule(t, 'upgradeMember', plan(defaulted, answering(reachable(members(0, 1, 2), 0), 0, 1, 2), NOW))
})

t.test('item 20/21: with quorum lost the member list is the member\'s own (stale): pods restart on their volumes, no membership write', async t => {
  const persistent = { pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } }
  const stale: Observation = { ...answering(reachable(members(0, 1, 2), 2), 2), membersStale: true } as Observation
  const restart = run({ spec: persistent, pods: ready(2), claims: [0, 1, 2] }, stale)
  expectRule(t, 'restartOnClaim', restart)
  // A stale list with every voter healthy still decides no write.
  const scale = run({ spec: { size: 4 }, pods: ready(0, 1, 2) }, { ...answering(reachable(members(0, 1, 2), 0), 0, 1, 2), membersStale: true } as Observation)
  expectRule(t, 'quorumUnhealthy', scale)
  t.equal(scale.action, undefined)
})

t.test('item 13: a sync that cannot reach etcd, or sees stale children, keeps what earlier syncs learned', async t => {
  const learned = {
    phase: 'Running' as const,
    clusterID: 'cdf818194e3a8c32',
    clusterVersion: '3.4.0',
    highestOrdinal: 4,
    lastAction: 'added learner example-4',
    backup: { failuresInARow: 0, lastSuccess: { time: '2026-11-26T09:30:00Z', object: 's3://b/k.db', revision: 7, size: 20480, sha256: 'a'.repeat(64) } },
  }
  const lost = run({ pods: ready(0, 1, 2), status: learned }, { reachable: false, error: 'context deadline exceeded' })
  for (const field of ['clusterID', 'clusterVersion', 'highestOrdinal', 'lastAction'] as const) {
    t.same(lost.response.status[field], learned[field], `${field} kept while etcd does not answer`)
  }
  // spec.backup is off here: the record of the last backup stays.
  t.same(lost.response.status.backup?.lastSuccess, learned.backup.lastSuccess, 'the last backup is kept after backups were turned off')
  t.equal(lost.response.status.phase, 'Running', 'the phase is not reset to Creating')
  // The informer still lacks the pod of the learner added last sync, and
  // etcd answers: nothing is forgotten either, names keep growing.
  const stale = run({ pods: ready(0, 1, 2), status: learned }, answering(reachable(members(0, 1, 2, { ordinal: 4, learner: true }), 0), 0, 1, 2, 4))
  t.equal(stale.response.status.clusterVersion, learned.clusterVersion, 'the cluster version is kept when this sync did not read it')
  t.ok((stale.response.status.highestOrdinal ?? 0) >= 4, 'ordinal 4 stays taken')
  t.same(stale.response.status.backup?.lastSuccess, learned.backup.lastSuccess, 'the last backup is kept')
})
