// End to end, issue 13 ("safety under real conditions"): what goes wrong
// in a real cluster, on real etcd, each scenario under a writer whose every
// acknowledged write must be on every member at the end. The scenarios:
// majority-restart, quorum-lost-failed-pods, size-flapping,
// partitioned-leader, delete-background, replace-during-blocked-upgrade,
// hookkill-promote, lag-parent (E2E_ONLY=a,b runs a subset; see
// test/e2e/README.md).
import { type Test } from 'tap'
import { type Cluster, type MembershipMonitor, sleep, waitFor } from './harness/world.js'
import { PVC } from './harness/store.js'
import { podReady } from './harness/services.js'
import { memberStatus } from './harness/etcd.js'
import {
  Suite, IMAGE, VERSION, memberIds, syncsSince, podDeletesSince, podCreatesSince, actionsSince, writing, writerSummary, quietWindow, expectAcked, flapped,
} from './harness/scenario.js'

const PERSISTENT = { pod: { persistentVolumeClaimSpec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } }

const suite = await Suite.start('safety.test.ts')
if (suite) {
  const world = suite.world
  const scenario = suite.scenario.bind(suite)
  const converged = (t: Test, what: string, s: number) => suite.converged(t, what, s)

  // The hook's log lines about this cluster since `ms`, and those that
  // report a membership call (add, promote, remove, leadership transfer).
  const hookLines = (c: Cluster, ms: number) => world.hook!.logEntries(ms).filter(e => e.cluster === `default/${c.name}`)
  const membershipCalls = (c: Cluster, ms: number) => hookLines(c, ms).filter(e => e.action !== undefined).map(e => `${String(e.action)} ${String(e.pod)}: ${String(e.msg)}`)
  const claimUids = (c: Cluster) => new Map(c.children(PVC).filter(o => !o.metadata.deletionTimestamp).map(o => [o.metadata.name, o.metadata.uid]))
  const mostLearners = (m: MembershipMonitor) => Math.max(0, ...m.timeline.map(e => e.learners.length))
  // Distinct voter sets etcd's member list showed.
  const voterSets = (m: MembershipMonitor) => [...new Set(m.timeline.map(e => e.voters.join(',')))]
  const ordinal = (c: Cluster, pod: string) => Number(pod.slice(c.name.length + 1))
  const readyAndRoutedOut = (c: Cluster, pod: string) => {
    const p = c.pod(pod)
    const client = c.service(`${c.name}-client`)
    const ip = p?.status?.podIP
    const routed = client ? Object.values(world.services.routes(client)).flat() : []
    return { ready: !!p && podReady(p), routed: ip !== undefined && routed.some(r => r.startsWith(`${ip}:`)) }
  }

  scenario('majority-restart', 'S1. a majority of members killed at once (volumes kept), restarted 3 s apart: same members, no write lost', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const ids = await memberIds(c)
    const claims = claimUids(c)
    const monitor = c.membershipMonitor()
    const writer = c.writer('mr/').start()
    let tDown: number
    let restartGapMs: number
    try {
      await writing(c, writer)
      const down = c.livePods().map(p => p.metadata.name).slice(1)
      tDown = Date.now()
      await Promise.all(down.map(p => world.kubelet.nodeDown(p)))
      const lost = await c.waitFor(() => c.condition('Available')?.status === 'False' && c.condition('Available'), { timeoutMs: 60_000, what: 'status to report the lost quorum' })
      t.pass(`Available=False after ${((Date.now() - tDown) / 1000).toFixed(1)} s: ${lost.reason}: ${lost.message}`)
      await world.kubelet.nodeUp(down[0]!)
      const firstUp = Date.now()
      await sleep(3000)
      await world.kubelet.nodeUp(down[1]!)
      restartGapMs = Date.now() - firstUp
      converged(t, 'majority-restart', await c.waitSteady({ timeoutMs: 120_000, sinceMs: tDown }))
    } finally {
      await writer.stop()
      await monitor.stop()
    }
    t.comment(`membership over time:\n${monitor.describe(tDown)}`)
    t.ok(restartGapMs >= 3000, `the two members came back ${(restartGapMs / 1000).toFixed(1)} s apart`)
    t.same(await memberIds(c), ids, 'the same members (IDs) as before')
    t.same(claimUids(c), claims, 'the same claims')
    t.same([...podDeletesSince(c, tDown), ...podCreatesSince(c, tDown)], [], 'no pod deleted or created')
    t.same(voterSets(monitor), [[...ids.keys()].sort().join(',')], 'etcd\'s member list never changed')
    t.same(membershipCalls(c, tDown), [], 'the hook made no membership call')
    t.ok(writer.acked.length >= 20, `the writer ran throughout (${writerSummary(writer)})`)
    await expectAcked(t, c, writer, 'mr/')
  }, PERSISTENT)

  scenario('quorum-lost-failed-pods', 'S2. a majority of pods Failed, volumes kept: recreated on their claims while quorum is lost, no membership write', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const ids = await memberIds(c)
    const claims = claimUids(c)
    const pods = c.livePods().map(p => p.metadata.name)
    const victims = pods.slice(1)
    const uids = new Map(victims.map(v => [v, c.pod(v)!.metadata.uid]))
    const monitor = c.membershipMonitor()
    const writer = c.writer('qf/').start()
    let tFail: number
    try {
      await writing(c, writer)
      // Their nodes are gone: the pods fail, and new pods find no node
      // until the nodes return.
      for (const v of victims) world.kubelet.unschedulable(v, '0/3 nodes are available: 2 node(s) were unreachable.')
      tFail = Date.now()
      for (const v of victims) world.kubelet.failPod(v, 'NodeLost', 'the node was lost')
      await c.waitFor(() => victims.every(v => {
        const p = c.pod(v)
        return p && p.metadata.uid !== uids.get(v) && p.status?.phase === 'Pending'
      }), { timeoutMs: 60_000, what: 'new (Pending) pods for both failed members' })
      const recreatedAfter = (Date.now() - tFail) / 1000
      const leader = await c.leader()
      t.equal(leader, undefined, `no member leads when the failed pods have been recreated (${recreatedAfter.toFixed(1)} s after the failure)`)
      t.equal(c.condition('Available')?.status, 'False', `status says quorum is lost (${c.condition('Available')?.reason})`)
      // Several syncs with quorum lost and the new pods Pending.
      const tWait = Date.now()
      await quietWindow(c, 'with quorum lost and the pods Pending', tWait, 3000, 2)
      t.same(syncsSince(c, tWait).flatMap(r => [...r.creates, ...r.deletes]), [], 'nothing else created or deleted while quorum is lost')
      const tBack = Date.now()
      for (const v of victims) world.kubelet.schedulable(v)
      converged(t, 'quorum-lost-failed-pods-nodes-back', await c.waitSteady({ timeoutMs: 120_000, sinceMs: tBack }))
    } finally {
      await writer.stop()
      await monitor.stop()
      for (const v of victims) world.kubelet.schedulable(v)
    }
    t.comment(`what the hook did: ${actionsSince(c, tFail).join(' | ')}`)
    t.same(podDeletesSince(c, tFail).sort(), victims, `only the failed pods deleted (${podDeletesSince(c, tFail).join(', ')})`)
    t.same(podCreatesSince(c, tFail).sort(), victims, 'each recreated once, under its own name')
    t.same(c.livePods().map(p => p.metadata.name).sort(), pods, 'the same pod names')
    t.same(claimUids(c), claims, 'on their own claims (none deleted or re-made)')
    t.same(await memberIds(c), ids, 'the same members (IDs)')
    t.same(voterSets(monitor), [[...ids.keys()].sort().join(',')], 'etcd\'s member list never changed')
    t.same(membershipCalls(c, tFail), [], 'the hook\'s log shows no membership call')
    t.ok(writer.acked.length >= 10, `the writer ran (${writerSummary(writer)})`)
    await expectAcked(t, c, writer, 'qf/')
  }, PERSISTENT)

  scenario('size-flapping', 'S3. size 3-5-3-5-3 under writes, each change before the last converged', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const ids = await memberIds(c)
    const monitor = c.membershipMonitor()
    const writer = c.writer('sf/').start()
    let t0: number
    try {
      await writing(c, writer)
      t0 = Date.now()
      for (const size of [5, 3, 5]) {
        c.updateSpec(s => (s.size = size))
        await c.waitFor(() => c.status.observedGeneration === c.parent.metadata.generation, { timeoutMs: 30_000, what: `the hook to see size ${size}` })
        await sleep(4000)
      }
      const last = c.updateSpec(s => (s.size = 3))
      converged(t, 'size-flapping-to-3', await c.waitSteady({ timeoutMs: 180_000, sinceMs: last, size: 3 }))
    } finally {
      await writer.stop()
      await monitor.stop()
    }
    t.comment(`membership over time:\n${monitor.describe(t0)}`)
    t.comment(`what the hook did: ${actionsSince(c, t0).join(' | ')}`)
    t.ok(monitor.polls >= 20, `the member list was watched throughout (${monitor.polls} polls)`)
    t.ok(mostLearners(monitor) <= 1, `never more than one learner (most: ${mostLearners(monitor)})`)
    t.ok(monitor.minVoters >= 3, `never fewer than 3 voters (fewest: ${monitor.minVoters})`)
    const created = podCreatesSince(c, t0)
    t.ok(created.every((p, i) => ordinal(c, p) > 2 && (i === 0 || ordinal(c, p) > ordinal(c, created[i - 1]!))), `names only grow (created: ${created.join(', ') || 'none'})`)
    t.ok((c.status.highestOrdinal ?? 0) >= Math.max(2, ...created.map(p => ordinal(c, p))), `status.highestOrdinal ${c.status.highestOrdinal} covers every name used`)
    t.same(await memberIds(c), ids, 'the original three members remain')
    t.ok(writer.acked.length >= 50, `the writer ran throughout (${writerSummary(writer)})`)
    await expectAcked(t, c, writer, 'sf/')
  })

  scenario('partitioned-leader', 'S4. the leader partitioned from its peers: a new leader, out of the client Service, writes go on; healed, it rejoins', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const ids = await memberIds(c)
    const monitor = c.membershipMonitor()
    const writer = c.writer('pl/').start()
    const old = await waitFor(() => c.leader(), { timeoutMs: 30_000, what: 'a leader' })
    const ns = world.kubelet.namespaceOf(old)!
    let tPart: number
    try {
      await writing(c, writer)
      const peers = c.livePods().filter(p => p.metadata.name !== old).map(p => p.status!.podIP as string)
      tPart = Date.now()
      await world.network.partition(ns, peers)
      world.log(`test: ${old} partitioned from ${peers.join(', ')}`)
      const elected = await c.waitFor(async () => {
        const others = c.livePods().filter(p => p.metadata.name !== old)
        for (const p of others) {
          const s = await memberStatus(world.network, p.status!.podIP as string, 800).catch(() => undefined)
          if (s && s.memberId === s.leader) return p.metadata.name
        }
        return undefined
      }, { timeoutMs: 30_000, what: 'a leader among the other members' })
      t.pass(`${elected} leads ${((Date.now() - tPart) / 1000).toFixed(1)} s after the partition`)
      await c.waitFor(() => {
        const r = readyAndRoutedOut(c, old)
        return !r.ready && !r.routed
      }, { timeoutMs: 30_000, what: `${old} out of the client Service` })
      const outAfter = (Date.now() - tPart) / 1000
      t.ok(outAfter <= 15, `${old} not Ready and out of the client Service ${outAfter.toFixed(1)} s after the partition`)
      const acked = writer.acked.length
      await c.waitFor(() => writer.acked.length >= acked + 20, { timeoutMs: 30_000, what: 'writes to go on during the partition' })
      t.pass('20 more writes acknowledged during the partition')
      const tHeal = Date.now()
      await world.network.heal(ns)
      world.log(`test: ${old} healed`)
      converged(t, 'partition-healed', await c.waitSteady({ timeoutMs: 90_000, sinceMs: tHeal }))
      // A quick run can be over before the writer has done 50: let it go on
      // after the heal (the count below asks that it kept working).
      await c.waitFor(() => writer.acked.length >= 50 || undefined, { timeoutMs: 30_000, what: '50 acknowledged writes' })
    } finally {
      await world.network.heal(ns)
      await writer.stop()
      await monitor.stop()
    }
    t.comment(`membership over time:\n${monitor.describe(tPart)}`)
    t.same(flapped(monitor, tPart), [], 'no member removed')
    t.same(await memberIds(c), ids, 'the same members (IDs): the old leader rejoined')
    t.same(podDeletesSince(c, tPart), [], 'no pod deleted')
    t.same(membershipCalls(c, tPart).filter(x => x.startsWith('remove')), [], 'the hook removed no member')
    t.ok(readyAndRoutedOut(c, old).routed, `${old} is behind the client Service again`)
    t.ok(writer.acked.length >= 50, `the writer ran throughout (${writerSummary(writer)})`)
    await expectAcked(t, c, writer, 'pl/')
  })

  scenario('delete-background', 'S5. the EtcdCluster deleted (background cascade): no membership call while it goes, pods go with it', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const writer = c.writer('db/').start()
    try {
      await c.waitFor(() => writer.acked.length >= 20, { timeoutMs: 30_000, what: '20 acknowledged writes' })
    } finally {
      await writer.stop()
    }
    await expectAcked(t, c, writer, 'db/')
    const ids = await memberIds(c)
    const monitor = c.membershipMonitor()
    let tDel: number
    try {
      await c.waitFor(() => monitor.timeline.length > 0, { timeoutMs: 15_000, what: 'the membership monitor\'s first member list' })
      // A finalizer of the test's own keeps the EtcdCluster, being deleted,
      // with its children (background: they go once it is gone), so that
      // the hook is asked about a deleting parent with every pod present.
      c.setFinalizer('e2e.test/hold', true)
      tDel = c.deleteParent('Background')
      await quietWindow(c, 'of the deleting parent', tDel, 4000, 4)
      const syncs = syncsSince(c, tDel)
      t.ok(syncs.length >= 4 && syncs.every(r => r.deleting), `every sync since saw the deletionTimestamp (${syncs.length} syncs)`)
      t.same(syncs.flatMap(r => [...r.creates, ...r.updates, ...r.deletes]), [], 'no child written')
      t.same(syncs.flatMap(r => r.ignored).filter(x => x.startsWith('delete ')), [], 'the hook asked to delete nothing')
      const lines = hookLines(c, tDel)
      t.ok(lines.length >= 1 && lines.every(e => e.rule === 'parentDeleting'), `the hook's log names rule parentDeleting (${[...new Set(lines.map(e => e.rule))].join(', ')})`)
      t.same(membershipCalls(c, tDel), [], 'the hook\'s log shows no membership call')
      t.equal(c.pods().length, 3, 'the pods stay while the EtcdCluster does')
      c.setFinalizer('e2e.test/hold', false)
      await c.waitFor(() => !world.store.get('EtcdCluster.etcd.database.coreos.com/v1beta2', c.name) && c.podsMadeFor().length === 0, { timeoutMs: 30_000, what: 'the EtcdCluster and then its pods to go' })
      t.pass(`the EtcdCluster and its pods gone ${((Date.now() - tDel) / 1000).toFixed(1)} s after the deletion`)
    } finally {
      await monitor.stop()
    }
    t.comment(`membership over time:\n${monitor.describe(tDel)}`)
    t.same(voterSets(monitor), [[...ids.keys()].sort().join(',')], 'etcd\'s member list never changed while pods answered')
    t.same(membershipCalls(c, tDel), [], 'no membership call at all since the deletion')
  })

  scenario('replace-during-blocked-upgrade', 'S6. an upgrade the hook refuses (3.4 -> 3.6), then a member lost: its replacement runs the cluster\'s version', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const ids = await memberIds(c)
    const monitor = c.membershipMonitor()
    const writer = c.writer('bu/').start()
    let tUp: number
    let tFail: number
    let victim: string
    try {
      await writing(c, writer)
      tUp = c.updateSpec(s => (s.version = '3.6.14'))
      const blocked = await c.waitFor(() => c.status.observedGeneration === c.parent.metadata.generation && c.condition('Upgrading')?.reason === 'UpgradeBlocked' && c.condition('Upgrading'), { timeoutMs: 30_000, what: 'Upgrading=UpgradeBlocked' })
      t.match(blocked.message, /skips a minor version/, `the condition names the rule: ${blocked.message}`)
      const leader = await c.leader()
      victim = c.livePods().map(p => p.metadata.name).find(n => n !== leader)!
      tFail = Date.now()
      process.kill(world.kubelet.pid(victim)!, 'SIGKILL')
      world.kubelet.failPod(victim)
      converged(t, 'replace-during-blocked-upgrade', await c.waitSteady({ timeoutMs: 150_000, sinceMs: tFail, image: IMAGE(VERSION), upgradeBlocked: true }))
    } finally {
      await writer.stop()
      await monitor.stop()
    }
    t.comment(`membership over time:\n${monitor.describe(tFail)}`)
    t.comment(`what the hook did: ${actionsSince(c, tUp).join(' | ')}`)
    const created = podCreatesSince(c, tFail)
    t.equal(created.length, 1, `one replacement pod (${created.join(', ')})`)
    const replacement = c.pod(created[0] ?? '')
    t.equal(replacement?.spec?.containers?.[0]?.image, IMAGE(VERSION), `the replacement ${created[0]} runs the cluster's version ${VERSION}, not spec.version 3.6.14`)
    t.ok(c.livePods().every(p => p.spec?.containers?.[0]?.image === IMAGE(VERSION)), 'every pod on the cluster\'s version')
    t.same(world.kubelet.imageChanges.filter(ch => ch.atMs >= tUp && ch.pod.startsWith(`${c.name}-`)), [], 'no image moved in place')
    const after = await memberIds(c)
    t.notOk(after.has(victim), `the lost member ${victim} left etcd`)
    t.equal([...after.values()].filter(id => ![...ids.values()].includes(id)).length, 1, 'one new member')
    t.equal(c.condition('Upgrading')?.reason, 'UpgradeBlocked', 'the upgrade stays blocked')
    t.match(c.condition('Upgrading')?.message, /skips a minor version/, 'the condition still names the rule')
    t.equal(c.status.currentVersion, VERSION, `status.currentVersion ${VERSION}`)
    t.ok(monitor.minVoters >= 2 && mostLearners(monitor) <= 1, `at most one learner, never fewer than 2 voters (fewest ${monitor.minVoters})`)
    await expectAcked(t, c, writer, 'bu/')
  })

  scenario('hookkill-promote', 'S7. the hook killed after adding a learner, back once its pod runs: it promotes, no second learner', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const ids = await memberIds(c)
    let killed: { pod: string, atMs: number } | undefined
    let learnerWhenBack: boolean | undefined
    let restartedAt = 0
    let restarted: Promise<void> | undefined
    c.mc.intercept = async (_request, response): Promise<'apply' | 'drop'> => {
      // (not "added member x as a learner failed; retrying")
      const added = /^added member (\S+) as a learner$/.exec(String(response.status?.lastAction ?? ''))
      if (killed || !added?.[1]) return 'apply'
      const pod = added[1]
      // The learner is in etcd and the answer creates its pod: the hook
      // dies right after (the answer still applies, as one that left it).
      await world.hook!.kill('SIGKILL')
      killed = { pod, atMs: Date.now() }
      world.log(`test: killed the hook after it added learner ${pod}`)
      restarted = c.waitFor(async () => {
        const ml = await c.members()
        const m = ml?.members.find(x => x.name === pod)
        return c.pod(pod)?.status?.phase === 'Running' && m?.isLearner === true && m
      }, { timeoutMs: 60_000, what: `the learner ${pod} to run` }).then(async () => {
        await sleep(2000)
        learnerWhenBack = (await c.members())?.members.find(x => x.name === pod)?.isLearner
      }).finally(async () => {
        // Back in any case: the scenarios after this one need it.
        restartedAt = Date.now()
        await world.hook!.start()
        world.log(`test: hook back; ${pod} ${learnerWhenBack ? 'still a learner' : 'not a learner'}`)
      })
      return 'apply'
    }
    const monitor = c.membershipMonitor()
    const writer = c.writer('hp/').start()
    let tS: number
    try {
      await writing(c, writer)
      tS = c.updateSpec(s => (s.size = 4))
      await c.waitFor(() => killed, { timeoutMs: 60_000, what: 'a learner to be added' })
      await restarted
      converged(t, 'hookkill-promote', await c.waitSteady({ timeoutMs: 120_000, sinceMs: tS, size: 4 }))
    } finally {
      c.mc.intercept = undefined
      await writer.stop()
      await monitor.stop()
    }
    t.comment(`membership over time:\n${monitor.describe(tS)}`)
    t.comment(`what the hook did: ${actionsSince(c, tS).join(' | ')}`)
    const pod = killed?.pod ?? '(none)'
    t.equal(learnerWhenBack, true, `${pod}'s pod ran and it was still a learner when the hook came back`)
    const down = syncsSince(c, killed?.atMs ?? 0).filter(r => r.atMs < restartedAt && r.error)
    t.ok(down.length >= 1, `Metacontroller's syncs failed while the hook was down (${down.length})`)
    t.ok(actionsSince(c, restartedAt).includes(`promoted learner ${pod}`), 'the restarted hook promoted it')
    t.ok(mostLearners(monitor) <= 1, `never a second learner (most: ${mostLearners(monitor)})`)
    t.same(podCreatesSince(c, tS), [pod], `one pod created (${podCreatesSince(c, tS).join(', ')})`)
    const after = await memberIds(c)
    t.same([...after.keys()].sort(), [...ids.keys(), pod].sort(), 'four members: the three and the promoted one')
    for (const [name, id] of ids) t.equal(after.get(name), id, `${name} is still the same member`)
    t.ok(writer.acked.length >= 30, `the writer ran throughout (${writerSummary(writer)})`)
    await expectAcked(t, c, writer, 'hp/')
  })

  scenario('lag-parent', 'S8. the EtcdCluster informer 2 s behind: a size change seen late, status writes land, names only grow', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const ids = await memberIds(c)
    const LAG_MS = 2000
    c.mc.informerLag = { syncs: 1, parentMs: LAG_MS }
    const monitor = c.membershipMonitor()
    const writer = c.writer('lp/').start()
    let up: number
    let generation = 0
    try {
      await writing(c, writer)
      up = c.updateSpec(s => (s.size = 4))
      generation = c.parent.metadata.generation ?? 0
      converged(t, 'lag-parent-scale-3-to-4', await c.waitSteady({ timeoutMs: 120_000, sinceMs: up, size: 4 }))
    } finally {
      await writer.stop()
      await monitor.stop()
      c.mc.informerLag = { syncs: 0 }
    }
    t.comment(`membership over time:\n${monitor.describe(up)}`)
    t.comment(`what the hook did: ${actionsSince(c, up).join(' | ')}`)
    const first = syncsSince(c, up).find(r => r.generation === generation)
    t.ok(first && first.atMs - up >= LAG_MS, `the first sync showing size 4 started ${first ? ((first.atMs - up) / 1000).toFixed(1) : '?'} s after the change`)
    t.equal(c.status.observedGeneration, generation, 'status.observedGeneration reached the change: status writes landed')
    t.same(podCreatesSince(c, up), [`${c.name}-3`], 'one pod created, the next name')
    t.same(podDeletesSince(c, up), [], 'no pod deleted')
    t.same(flapped(monitor, up), [], 'no member left etcd once in it')
    t.ok(mostLearners(monitor) <= 1, 'never a second learner')
    t.equal(c.status.highestOrdinal, 3, 'status.highestOrdinal 3')
    const after = await memberIds(c)
    for (const [name, id] of ids) t.equal(after.get(name), id, `${name} is still the same member`)
    t.ok(writer.acked.length >= 30, `the writer ran throughout (${writerSummary(writer)})`)
    await expectAcked(t, c, writer, 'lp/')
  })
}
