// EtcdGateway against real etcd processes on 127.0.0.1, started and killed
// here. The steps share one cluster and run in order: a single member, a
// learner added, started, promoted, given the leadership, then removed.
import t, { type Test } from 'tap'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { EtcdError, EtcdGateway, memberIdHex, type EtcdErrorCode } from '../hooks/etcd/gateway.js'
import type { EtcdMember, MembershipAction, Observation } from '../hooks/etcd/types.js'

const ETCD = '/usr/bin/etcd'
const ETCDCTL = '/usr/bin/etcdctl'
const NOT_INSTALLED = 'etcd not installed: apt-get install etcd-server etcd-client'

type Reachable = Extract<Observation, { reachable: true }>

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

// The most a call bounded by `timeoutMs` may take here. It never returns
// before its timeout (timers do not fire early), but on a busy machine it can
// return seconds after it: elapsed times are checked from below, and from
// above only against 10 x the 2 x timeout it needs, which still tells a
// bounded call from one left waiting on an endpoint that never answers.
// Which bound applied, the error text says.
const loose = (timeoutMs: number) => 10 * 2 * timeoutMs

// Without our flags being shadowed by an ETCD_*/ETCDCTL_* of the caller's.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD')))

// Bound a wait: `probe` returns undefined to keep waiting, throws to stop.
async function waitFor<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>, lastSeen = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) {
      const seen = lastSeen()
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen ? `; last seen: ${seen}` : ''}`)
    }
    await sleep(100)
  }
}

// Listen on a port of the kernel's choosing; resolves to that port.
function listenOnLoopback (server: TcpServer | HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (address === null || typeof address === 'string') reject(new Error('no TCP address'))
      else resolve(address.port)
    })
  })
}

// Several at once, so the kernel cannot hand out the same port twice.
async function freePorts (count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createTcpServer())
  const ports = await Promise.all(servers.map(listenOnLoopback))
  await Promise.all(servers.map(server => new Promise(resolve => server.close(resolve))))
  return ports
}

interface EtcdProcess {
  name: string
  clientURL: string
  peerURL: string
  child: ChildProcess
  exited: Promise<void>
  hasExited: () => boolean
  logTail: () => string
}

async function expectEtcdError (t: Test, promise: Promise<unknown>, code: EtcdErrorCode, message: RegExp): Promise<EtcdError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof EtcdError)) {
    t.fail(`expected an EtcdError ${code}, got ${error === undefined ? 'success' : error instanceof Error ? error.message : JSON.stringify(error)}`)
    throw new Error('no EtcdError')
  }
  t.equal(error.code, code, `code ${code}`)
  t.match(error.message, message)
  return error
}

const etcdMissing = !existsSync(ETCD) || !existsSync(ETCDCTL)
if (etcdMissing && process.env.ETCD_OPERATOR_REQUIRE_ALL === '1') {
  t.fail(`${NOT_INSTALLED} (ETCD_OPERATOR_REQUIRE_ALL=1 forbids skipping)`)
} else if (etcdMissing) {
  t.plan(0, NOT_INSTALLED)
} else {
  // Reported as a failure rather than a crash, so that teardown still runs.
  await suite().catch((error: unknown) => t.threw(error))
}

async function suite (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-client-test-'))
  const processes: EtcdProcess[] = []
  const hangingSockets = new Set<Socket>()
  // Made further down; closed by the teardown registered here.
  // eslint-disable-next-line prefer-const
  let hangServer: TcpServer | undefined
  // eslint-disable-next-line prefer-const
  let fakeServer: HttpServer | undefined

  t.teardown(async () => {
    for (const p of processes) p.child.kill('SIGKILL')
    await Promise.race([Promise.all(processes.map(p => p.exited)), sleep(5000)])
    for (const socket of hangingSockets) socket.destroy()
    hangServer?.close()
    fakeServer?.closeAllConnections()
    fakeServer?.close()
    await rm(dir, { recursive: true, force: true })
  })
  // Should the test process die without running teardown.
  process.on('exit', () => {
    for (const p of processes) p.child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  const [client0, peer0, client1, peer1, closedPort] = (await freePorts(5)) as [number, number, number, number, number]
  const url = (port: number) => `http://127.0.0.1:${port}`
  const closedURL = url(closedPort)
  const token = `etcd-client-test-${process.pid}-${Date.now()}`

  function startEtcd (name: string, clientPort: number, peerPort: number, initialCluster: string, state: 'new' | 'existing'): EtcdProcess {
    const clientURL = url(clientPort)
    const peerURL = url(peerPort)
    // prettier-ignore
    const child = spawn(ETCD, [
      '--name', name, '--data-dir', join(dir, name),
      '--listen-client-urls', clientURL, '--advertise-client-urls', clientURL,
      '--listen-peer-urls', peerURL, '--initial-advertise-peer-urls', peerURL,
      '--initial-cluster', initialCluster, '--initial-cluster-state', state,
      '--initial-cluster-token', token,
    ], { env: cleanEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString('utf8')).slice(-4000)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    let gone = false
    const exited = new Promise<void>(resolve => {
      const done = () => {
        gone = true
        resolve()
      }
      child.once('close', done)
      child.once('error', error => {
        keep(Buffer.from(`\nspawn failed: ${error.message}`))
        done()
      })
    })
    const p = { name, clientURL, peerURL, child, exited, hasExited: () => gone, logTail: () => log }
    processes.push(p)
    return p
  }

  const gateway = new EtcdGateway()
  const fast = new EtcdGateway({ requestTimeoutMs: 500 })

  // Poll observe until `done`; on timeout say what was last observed.
  async function observeUntil (endpoints: string[], what: string, done: (o: Reachable) => boolean): Promise<Reachable> {
    let last: Observation | undefined
    return waitFor(
      what,
      20_000,
      async () => {
        for (const p of processes) {
          if (p.hasExited() && endpoints.includes(p.clientURL)) {
            throw new Error(`etcd ${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) while waiting for ${what}:\n${p.logTail()}`)
          }
        }
        last = await gateway.observe({ endpoints })
        return last.reachable && done(last) ? last : undefined
      },
      () => JSON.stringify(last),
    )
  }
  // Retry `action` while etcd refuses it with `notYet` (a state that passes);
  // any other error fails. Returns the last such refusal, if any. (etcd's
  // refusals last up to 5 s: its peers must have been connected that long.)
  async function executeOnceAccepted (action: MembershipAction, notYet: RegExp): Promise<string> {
    let refusal = ''
    await waitFor(
      `etcd to accept: ${action.kind} ${action.pod}`,
      60_000,
      async () => {
        try {
          await gateway.execute(action)
          return true
        } catch (error) {
          if (!(error instanceof EtcdError && error.code === 'Refused' && notYet.test(error.message))) throw error
          refusal = error.message
          return undefined
        }
      },
      () => refusal,
    )
    return refusal
  }
  const memberOf = (o: Reachable, id: string): EtcdMember | undefined => o.members.find(m => m.id === id)

  // A TCP server that accepts and never answers: the timeout case.
  hangServer = createTcpServer(socket => {
    hangingSockets.add(socket)
    socket.on('close', () => hangingSockets.delete(socket))
  })
  const hangURL = url(await listenOnLoopback(hangServer))

  // Filled in as the cluster comes up.
  let clusterId = ''
  let m0Id = ''
  let m1Id = ''

  // A gateway look-alike claiming the newest raft term, so observe ranks it
  // first, that never answers member/list: observe must fall back in time.
  const fakeRequests: string[] = []
  fakeServer = createHttpServer((req, res) => {
    fakeRequests.push(req.url ?? '')
    req.resume()
    if (req.url === '/v3/maintenance/status') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ header: { cluster_id: clusterId, member_id: '42' }, leader: m1Id, raftTerm: '999999', version: '3.5.21' }))
    }
  })
  const fakeURL = url(await listenOnLoopback(fakeServer))

  const m0 = startEtcd('m0', client0, peer0, `m0=${url(peer0)}`, 'new')
  let m1: EtcdProcess | undefined

  await t.test('observe a single-member cluster', async t => {
    const seen = await observeUntil([m0.clientURL], 'm0 to elect itself', o => o.leaderId !== undefined)
    t.match(seen.clusterId, /^[1-9][0-9]*$/, 'cluster ID is a decimal uint64')
    t.match(seen.clusterVersion, /^3\.\d+\.0$/, 'the cluster version, from GET /version')
    t.match(seen.serverVersions?.[seen.leaderId ?? ''], /^3\.\d+\.\d+$/, 'the member\'s server version, from its status')
    t.same(seen.answering, [seen.leaderId], 'the member answered for itself')
    t.equal(seen.members.length, 1)
    const [member] = seen.members
    t.same(member, { id: seen.leaderId, name: 'm0', peerURLs: [m0.peerURL], clientURLs: [m0.clientURL], isLearner: false })
    clusterId = seen.clusterId
    m0Id = member?.id ?? ''
  })

  await t.test('IDs agree with etcdctl', async t => {
    const etcdctl = promisify(execFile)
    const args = ['--endpoints', m0.clientURL, '--command-timeout=5s', 'member', 'list', '-w']
    // JSON.parse would round the uint64s: read the digits with a regex.
    const { stdout: json } = await etcdctl(ETCDCTL, [...args, 'json'], { env: cleanEnv, timeout: 10_000 })
    t.equal(/"cluster_id":(\d+)/.exec(json)?.[1], clusterId, 'cluster ID')
    t.same([...json.matchAll(/"ID":(\d+)/g)].map(m => m[1]), [m0Id], 'member ID (decimal)')
    const { stdout: simple } = await etcdctl(ETCDCTL, [...args, 'simple'], { env: cleanEnv, timeout: 10_000 })
    t.equal(simple.split(',')[0]?.trim(), memberIdHex(m0Id), 'member ID (hex)')
    t.equal(memberIdHex('9302546036378588274'), '8119485545105472', 'hex beyond 2^53')
    t.equal(memberIdHex('not a number'), 'not a number', 'memberIdHex never throws')
  })

  const addM1: MembershipAction = { kind: 'addLearner', pod: 'm1', peerURL: url(peer1), target: { endpoints: [m0.clientURL] } }

  await t.test('addLearner: the new member is an unnamed learner', async t => {
    await gateway.execute(addM1)
    const seen = await observeUntil([m0.clientURL], 'the learner in the member list', o => o.members.length === 2)
    const learner = seen.members.find(m => m.id !== m0Id)
    t.match(learner?.id, /^[1-9][0-9]*$/)
    t.same(learner, { id: learner?.id, name: '', peerURLs: [url(peer1)], clientURLs: [], isLearner: true })
    t.equal(seen.members[0], learner, 'sorted by name: the unnamed learner first')
    t.equal(seen.leaderId, m0Id)
    m1Id = learner?.id ?? ''
    await expectEtcdError(t, gateway.execute(addM1), 'Refused', /^add learner http:\/\/127\.0\.0\.1:\d+ for pod m1: .*etcdserver: (Peer URLs already exists|member ID already exist)$/)
  })

  await t.test('the learner starts and joins', async t => {
    m1 = startEtcd('m1', client1, peer1, `m0=${url(peer0)},m1=${url(peer1)}`, 'existing')
    const seen = await observeUntil([m0.clientURL], 'm1 to start', o => memberOf(o, m1Id)?.name === 'm1')
    t.same(memberOf(seen, m1Id), { id: m1Id, name: 'm1', peerURLs: [url(peer1)], clientURLs: [url(client1)], isLearner: true })
    // A learner answers status but refuses member/list. (m0 may list m1's
    // name a moment before m1 serves clients.)
    const learnerOnly = await waitFor('m1 to serve clients', 10_000, async () => {
      const seen = await gateway.observe({ endpoints: [url(client1)] })
      return !seen.reachable && seen.error.includes('ECONNREFUSED') ? undefined : seen
    })
    t.equal(learnerOnly.reachable, false)
    t.match(learnerOnly, { error: /rpc not supported for learner/ })
    const learnerFirst = await gateway.observe({ endpoints: [m1.clientURL, m0.clientURL] })
    t.match(learnerFirst, { reachable: true, leaderId: m0Id, clusterId })

    // Why the client Services select voters only (VOTER_LABEL): a learner
    // calls itself healthy, so its pod turns Ready, yet refuses a client's
    // reads and writes.
    const health = await fetch(`${m1.clientURL}/health`).then(r => r.json())
    t.same(health, { health: 'true' }, 'a learner answers /health as healthy')
    const put = await fetch(`${m1.clientURL}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: 'a2V5', value: 'dg==' }) })
    t.match(await put.text(), /rpc not supported for learner/, 'and refuses a write')
    const range = await fetch(`${m1.clientURL}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: 'a2V5' }) })
    t.match(await range.text(), /rpc not supported for learner/, 'and a read')
  })

  await t.test('promote', async t => {
    const promoteM0: MembershipAction = { kind: 'promote', pod: 'm0', memberId: m0Id, target: { endpoints: [m0.clientURL] } }
    await expectEtcdError(t, gateway.execute(promoteM0), 'Refused', /^promote member [0-9a-f]+ \(pod m0\): .*can only promote a learner member$/)

    // A learner serves no cluster rpc ("Unavailable"): with no other
    // endpoint that is etcd's answer; with m0 next, execute moves on.
    await expectEtcdError(
      t,
      gateway.execute({ kind: 'promote', pod: 'm1', memberId: m1Id, target: { endpoints: [url(client1)] } }),
      'Refused',
      /^promote member [0-9a-f]+ \(pod m1\): etcd refused: http:\/\/127\.0\.0\.1:\d+: etcdserver: rpc not supported for learner$/,
    )
    const promoteM1: MembershipAction = { kind: 'promote', pod: 'm1', memberId: m1Id, target: { endpoints: [url(client1), m0.clientURL] } }
    const refusal = await executeOnceAccepted(promoteM1, /in sync with leader/)
    t.comment(refusal ? `refused at first: ${refusal}` : 'accepted at once')
    const seen = await observeUntil([m0.clientURL], 'm1 to be a voter', o => memberOf(o, m1Id)?.isLearner === false)
    t.same(seen.members.map(m => [m.name, m.isLearner]), [['m0', false], ['m1', false]])
  })

  await t.test('transferLeadership', async t => {
    const endpoints = [m0.clientURL, url(client1)]
    await gateway.execute({ kind: 'transferLeadership', pod: 'm0', toPod: 'm1', toMemberId: m1Id, target: { endpoints: [m0.clientURL] } })
    const seen = await observeUntil(endpoints, 'm1 to lead', o => o.leaderId === m1Id)
    t.equal(seen.leaderId, m1Id)
    t.match(await gateway.observe({ endpoints: [m0.clientURL] }), { reachable: true, leaderId: m1Id }, 'm0 knows m1 leads')
    // m0 no longer leads, so it cannot hand the leadership on.
    await expectEtcdError(
      t,
      gateway.execute({ kind: 'transferLeadership', pod: 'm1', toPod: 'm0', toMemberId: m0Id, target: { endpoints: [m0.clientURL] } }),
      'Refused',
      /^transfer leadership from pod m1 to member [0-9a-f]+ \(pod m0\): .*etcdserver: not leader$/,
    )
  })

  await t.test('observe with a dead endpoint first', async t => {
    const seen = await gateway.observe({ endpoints: [closedURL, m0.clientURL] })
    t.match(seen, { reachable: true, clusterId, leaderId: m1Id })
    t.same(seen.reachable && seen.members.map(m => m.id), [m0Id, m1Id])
  })

  await t.test('observe falls back, in time, when the best-ranked endpoint hangs', async t => {
    const started = Date.now()
    const seen = await fast.observe({ endpoints: [fakeURL, m0.clientURL] })
    const elapsed = Date.now() - started
    t.match(seen, { reachable: true, clusterId, leaderId: m1Id })
    t.same(seen.reachable && seen.members.map(m => m.name), ['m0', 'm1'])
    t.ok(fakeRequests.includes('/v3/cluster/member/list'), 'asked the hanging endpoint for the member list')
    t.ok(elapsed >= 450, `took ${elapsed} ms: waited out the hang`)
    t.ok(elapsed < loose(500), `took ${elapsed} ms: bounded (under ${loose(500)} ms)`)
  })

  await t.test('observe with no live endpoint: reachable false, in time', async t => {
    let started = Date.now()
    const seen = await fast.observe({ endpoints: [closedURL, hangURL] })
    let elapsed = Date.now() - started
    t.equal(seen.reachable, false)
    t.match(seen, { error: `no etcd endpoint answered (tried ${closedURL}, ${hangURL}): connect ECONNREFUSED` })
    t.ok(elapsed >= 450 && elapsed < loose(500), `took ${elapsed} ms: at least the 500 ms timeout, under ${loose(500)} ms`)

    started = Date.now()
    const hung = await gateway.observe({ endpoints: [hangURL] })
    elapsed = Date.now() - started
    t.match(hung, { reachable: false, error: /no answer within 2000 ms/ }, 'default timeout is 2 s')
    t.ok(elapsed >= 1900 && elapsed < loose(2000), `took ${elapsed} ms: at least the 2000 ms timeout, under ${loose(2000)} ms`)

    t.match(await gateway.observe({ endpoints: [] }), { reachable: false })
    t.match(await gateway.observe({ endpoints: ['not a url'] }), { reachable: false, error: /invalid endpoint URL/ })
  })

  await t.test('execute: refusals are not retried elsewhere', async t => {
    fakeRequests.length = 0
    const ghost: MembershipAction = { kind: 'remove', pod: 'ghost', memberId: '123', target: { endpoints: [m0.clientURL, fakeURL] } }
    await expectEtcdError(t, gateway.execute(ghost), 'Refused', /^remove member 7b \(pod ghost\): etcd at http:\/\/127\.0\.0\.1:\d+ refused: etcdserver: member not found$/)
    t.same(fakeRequests, [], 'the second endpoint was not tried')
  })

  await t.test('execute: unreachable', async t => {
    const started = Date.now()
    const error = await expectEtcdError(
      t,
      fast.execute({ kind: 'promote', pod: 'm9', memberId: '9', target: { endpoints: [closedURL, closedURL] } }),
      'Unreachable',
      /^promote member 9 \(pod m9\): no etcd endpoint answered: /,
    )
    t.match(error.message, `${closedURL}: connect ECONNREFUSED`)
    const elapsed = Date.now() - started
    t.ok(elapsed < loose(500), `took ${elapsed} ms: under ${loose(500)} ms`)
    await expectEtcdError(t, gateway.execute({ kind: 'remove', pod: 'm9', memberId: '9', target: { endpoints: [] } }), 'Unreachable', /no endpoints given/)
  })

  await t.test('safety item 21: a write sent and not answered is unknown, and never sent to another member', async t => {
    fakeRequests.length = 0
    const started = Date.now()
    // Refused connections never carried the write: the next endpoint is tried.
    const error = await expectEtcdError(
      t,
      fast.execute({ kind: 'addLearner', pod: 'm9', peerURL: 'http://127.0.0.1:1', target: { endpoints: [closedURL, hangURL, fakeURL] } }),
      'Unknown',
      /^add learner .*: sent to http:\/\/127\.0\.0\.1:\d+, no answer \(no answer within 500 ms\): it may still be applied; the next sync reads the member list first$/,
    )
    t.match(error.message, hangURL)
    t.same(fakeRequests, [], 'not sent to the endpoint after the one that kept it')
    const elapsed = Date.now() - started
    t.ok(elapsed >= 450 && elapsed < loose(500), `took ${elapsed} ms: one timeout, under ${loose(500)} ms`)
  })

  await t.test('reads keep their connection for the next read; writes and stale connections get fresh ones', async t => {
    const proxy = await countingProxy(Number(new URL(m0.clientURL).port))
    t.teardown(() => proxy.close())
    // Idle connections of `kept` outlive every step here: a stalled test
    // process (a busy machine) must not close one between two reads.
    const kept = new EtcdGateway({ idleConnectionMs: 60_000 })
    t.teardown(() => kept.close())
    const target = { endpoints: [proxy.url] }

    t.match(await kept.observe(target), { reachable: true, clusterId })
    t.equal(proxy.accepted(), 1, 'status and member list on one connection')
    t.match(await kept.observe(target), { reachable: true, clusterId })
    t.equal(proxy.accepted(), 1, 'the next read within the idle time reuses it')

    // The member closes the kept connection just as the next read arrives
    // (it restarted): the read is asked again on a fresh connection.
    proxy.resetKeptOnNextRequest()
    t.match(await kept.observe(target), { reachable: true, clusterId }, 'a stale connection costs a retry, not an answer')
    t.equal(proxy.resets(), 1, 'the kept connection was reset under the read')
    t.equal(proxy.accepted(), 2, 'one fresh connection, kept for the member list')

    await expectEtcdError(t, kept.execute({ kind: 'remove', pod: 'ghost', memberId: '123', target }), 'Refused', /member not found/)
    t.equal(proxy.accepted(), 3, 'a write takes a fresh connection, not the kept one')

    kept.close()
    await waitFor('close() to close the kept connections', 10_000, async () => (proxy.open() === 0 ? true : undefined), () => `${proxy.open()} open`)

    // A short idle time: the connection the reads kept closes by itself.
    const brief = new EtcdGateway({ idleConnectionMs: 400 })
    t.teardown(() => brief.close())
    const before = proxy.accepted()
    t.match(await brief.observe(target), { reachable: true, clusterId })
    t.ok(proxy.accepted() > before, 'the reads opened a connection')
    await waitFor('connections idle for 400 ms to close', 10_000, async () => (proxy.open() === 0 ? true : undefined), () => `${proxy.open()} open`)
    t.pass('connections idle for idleConnectionMs are closed')
  })

  await t.test('remove the leader', async t => {
    // A dead endpoint first: connection errors move on to the next. etcd
    // refuses to remove a voter until its peers have been connected for 5 s
    // (strict reconfig check), "unhealthy cluster", answered as Unavailable.
    const removeM1: MembershipAction = { kind: 'remove', pod: 'm1', memberId: m1Id, target: { endpoints: [closedURL, m0.clientURL] } }
    const refusal = await executeOnceAccepted(removeM1, /unhealthy cluster/)
    t.comment(refusal ? `refused at first: ${refusal}` : 'accepted at once')
    const seen = await observeUntil([m0.clientURL], 'm0 alone to lead', o => o.leaderId === m0Id)
    t.same(seen.members.map(m => m.id), [m0Id])
    // A removed member shuts itself down.
    const removed = m1
    await waitFor('the removed m1 to exit', 30_000, async () => (removed?.hasExited() ? true : undefined), () => removed?.logTail() ?? '')
    t.pass('m1 exited')
  })
}

