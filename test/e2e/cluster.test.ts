// End to end: real etcd clusters run from the hook's own pods, driven by the
// real hook server (dist/server/main.js) through a Metacontroller stand-in. Each
// scenario asserts on real etcd and prints its convergence time (seconds
// from the change to a steady, Available cluster: see Cluster.notSteady).
//
// Scenarios run one after another on one World (they share the machine);
// each has its own EtcdCluster and removes it at the end. E2E_ONLY=a,b runs
// a subset (names below); E2E_VERBOSE=1 prints the harness log.
import { type Test } from 'tap'
import { formatRecord, waitFor } from './harness/world.js'
import { POD, PVC, SERVICE } from './harness/store.js'
import { podReady } from './harness/services.js'
import { memberList } from './harness/etcd.js'
import { Suite, VERSION, IMAGE, memberIds, syncsSince, podDeletesSince, writing, quietWindow, expectEverywhere, expectAcked, flapped, actionsSince } from './harness/scenario.js'

const suite = await Suite.start('cluster.test.ts')
if (suite) {
  const world = suite.world
  const scenario = suite.scenario.bind(suite)
  const converged = (t: Test, what: string, s: number) => suite.converged(t, what, s)

  scenario('create', '1. create size 3', async (t, c) => {
    const start = Date.now()
    converged(t, 'create-3', await c.waitSteady({ timeoutMs: 90_000, sinceMs: start }))
    const pods = c.livePods().map(p => p.metadata.name)
    t.equal(pods.length, 3, `three member pods: ${pods.join(', ')}`)
    const list = await world.etcdctlOk(['member', 'list'], { endpoints: 'http://create-client:2379' })
    const rows = list.trim().split('\n')
    t.equal(rows.length, 3, 'etcdctl member list shows three members')
    t.ok(rows.every(r => r.includes(', started, ') && r.trim().endsWith(', false')), 'all started, none a learner')
    t.equal((await world.etcdctlOk(['put', 'foo', 'bar'], { endpoints: 'http://create-client:2379' })).trim(), 'OK', 'etcdctl put foo bar through the client Service name')
    await expectEverywhere(t, c, 'foo', 'bar')

    const st = c.status
    t.equal(st.phase, 'Running', 'phase Running')
    t.equal(st.size, 3, 'status.size 3')
    t.same([...(st.members?.ready ?? [])].sort(), [...pods].sort(), 'status.members.ready lists the pods')
    t.same(st.members?.unready ?? [], [], 'no unready members')
    t.equal(st.clientURL, 'http://create-client.default.svc:2379', 'status.clientURL')
    t.equal(st.currentVersion, VERSION, 'status.currentVersion')
    const ml = await memberList(world.network, c.podIP(pods[0]!)!)
    t.equal(st.clusterID, BigInt(ml.clusterId).toString(16), 'status.clusterID is etcd\'s (hex)')
    t.equal(st.leader, await c.leader(), 'status.leader is the member that leads')
    // An unchanged world: two more syncs change nothing (no hot loop).
    const a = await c.mc.nextSync()
    const b = await c.mc.nextSync()
    t.ok(!a.error && !b.error && !a.statusChanged && !b.statusChanged, 'status stable across syncs of an unchanged world')
    t.equal(a.creates.length + a.updates.length + a.deletes.length + b.creates.length + b.updates.length + b.deletes.length, 0, 'no child writes in steady state')
    t.ok((b.resyncAfterSeconds ?? 0) >= 10, `steady resync is slow (${b.resyncAfterSeconds} s)`)
  })

  scenario('scale', '2. scale 3 -> 5 -> 3 under writes', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const monitor = c.leaderMonitor()
    const members = c.membershipMonitor()
    const writer = c.writer('w/').start()
    try {
      await writing(c, writer)
      const up = c.updateSpec(s => (s.size = 5))
      converged(t, 'scale-3-to-5', await c.waitSteady({ timeoutMs: 120_000, sinceMs: up }))
      t.same(podDeletesSince(c, up), [], 'scaling up deleted no pod')
      const before = await memberIds(c)
      const down = c.updateSpec(s => (s.size = 3))
      converged(t, 'scale-5-to-3', await c.waitSteady({ timeoutMs: 120_000, sinceMs: down }))
      const deleted = podDeletesSince(c, down)
      // Highest ordinals go; the members that stay are the same members.
      t.same([...deleted].sort(), ['scale-3', 'scale-4'], `scaling down deleted only the removed members' pods (deleted: ${deleted.join(', ') || 'none'})`)
      const after = await memberIds(c)
      for (const name of ['scale-0', 'scale-1', 'scale-2']) {
        t.equal(after.get(name), before.get(name), `${name} is still the same member`)
      }
    } finally {
      await writer.stop()
      await monitor.stop()
      await members.stop()
    }
    t.ok(members.timeline.some(e => e.learners.length > 0), 'learners were seen while scaling up')
    t.equal(members.learnerRoutes, 0, `no learner's pod behind the client Service (seen: ${[...members.learnersRouted].join(', ') || 'none'})`)
    t.ok(writer.acked.length >= 50, `the writer ran throughout (${writer.acked.length} acknowledged, ${writer.failures} failed${writer.failures ? `, last: ${writer.lastError}` : ''})`)
    await expectAcked(t, c, writer, 'w/')
    const ml = await c.members()
    t.same(ml?.members.map(m => m.name).sort(), c.livePods().map(p => p.metadata.name).sort(), 'member list matches the pods')
    t.ok(monitor.maxGapMs <= 5000, `never without a leader for long (longest gap ${(monitor.maxGapMs / 1000).toFixed(1)} s)`)
    t.comment(`leaders seen: ${monitor.timeline.map(e => e.leader ?? '(none)').join(' -> ')}; longest write gap ${(writer.maxAckGapMs / 1000).toFixed(1)} s`)
  })

  scenario('failover', '3. failover: a failed pod and a deleted pod are replaced', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    for (let i = 0; i < 20; i++) await world.etcdctlOk(['put', `f/${i}`, `v${i}`], { endpoints: 'http://failover-client:2379' })

    // a) kill -9 and phase Failed (an eviction).
    const ids0 = await memberIds(c)
    const victim = (await c.leader()) === 'failover-1' ? 'failover-2' : 'failover-1'
    const tFail = Date.now()
    process.kill(world.kubelet.pid(victim)!, 'SIGKILL')
    world.kubelet.failPod(victim)
    converged(t, 'replace-failed-pod', await c.waitSteady({ timeoutMs: 120_000, sinceMs: tFail }))
    const ids1 = await memberIds(c)
    t.notOk(c.pod(victim), `failed pod ${victim} was deleted`)
    t.notOk([...ids1.values()].includes(ids0.get(victim)!), `the failed member ${victim} left etcd`)
    t.equal([...ids1.values()].filter(id => ![...ids0.values()].includes(id)).length, 1, `one new member (${[...ids1.keys()].join(', ')})`)

    // b) the leader's pod deleted (kubectl delete pod).
    const leader = (await c.leader()) ?? c.livePods()[0]!.metadata.name
    const tDel = Date.now()
    world.store.delete(POD, leader)
    converged(t, 'replace-deleted-pod', await c.waitSteady({ timeoutMs: 120_000, sinceMs: tDel }))
    const ids2 = await memberIds(c)
    t.notOk([...ids2.values()].includes(ids1.get(leader)!), `the deleted pod's member (${leader}) left etcd`)
    t.equal([...ids2.values()].filter(id => ![...ids1.values()].includes(id)).length, 1, `one new member (${[...ids2.keys()].join(', ')})`)

    const got = await world.etcdctlOk(['get', 'f/', '--prefix', '--keys-only'], { endpoints: 'http://failover-client:2379' })
    t.equal(got.trim().split('\n').filter(Boolean).length, 20, 'all 20 keys through the client Service')
    const per = await c.readEveryMember('f/')
    for (const [pod, kv] of per) t.equal(kv.size, 20, `all 20 keys on ${pod}`)
  })

  scenario('quorum', '4. lose a majority, then bring it back', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    await world.etcdctlOk(['put', 'q', 'before'], { endpoints: 'http://quorum-client:2379' })
    const ids = await memberIds(c)
    const pods = c.livePods().map(p => p.metadata.name)
    const down = pods.slice(1)
    const survivor = pods[0]!
    const restartsBefore = c.pod(survivor)?.status?.containerStatuses?.[0]?.restartCount
    const tDown = Date.now()
    for (const p of down) await world.kubelet.nodeDown(p)
    const lost = await c.waitFor(() => c.condition('Available')?.status === 'False' && c.status.observedGeneration === c.parent.metadata.generation && c.condition('Available'), {
      timeoutMs: 60_000,
      what: 'status to report that quorum is lost',
    })
    const tLost = Date.now()
    t.pass(`status says Available=False after ${((tLost - tDown) / 1000).toFixed(1)} s: ${lost.reason}: ${lost.message} (phase ${c.status.phase})`)
    t.match(lost.reason, /quorum|leader/i, 'the reason names the lost quorum')
    // Several syncs while quorum is lost (after the status said so): nothing
    // deleted, nothing created.
    await quietWindow(c, 'while quorum is lost', tLost, 6000, 2)
    const during = syncsSince(c, tDown)
    t.ok(during.length >= 2, `the hook was asked ${during.length} times meanwhile`)
    t.same(during.flatMap(r => [...r.deletes, ...r.creates]), [], 'the hook deleted and created nothing while quorum was lost')
    t.same(c.pods().map(p => p.metadata.name), pods, 'every pod is still there')
    // Liveness must not need quorum, or losing it restarts every member.
    t.equal(c.pod(survivor)?.status?.containerStatuses?.[0]?.restartCount, restartsBefore, `the surviving member ${survivor} was not restarted by its liveness probe`)

    const tUp = Date.now()
    for (const p of down) await world.kubelet.nodeUp(p)
    converged(t, 'quorum-restored', await c.waitSteady({ timeoutMs: 90_000, sinceMs: tUp }))
    t.same(await memberIds(c), ids, 'the same members as before')
    t.same(syncsSince(c, tDown).flatMap(r => r.deletes), [], 'nothing was ever deleted')
    await expectEverywhere(t, c, 'q', 'before')
  })

  scenario(
    'upgrade',
    '5. upgrade 3.4.22 -> 3.4.23, followers first, the leader last',
    async (t, c) => {
      await c.waitSteady({ timeoutMs: 90_000, image: IMAGE('3.4.22') })
      await world.etcdctlOk(['put', 'u', 'kept'], { endpoints: 'http://upgrade-client:2379' })
      const monitor = c.leaderMonitor(200)
      const leaderBefore = await waitFor(() => c.leader(), { timeoutMs: 30_000, what: 'a leader' })
      // The monitor knows who leads before anything changes.
      await waitFor(() => monitor.leaderAt(Date.now()), { timeoutMs: 30_000, what: 'the leader monitor to see a leader' })
      const tUp = c.updateSpec(s => (s.version = VERSION))
      try {
        converged(t, 'upgrade-3', await c.waitSteady({ timeoutMs: 150_000, sinceMs: tUp }))
      } finally {
        await monitor.stop()
      }
      const changes = world.kubelet.imageChanges.filter(ch => ch.atMs >= tUp && ch.pod.startsWith('upgrade-'))
      t.same(changes.map(ch => ch.to), [IMAGE(VERSION), IMAGE(VERSION), IMAGE(VERSION)], 'three image changes to the new version')
      t.same(new Set(changes.map(ch => ch.pod)).size, 3, `each member once: ${changes.map(ch => ch.pod).join(' -> ')}`)
      t.same(podDeletesSince(c, tUp), [], 'no pod deleted: images change in place')
      t.equal(changes[changes.length - 1]?.pod, leaderBefore, `the leader (${leaderBefore}) went last`)
      changes.forEach((ch, i) => {
        const leaderThen = monitor.leaderAt(ch.atMs)
        if (i < changes.length - 1) t.not(leaderThen, ch.pod, `${ch.pod} was a follower when its image changed (leader ${leaderThen})`)
        else t.comment(`the last pod ${ch.pod} was ${leaderThen === ch.pod ? 'still the leader' : `no longer the leader (leader ${leaderThen})`} when its image changed`)
        const next = changes[i + 1]
        if (next) {
          const readyAgain = world.kubelet.readyLog(ch.pod).find(([at, ready]) => ready && at > ch.atMs)
          t.ok(readyAgain && readyAgain[0] <= next.atMs, `${ch.pod} was Ready on the new image before ${next.pod} changed`)
        }
      })
      for (const p of c.livePods()) t.equal(p.status?.containerStatuses?.[0]?.restartCount, 1, `${p.metadata.name} restarted once, in place`)
      t.equal(c.status.currentVersion, VERSION, 'status.currentVersion is the new version')
      await expectEverywhere(t, c, 'u', 'kept')
    },
    { version: '3.4.22' },
  )

  scenario('pause', '6. paused: a size change waits; unpaused it proceeds', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    c.updateSpec(s => (s.paused = true))
    await c.waitFor(() => c.status.controlPaused === true && c.status.observedGeneration === c.parent.metadata.generation, { timeoutMs: 30_000, what: 'status.controlPaused' })
    const tP = c.updateSpec(s => (s.size = 5))
    // The hook has seen the size change (the status says so), then several
    // syncs of it while paused.
    await c.waitFor(() => c.status.observedGeneration === c.parent.metadata.generation, { timeoutMs: 30_000, what: 'status.observedGeneration to reach the size change' })
    await quietWindow(c, 'while paused', tP, 4000, 2)
    const during = syncsSince(c, tP)
    t.same(during.flatMap(r => [...r.creates, ...r.deletes, ...r.updates]), [], `no child changed in ${during.length} syncs while paused`)
    t.equal(c.livePods().length, 3, 'still three pods')
    t.equal((await c.members())?.members.length, 3, 'still three members')
    t.equal(c.status.controlPaused, true, 'status.controlPaused')
    t.equal(c.status.observedGeneration, c.parent.metadata.generation, 'the size change was observed')
    const tU = c.updateSpec(s => (s.paused = false))
    converged(t, 'unpause-scale-3-to-5', await c.waitSteady({ timeoutMs: 120_000, sinceMs: tU }))
    t.equal(c.status.controlPaused, false, 'controlPaused false again')
  })

  scenario(
    'lb',
    '7. LoadBalancer: external address works; disabled, it goes away',
    async (t, c) => {
      const start = Date.now()
      await c.waitSteady({ timeoutMs: 90_000 })
      const url = await c.waitFor(() => (c.status.externalClientURLs ?? [])[0] as string | undefined, { timeoutMs: 20_000, what: 'status.externalClientURLs' })
      converged(t, 'create-3-with-lb', Math.round((Date.now() - start) / 100) / 10)
      const ingress = c.service('lb-client-lb')?.status?.loadBalancer?.ingress?.[0]?.ip
      t.equal(url, `http://${ingress}:2379`, `externalClientURLs shows the load balancer address (${url})`)
      t.same(c.status.externalClientURLs, [url], 'exactly one external URL')
      await world.etcdctlOk(['put', 'foo', 'bar'], { endpoints: 'http://lb-client:2379' })
      const got = await world.etcdctlOk(['get', 'foo', '--print-value-only'], { endpoints: url, from: 'external' })
      t.equal(got.trim(), 'bar', 'etcdctl get foo through the external address, from outside the cluster')

      const tOff = c.updateSpec(s => (s.loadBalancer = { enabled: false }))
      await c.waitFor(() => !c.service('lb-client-lb') && (c.status.externalClientURLs ?? []).length === 0 && c.status.observedGeneration === c.parent.metadata.generation, {
        timeoutMs: 20_000,
        what: 'the LoadBalancer Service and the external URL to go',
      })
      converged(t, 'disable-lb', await c.waitSteady({ timeoutMs: 30_000, sinceMs: tOff }))
      await world.services.settled()
      t.notOk(world.services.proxyNamespace('lb-client-lb'), 'the load balancer is gone')
      t.ok(c.service('lb-client'), 'the client Service stays')
      t.equal((await world.etcdctlOk(['get', 'foo', '--print-value-only'], { endpoints: 'http://lb-client:2379' })).trim(), 'bar', 'the client Service still serves')
    },
    { loadBalancer: { enabled: true } },
  )

  scenario('hookkill', '8. the hook dies between a membership step and the pod\'s creation', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    await world.etcdctlOk(['put', 'h', 'kept'], { endpoints: 'http://hookkill-client:2379' })
    let dropped: { pod: string, memberAdded: boolean } | undefined
    let restarted: Promise<void> | undefined
    c.mc.intercept = async (request, response) => {
      if (dropped) return 'apply'
      const observed = request.children['Pod.v1'] ?? {}
      const joining = (response.children ?? []).find(
        (o: any) => o?.kind === 'Pod' && !observed[o.metadata?.name] && (o.spec?.containers?.[0]?.args ?? []).includes('--initial-cluster-state=existing'),
      )
      if (!joining) return 'apply'
      // The hook has answered: its membership write is done. Kill it as if
      // it died before the answer left, and drop the answer.
      await world.hook!.kill('SIGKILL')
      const ml = await c.members()
      const memberAdded = !!ml?.members.some(m => m.name === '' && m.peerURLs.some(u => u.includes(`//${joining.metadata.name}.`)))
      dropped = { pod: joining.metadata.name, memberAdded }
      world.log(`test: killed the hook and dropped its answer creating ${joining.metadata.name} (member added: ${memberAdded})`)
      // Down until Metacontroller has seen it down (a sync that failed
      // without an answer), then back, as its Deployment would bring it.
      const killedAt = Date.now()
      restarted = c.waitFor(() => c.mc.records.some(r => r.atMs >= killedAt && r.error && !r.dropped), { timeoutMs: 30_000, what: 'a sync to fail while the hook is down' })
        .then(() => world.hook!.start())
      return 'drop'
    }
    const tS = c.updateSpec(s => (s.size = 4))
    await c.waitFor(() => dropped !== undefined, { timeoutMs: 60_000, what: 'a response creating a joining member pod' })
    await restarted
    converged(t, 'scale-3-to-4-hook-killed', await c.waitSteady({ timeoutMs: 120_000, sinceMs: tS }))
    c.mc.intercept = undefined
    t.ok(dropped?.memberAdded, `the member for ${dropped?.pod} had been added to etcd when the hook died`)
    const errors = syncsSince(c, tS).filter(r => r.error && !r.dropped)
    t.ok(errors.length >= 1, `Metacontroller saw the hook down (${errors.length} failed syncs: ${errors.map(r => r.error?.slice(0, 60)).join(' | ')})`)
    t.ok(c.pod(dropped?.pod ?? ''), `the added member's pod ${dropped?.pod} exists after all`)
    const ml = await c.members()
    t.notOk(ml?.members.some(m => m.name === ''), 'no member left unstarted')
    t.equal(ml?.members.length, 4, 'four members')
    await expectEverywhere(t, c, 'h', 'kept')
    t.comment(`syncs after the kill: ${syncsSince(c, tS).slice(0, 12).map(formatRecord).join('\n  ')}`)
  })

  scenario(
    'persistent',
    '9. members on PersistentVolumeClaims: a deleted pod comes back as the same member',
    async (t, c) => {
      converged(t, 'create-3-persistent', await c.waitSteady({ timeoutMs: 90_000 }))
      const claims = () => c.children(PVC).filter(o => !o.metadata.deletionTimestamp).map(o => o.metadata.name).sort()
      t.same(claims(), ['etcd-data-persistent-0', 'etcd-data-persistent-1', 'etcd-data-persistent-2'], 'one claim per member')
      await world.etcdctlOk(['put', 'p', 'kept'], { endpoints: 'http://persistent-client:2379' })
      const ids = await memberIds(c)
      const tDel = Date.now()
      world.store.delete(POD, 'persistent-1')
      await c.waitFor(() => c.pod('persistent-1')?.metadata.uid !== undefined && !c.pod('persistent-1')?.metadata.deletionTimestamp && c.pod('persistent-1')!.metadata.creationTimestamp! >= new Date(tDel - 1000).toISOString().replace(/\.\d+Z$/, 'Z'), { timeoutMs: 30_000, what: 'persistent-1 to be created again' })
      converged(t, 'restart-on-claim', await c.waitSteady({ timeoutMs: 90_000, sinceMs: tDel }))
      t.same(await memberIds(c), ids, 'the same members: persistent-1 restarted on its own data')
      t.same(claims(), ['etcd-data-persistent-0', 'etcd-data-persistent-1', 'etcd-data-persistent-2'], 'the claims stay')
      t.ok(world.kubelet.readyLog('persistent-1').length > 0, 'the new pod ran')
      await expectEverywhere(t, c, 'p', 'kept')
    },
    { pod: { persistentVolumeClaimSpec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } },
  )

  scenario(
    'tls',
    '10. static TLS: members talk https, clients need a certificate; scaling uses the operator certificate',
    async (t, c) => {
      const start = Date.now()
      converged(t, 'create-3-tls', await c.waitSteady({ timeoutMs: 120_000, sinceMs: start }))
      t.ok(c.mc.customizeCalls >= 1, `the customize hook was asked (${c.mc.customizeCalls} times)`)
      const tls = c.tls!
      const ep = 'https://tls-client:2379'
      t.equal((await world.etcdctlOk([...c.etcdctlTLS(), 'put', 'secure', 'yes'], { endpoints: ep })).trim(), 'OK', 'etcdctl put over https through the client Service name, with the client certificate')
      t.equal((await world.etcdctlOk([...c.etcdctlTLS(), 'get', 'secure', '--print-value-only'], { endpoints: ep })).trim(), 'yes', 'etcdctl get over https with the client certificate')
      const anon = await world.etcdctl([`--cacert=${tls.files.cacert}`, 'get', 'secure', '--print-value-only'], { endpoints: ep })
      t.not(anon.code, 0, `without a client certificate etcdctl is refused (exit ${anon.code}: ${anon.stderr.trim().split('\n').pop()})`)
      t.notMatch(anon.stdout, /yes/, 'and reads nothing')
      const plain = await world.etcdctl(['get', 'secure', '--print-value-only'], { endpoints: 'http://tls-client:2379' })
      t.not(plain.code, 0, 'plain http is refused')
      const list = JSON.parse(await world.etcdctlOk([...c.etcdctlTLS(), 'member', 'list', '-w', 'json'], { endpoints: ep })) as { members?: Array<{ name?: string, peerURLs?: string[], clientURLs?: string[] }> }
      const members = list.members ?? []
      t.equal(members.length, 3, 'three members')
      for (const m of members) {
        t.match(m.peerURLs ?? [], [/^https:\/\/tls-\d+\.tls\.default\.svc:2380$/], `${m.name} peer URL is https (${(m.peerURLs ?? []).join()})`)
        t.match(m.clientURLs ?? [], [/^https:\/\/tls-\d+\.tls\.default\.svc:2379$/], `${m.name} client URL is https`)
      }
      await expectEverywhere(t, c, 'secure', 'yes')

      // Scaling needs membership calls to the https members: the hook uses
      // the operator certificate Metacontroller sent in `related`.
      const up = c.updateSpec(s => (s.size = 4))
      converged(t, 'tls-scale-3-to-4', await c.waitSteady({ timeoutMs: 120_000, sinceMs: up }))
      const actions = syncsSince(c, up).map(r => r.status?.lastAction as string | undefined).filter((a, i, all) => a && a !== all[i - 1])
      t.ok(actions.includes('added member tls-3 as a learner'), `lastAction said the learner was added (${actions.join(' | ')})`)
      t.ok(actions.includes('promoted learner tls-3'), 'lastAction said it was promoted')
      t.equal(c.status.lastAction, 'promoted learner tls-3', 'status.lastAction at the end')
      t.same(podDeletesSince(c, up), [], 'scaling up deleted no pod')
      const ml = await c.members()
      t.same(ml?.members.map(m => m.name).sort(), ['tls-0', 'tls-1', 'tls-2', 'tls-3'], 'four members')
      t.ok(ml?.members.every(m => m.peerURLs.every(u => u.startsWith('https://'))), 'all peer URLs https')
      await expectEverywhere(t, c, 'secure', 'yes')
      // These members refuse plain http: the status must say https.
      t.equal(c.status.clientURL, 'https://tls-client.default.svc:2379', 'status.clientURL is https')
    },
    {},
    { tls: true },
  )

  scenario(
    'restart-all',
    '11. members on PersistentVolumeClaims: every pod deleted at once, the cluster comes back with its data',
    async (t, c) => {
      await c.waitSteady({ timeoutMs: 90_000 })
      const claims = () => c.children(PVC).filter(o => !o.metadata.deletionTimestamp).map(o => o.metadata.name).sort()
      const claimsBefore = claims()
      t.same(claimsBefore, ['etcd-data-restart-all-0', 'etcd-data-restart-all-1', 'etcd-data-restart-all-2'], 'one claim per member')
      for (let i = 0; i < 30; i++) await world.etcdctlOk(['put', `r/${String(i).padStart(2, '0')}`, `v${i}`], { endpoints: 'http://restart-all-client:2379' })
      const ids = await memberIds(c)
      const clusterID = c.status.clusterID
      const before = new Map(c.livePods().map(p => [p.metadata.name, p.metadata.uid]))
      const claimUids = new Map(c.children(PVC).map(o => [o.metadata.name, o.metadata.uid]))

      // A whole-cluster restart: every member pod deleted in one go.
      const tDel = Date.now()
      for (const name of before.keys()) world.store.delete(POD, name)
      await c.waitFor(() => [...before].every(([name, uid]) => {
        const p = c.pod(name)
        return p && p.metadata.uid !== uid && !p.metadata.deletionTimestamp && podReady(p)
      }), {
        timeoutMs: 90_000,
        what: 'a new, Ready pod for every member',
      })
      converged(t, 'restart-all-3', await c.waitSteady({ timeoutMs: 90_000, sinceMs: tDel }))

      const syncs = syncsSince(c, tDel)
      const actions = syncs.map(r => r.status?.lastAction as string | undefined).filter((a, i, all) => a && a !== all[i - 1])
      t.comment(`what the hook did: ${actions.join(' | ')}`)
      const created = syncs.flatMap(r => r.creates).filter(x => x.startsWith('Pod.v1/')).map(x => x.slice('Pod.v1/'.length))
      t.same([...new Set(created)].sort(), [...before.keys()].sort(), `each member's pod created again under its own name (created: ${created.join(', ')})`)
      t.same(c.livePods().map(p => p.metadata.name).sort(), [...before.keys()].sort(), 'no new ordinal')
      t.same(await memberIds(c), ids, 'the same member IDs')
      t.equal(c.status.clusterID, clusterID, 'the same cluster ID')
      t.same(claims(), claimsBefore, 'the same claims')
      t.same(new Map(c.children(PVC).map(o => [o.metadata.name, o.metadata.uid])), claimUids, 'the same claim objects (none deleted and re-made)')
      t.same(syncs.flatMap(r => r.deletes).filter(d => d.startsWith('PersistentVolumeClaim.v1/')), [], 'no claim was ever deleted')
      const got = await world.etcdctlOk(['get', 'r/', '--prefix', '--keys-only'], { endpoints: 'http://restart-all-client:2379' })
      t.equal(got.trim().split('\n').filter(Boolean).length, 30, 'all 30 keys through the client Service')
      for (const [pod, kv] of await c.readEveryMember('r/')) t.equal(kv.size, 30, `all 30 keys on ${pod}`)
      await expectEverywhere(t, c, 'r/29', 'v29')
    },
    { pod: { persistentVolumeClaimSpec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } },
  )

  scenario('policy', '12. a pod policy change rolls out by replacement, one member at a time, under writes', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const POLICY = 'etcd.database.coreos.com/pod-policy'
    const original = new Map(c.livePods().map(p => [p.metadata.name, p.metadata.annotations?.[POLICY]]))
    const oldPolicy = [...original.values()][0]
    t.ok(oldPolicy && [...original.values()].every(v => v === oldPolicy), `every pod carries the policy annotation (${oldPolicy})`)
    const monitor = c.membershipMonitor()
    const writer = c.writer('pw/').start()
    let tP: number
    try {
      await writing(c, writer)
      tP = c.updateSpec(s => (s.pod = { ...(s.pod ?? {}), etcdEnv: [{ name: 'ETCD_SNAPSHOT_COUNT', value: '5000' }] }))
      const outdated = await c.waitFor(() => c.status.observedGeneration === c.parent.metadata.generation && (c.status.members?.outdated as string[] | undefined), { timeoutMs: 30_000, what: 'status.members.outdated after the change' })
      t.same([...outdated].sort(), [...original.keys()].sort(), `status.members.outdated lists every old member at first (${outdated.join(', ')})`)
      converged(t, 'policy-rollout-3', await c.waitSteady({ timeoutMs: 240_000, sinceMs: tP }))
    } finally {
      await writer.stop()
      await monitor.stop()
    }
    t.comment(`membership over time:\n${monitor.describe(tP)}`)
    const syncs = syncsSince(c, tP)
    const actions = syncs.map(r => r.status?.lastAction as string | undefined).filter((a, i, all) => a && a !== all[i - 1])
    t.comment(`what the hook did: ${actions.join(' | ')}`)

    const pods = c.livePods()
    t.equal(pods.length, 3, 'three pods')
    t.same(pods.filter(p => original.has(p.metadata.name)).map(p => p.metadata.name), [], 'no pod of the old policy is left')
    const newPolicy = pods[0]?.metadata.annotations?.[POLICY]
    t.not(newPolicy, oldPolicy, `the policy annotation changed (${oldPolicy} -> ${newPolicy})`)
    for (const p of pods) {
      const env = (p.spec?.containers?.[0]?.env ?? []) as Array<{ name: string, value?: string }>
      t.same(env.filter(e => e.name === 'ETCD_SNAPSHOT_COUNT'), [{ name: 'ETCD_SNAPSHOT_COUNT', value: '5000' }], `${p.metadata.name}'s etcd container has the new env`)
      t.equal(p.metadata.annotations?.[POLICY], newPolicy, `${p.metadata.name} carries the new policy annotation`)
      t.match(c.podLog(p.metadata.name, 100000), /snapshot count = 5000/, `${p.metadata.name}'s etcd runs with snapshot count 5000`)
    }
    t.same(c.status.members?.outdated ?? [], [], 'status.members.outdated drained to empty')
    const outdatedSeen = syncs.filter(r => r.status).map(r => ((r.status.members?.outdated ?? []) as string[]).length)
    t.ok(outdatedSeen.every((n, i) => i === 0 || n <= outdatedSeen[i - 1]!), `status.members.outdated only shrank (${[...new Set(outdatedSeen)].join(' -> ')})`)

    // One new member added, then one old removed, three times.
    const created = syncs.flatMap(r => r.creates).filter(x => x.startsWith('Pod.v1/'))
    const deleted = syncs.flatMap(r => r.deletes).filter(x => x.startsWith('Pod.v1/'))
    t.equal(created.length, 3, `three pods created (${created.join(', ')})`)
    t.same(deleted.map(x => x.slice('Pod.v1/'.length)).sort(), [...original.keys()].sort(), `the three old pods deleted (${deleted.join(', ')})`)
    t.ok(monitor.polls >= 20, `the member list was watched throughout (${monitor.polls} polls)`)
    t.ok(monitor.minVoters >= 3, `never fewer than 3 voters (fewest: ${monitor.minVoters})`)
    t.ok(monitor.maxMembers <= 4, `never more than 4 members (most: ${monitor.maxMembers})`)
    const podUpdates = syncs.flatMap(r => r.updates).filter(u => u.startsWith('Pod.v1/') && /\bspec\b/.test(u))
    t.same(podUpdates, [], 'no live pod was re-rendered (no pod spec update)')

    t.ok(writer.acked.length >= 50, `the writer ran throughout (${writer.acked.length} acknowledged, ${writer.failures} failed${writer.failures ? `, last: ${writer.lastError}` : ''}; longest gap ${(writer.maxAckGapMs / 1000).toFixed(1)} s)`)
    await expectAcked(t, c, writer, 'pw/')
    const ml = await c.members()
    t.same(ml?.members.map(m => m.name).sort(), pods.map(p => p.metadata.name).sort(), 'member list matches the pods')
  })

  scenario('lag', '13. informer lag (children two syncs behind): scale 3 -> 5, no member removed, names only grow', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const ids = await memberIds(c)
    c.mc.informerLag = { syncs: 2 }
    // How often a request lacked a pod that existed, or showed one gone.
    let stale = 0
    c.mc.intercept = request => {
      const shown = Object.keys(request.children['Pod.v1'] ?? {}).sort().join()
      const real = c.pods().map(p => p.metadata.name).sort().join()
      if (shown !== real) stale++
      return 'apply'
    }
    const monitor = c.membershipMonitor()
    const writer = c.writer('lag/').start()
    let up: number
    try {
      await writing(c, writer)
      up = c.updateSpec(s => (s.size = 5))
      converged(t, 'lag-scale-3-to-5', await c.waitSteady({ timeoutMs: 150_000, sinceMs: up, size: 5 }))
    } finally {
      await writer.stop()
      await monitor.stop()
      c.mc.intercept = undefined
      c.mc.informerLag = { syncs: 0 }
    }
    t.comment(`membership over time:\n${monitor.describe(up)}`)
    t.comment(`what the hook did: ${actionsSince(c, up).join(' | ')}`)
    t.ok(stale >= 1, `the lag showed: ${stale} sync requests whose pods differed from the store's`)
    t.ok(monitor.polls >= 20, `the member list was watched throughout (${monitor.polls} polls)`)
    t.same(flapped(monitor, up), [], 'no member left etcd\'s member list once in it (no "added X, removed X")')
    t.same(actionsSince(c, up).filter(a => a.includes('remov')), [], 'no removal in lastAction')
    t.same(podDeletesSince(c, up), [], 'no pod deleted')
    const created = syncsSince(c, up).flatMap(r => r.creates).filter(x => x.startsWith('Pod.v1/')).map(x => x.slice('Pod.v1/'.length))
    t.same(created, ['lag-3', 'lag-4'], `each new name created once, in order (created: ${created.join(', ')})`)
    t.equal(c.status.highestOrdinal, 4, 'status.highestOrdinal 4')
    const ml = await c.members()
    t.same(ml?.members.map(m => m.name).sort(), ['lag-0', 'lag-1', 'lag-2', 'lag-3', 'lag-4'], 'five members')
    const after = await memberIds(c)
    for (const [name, id] of ids) t.equal(after.get(name), id, `${name} is still the same member`)
    t.ok(writer.acked.length >= 50, `the writer ran throughout (${writer.acked.length} acknowledged, ${writer.failures} failed${writer.failures ? `, last: ${writer.lastError}` : ''})`)
    await expectAcked(t, c, writer, 'lag/')
  })

  scenario('stuck-learner', '14. a learner whose pod never starts, then size back: removed at once', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const stuck = 'stuck-learner-3'
    const ids = await memberIds(c)
    world.kubelet.unschedulable(stuck)
    const monitor = c.membershipMonitor()
    const writer = c.writer('sl/').start()
    let up: number
    let down: number
    try {
      await writing(c, writer)
      up = c.updateSpec(s => (s.size = 4))
      await c.waitFor(async () => {
        const p = c.pod(stuck)
        const ml = await c.members()
        return p?.status?.phase === 'Pending' && ml?.members.some(m => m.isLearner && m.peerURLs.some(u => u.includes(`//${stuck}.`)))
      }, { timeoutMs: 60_000, what: `a learner for ${stuck} and its Pending pod` })
      const pod = c.pod(stuck)!
      const scheduled = (pod.status?.conditions ?? []).find((x: any) => x.type === 'PodScheduled')
      t.match(scheduled, { status: 'False', reason: 'Unschedulable' }, `${stuck} is Pending, unschedulable (${scheduled?.message})`)
      // The hook has seen it waiting.
      await c.waitFor(() => c.status.observedGeneration === c.parent.metadata.generation && (c.status.lastAction ?? '').includes('learner') && c.mc.lastRecord?.status, { timeoutMs: 30_000, what: 'a sync after the learner was added' })
      down = c.updateSpec(s => (s.size = 3))
      await c.waitFor(async () => {
        const ml = await c.members()
        return ml && !ml.members.some(m => m.peerURLs.some(u => u.includes(`//${stuck}.`))) && !c.pod(stuck)
      }, { timeoutMs: 60_000, what: `the learner ${stuck} out of etcd and its pod gone` })
      t.comment(`the learner was out and its pod gone ${((Date.now() - down) / 1000).toFixed(1)} s after size went back`)
      converged(t, 'stuck-learner-size-back', await c.waitSteady({ timeoutMs: 90_000, sinceMs: down, size: 3 }))
    } finally {
      await writer.stop()
      await monitor.stop()
      world.kubelet.schedulable(stuck)
    }
    t.comment(`membership over time:\n${monitor.describe(up)}`)
    const actions = actionsSince(c, down)
    t.comment(`what the hook did after size went back: ${actions.join(' | ')}`)
    t.ok(actions.some(a => a.startsWith(`removed learner ${stuck}: size is 3`)), `lastAction said the unwanted learner was removed (${actions.join(' | ')})`)
    t.ok(Date.now() - down < 5 * 60_000, 'long before the 15-minute start deadline')
    t.same(podDeletesSince(c, up), [stuck], `only the learner's pod was deleted (${podDeletesSince(c, up).join(', ')})`)
    t.same(await memberIds(c), ids, 'the same three members as before')
    t.ok(monitor.minVoters >= 3, `never fewer than 3 voters (fewest: ${monitor.minVoters})`)
    t.ok(writer.acked.length >= 20, `the writer ran throughout (${writer.acked.length} acknowledged, ${writer.failures} failed${writer.failures ? `, last: ${writer.lastError}` : ''})`)
    await expectAcked(t, c, writer, 'sl/')
  })

  scenario('delete-orphan', '15. the EtcdCluster deleted with --cascade=orphan: pods released and running, no membership change', async (t, c) => {
    await c.waitSteady({ timeoutMs: 90_000 })
    const writer = c.writer('do/').start()
    try {
      await c.waitFor(() => writer.acked.length >= 30, { timeoutMs: 30_000, what: '30 acknowledged writes' })
    } finally {
      await writer.stop()
    }
    const ids = await memberIds(c)
    const uids = new Map(c.livePods().map(p => [p.metadata.name, p.metadata.uid]))
    const podsShown: number[] = []
    c.mc.intercept = request => {
      podsShown.push(Object.keys(request.children['Pod.v1'] ?? {}).length)
      return 'apply'
    }
    const monitor = c.membershipMonitor()
    let tDel: number
    try {
      await c.waitFor(() => monitor.timeline.length > 0, { timeoutMs: 15_000, what: 'the membership monitor\'s first member list' })
      // A finalizer of the test's own keeps the EtcdCluster, being deleted,
      // after the garbage collector has released its children.
      c.setFinalizer('e2e.test/hold', true)
      tDel = c.deleteParent('Orphan')
      await c.waitFor(() => c.parent.metadata.deletionTimestamp && !(c.parent.metadata.finalizers ?? []).includes('orphan') && c.pods().length === 0 && c.children(SERVICE).length === 0, {
        timeoutMs: 30_000,
        what: 'the garbage collector to release the children',
      })
      // Five seconds and four answered syncs of the released state.
      await quietWindow(c, 'after the release', Date.now(), 5000, 4)
    } finally {
      await monitor.stop()
      c.mc.intercept = undefined
    }
    t.comment(`membership over time:\n${monitor.describe(tDel)}`)
    const syncs = syncsSince(c, tDel)
    t.comment(`syncs after the deletion:\n  ${syncs.map(formatRecord).join('\n  ')}`)
    t.comment(`pods in each request: ${podsShown.join(' ')}`)
    t.ok(syncs.length >= 4 && syncs.every(r => r.deleting), `every sync since saw the deletionTimestamp (${syncs.length} syncs)`)
    t.ok(podsShown.some(n => n === 0), 'requests after the release showed no pod')
    t.same(syncs.flatMap(r => [...r.creates, ...r.updates, ...r.deletes]), [], 'no child written')
    t.same(syncs.flatMap(r => r.ignored).filter(x => x.startsWith('delete ')), [], 'the hook asked to delete nothing')
    t.comment(`creates Metacontroller ignored: ${[...new Set(syncs.flatMap(r => r.ignored))].join(', ') || 'none'}`)
    t.equal(monitor.timeline.length, 1, 'etcd\'s member list never changed after the deletion')
    t.ok(monitor.polls >= 10, `the member list was watched throughout (${monitor.polls} polls)`)
    t.same(await memberIds(c), ids, 'the same three members')
    const pods = c.podsMadeFor()
    t.same(new Map(pods.map(p => [p.metadata.name, p.metadata.uid])), uids, 'the same pods')
    t.ok(pods.every(p => !p.metadata.deletionTimestamp && p.status?.phase === 'Running' && podReady(p)), 'each Running and Ready')
    t.ok(pods.every(p => !(p.metadata.ownerReferences ?? []).some(r => r.uid === c.uid)), 'released: no ownerReference to the EtcdCluster')
    t.comment(`status.lastAction: ${c.status.lastAction}; phase ${c.status.phase}`)
    await expectAcked(t, c, writer, 'do/')
    c.setFinalizer('e2e.test/hold', false)
    await c.waitFor(() => !world.store.get('EtcdCluster.etcd.database.coreos.com/v1beta2', c.name), { timeoutMs: 10_000, what: 'the EtcdCluster to go once its last finalizer went' })
    t.equal(c.podsMadeFor().filter(p => !p.metadata.deletionTimestamp).length, 3, 'the released pods keep running after the EtcdCluster is gone')
  })
}