// A TCP proxy to one etcd client port that counts the connections it
// accepts. resetKeptOnNextRequest(): each connection open now is reset
// (RST, no answer) when its next request arrives, like a member that closed
// a kept connection just as the client reused it.
async function countingProxy (targetPort: number) {
  let accepted = 0
  let resets = 0
  const open = new Set<Socket>()
  const doomed = new WeakSet<Socket>()
  const server = createTcpServer(client => {
    accepted++
    open.add(client)
    const upstream = connect(targetPort, '127.0.0.1')
    client.on('data', chunk => {
      if (doomed.has(client)) {
        resets++
        client.resetAndDestroy()
        upstream.destroy()
      } else upstream.write(chunk)
    })
    upstream.on('data', chunk => client.write(chunk))
    const end = () => {
      open.delete(client)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end).on('error', end).on('end', end)
    upstream.on('close', end).on('error', end).on('end', end)
  })
  const port = await listenOnLoopback(server)
  return {
    url: `http://127.0.0.1:${port}`,
    accepted: () => accepted,
    resets: () => resets,
    open: () => open.size,
    resetKeptOnNextRequest: () => {
      for (const socket of open) doomed.add(socket)
    },
    close: () => {
      for (const socket of open) socket.destroy()
      server.close()
    },
  }
}
