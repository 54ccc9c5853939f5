// Issue 15, the gateway's maintenance calls against a real etcd 3.4 on
// 127.0.0.1 with a 1 MiB quota: backend sizes from the status call, no
// alarm call while no status reports errors, NOSPACE seen and read,
// compaction (twice: the second is done already), defragment, disarm,
// writes again. And against servers that never answer: a defragment that
// outlasts its short bound counts as started; a backend that does not
// answer its probe is busy.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createTcpServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFRAG_START_MS, EtcdGateway } from '../hooks/etcd/gateway.js'
import type { Observation } from '../hooks/etcd/types.js'
import { ETCD } from './helpers/requirements.js'

type Reachable = Extract<Observation, { reachable: true }>
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD')))

async function freePort (): Promise<number> {
  const server = createTcpServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise(resolve => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

async function post (url: string, path: string, body: object): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

async function observeReachable (gateway: EtcdGateway, endpoints: string[], extras = {}): Promise<Reachable> {
  const observation = await gateway.observe({ endpoints }, Infinity, extras)
  if (!observation.reachable) throw new Error(`etcd did not answer: ${observation.error}`)
  return observation
}

if (!existsSync(ETCD)) {
  if (process.env.ETCD_OPERATOR_REQUIRE_ALL === '1') t.fail('etcd not installed (ETCD_OPERATOR_REQUIRE_ALL=1 forbids skipping)')
  else t.plan(0, 'etcd not installed: apt-get install etcd-server')
} else {
  await suite()
}

async function suite (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-maintenance-test-'))
  const [clientPort, peerPort] = [await freePort(), await freePort()]
  const url = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  const etcd: ChildProcess = spawn(ETCD, [
    '--name', 'm0', '--data-dir', join(dir, 'm0'), '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `m0=${peer}`,
    '--quota-backend-bytes', String(1024 * 1024),
  ], { env: cleanEnv, stdio: 'ignore' })
  const gateway = new EtcdGateway({ requestTimeoutMs: 2000 })
  t.teardown(async () => {
    etcd.kill('SIGKILL')
    gateway.close()
    await rm(dir, { recursive: true, force: true })
  })
  for (let i = 0; i < 100; i++) {
    const answer = await gateway.observe({ endpoints: [url] })
    if (answer.reachable && answer.leaderId !== undefined) break
    await sleep(100)
  }

  await t.test('a healthy member: backend sizes and revision from the status call, no alarm call', async t => {
    const seen = await observeReachable(gateway, [url])
    const id = seen.members[0]?.id ?? ''
    t.ok((seen.space?.[id]?.dbSize ?? 0) > 0, `dbSize ${seen.space?.[id]?.dbSize}`)
    t.ok((seen.space?.[id]?.dbSizeInUse ?? 0) > 0, 'dbSizeInUse')
    t.equal(seen.alarms, undefined, 'no status reported errors: alarms not asked')
    t.equal(seen.backendBusy, undefined)
    t.match(seen.revision, /^\d+$/)
  })

  let acknowledged = 0
  await t.test('filled to the quota: NOSPACE is seen and read from the alarm list', async t => {
    const value = Buffer.alloc(20_000, 'x').toString('base64')
    for (let i = 0; i < 200; i++) {
      const put = await post(url, '/v3/kv/put', { key: Buffer.from(`k${i}`).toString('base64'), value })
      if (put.status !== 200) {
        t.match(String(put.body.message), /database space exceeded/)
        break
      }
      acknowledged++
    }
    t.ok(acknowledged > 10 && acknowledged < 200, `${acknowledged} writes before NOSPACE`)
    const seen = await observeReachable(gateway, [url])
    const id = seen.members[0]?.id ?? ''
    t.same(seen.alarms, [{ memberId: id, alarm: 'NOSPACE' }])
  })

  await t.test('compact (twice: the second finds it done), defragment, disarm: writes work again, data kept', async t => {
    const seen = await observeReachable(gateway, [url])
    const id = seen.members[0]?.id ?? ''
    const before = seen.space?.[id]?.dbSize ?? 0
    const target = { endpoints: [url] }
    // Overwrite nothing: delete half the keys (deletes pass under NOSPACE)
    // so there is something to reclaim, then compact at the new revision.
    for (let i = 0; i < acknowledged; i += 2) await post(url, '/v3/kv/deleterange', { key: Buffer.from(`k${i}`).toString('base64') })
    const revision = (await observeReachable(gateway, [url])).revision ?? '0'
    await gateway.execute({ kind: 'compact', pod: 'm0', revision, target })
    await gateway.execute({ kind: 'compact', pod: 'm0', revision, target })
    await gateway.execute({ kind: 'defragment', pod: 'm0', memberId: id, target })
    const defragged = await observeReachable(gateway, [url], { probeBackend: [url] })
    t.equal(defragged.backendBusy, undefined, 'the backend answers: the defrag is done')
    const after = defragged.space?.[id]?.dbSize ?? 0
    t.ok(after < before, `db shrank from ${before} to ${after}`)
    await gateway.execute({ kind: 'disarmAlarm', pod: 'm0', memberId: id, alarm: 'NOSPACE', target })
    const clear = await observeReachable(gateway, [url])
    t.equal(clear.alarms, undefined, 'no status reports errors any more')
    t.equal((await post(url, '/v3/maintenance/alarm', { action: 'GET' })).body.alarms, undefined, 'alarm list empty')
    t.equal((await post(url, '/v3/kv/put', { key: Buffer.from('after').toString('base64'), value: 'eQ==' })).status, 200, 'writes succeed again')
    const kept = await post(url, '/v3/kv/range', { key: Buffer.from('k1').toString('base64') })
    t.equal((kept.body.kvs as unknown[] | undefined)?.length, 1, 'an acknowledged key that was not deleted is still there')
  })

  await t.test('a defragment that outlasts its bound counts as started; a refusal is a failure', async t => {
    // Accepts connections, never answers.
    const sockets = new Set<Socket>()
    const silent = createTcpServer(socket => sockets.add(socket))
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    t.teardown(() => {
      for (const s of sockets) s.destroy()
      silent.close()
    })
    const started = Date.now()
    await gateway.execute({ kind: 'defragment', pod: 'x', memberId: '1', target: { endpoints: [`http://127.0.0.1:${port}`] } })
    t.ok(Date.now() - started >= DEFRAG_START_MS - 5, 'returned after its bound, not before')
    const closed = await freePort()
    await t.rejects(gateway.execute({ kind: 'defragment', pod: 'x', memberId: '1', target: { endpoints: [`http://127.0.0.1:${closed}`] } }), { code: 'Unreachable' }, 'nobody listening: not started')
  })

  await t.test('a member whose backend does not answer its probe is busy', async t => {
    // Answers the status call as etcd would, holds every range.
    const fake: Server = createHttpServer((req, res) => {
      if (req.url === '/v3/kv/range') return
      const body = req.url === '/v3/maintenance/status'
        ? { header: { cluster_id: '1', member_id: '7', revision: '9' }, leader: '7', raftTerm: '2', version: '3.5.21', dbSize: '4096', dbSizeInUse: '2048' }
        : req.url === '/v3/cluster/member/list' ? { members: [{ ID: '7', name: 'm7', peerURLs: ['http://p'], clientURLs: [] }] } : { etcdcluster: '3.5.0' }
      res.end(JSON.stringify(body))
    })
    await new Promise<void>(resolve => fake.listen(0, '127.0.0.1', resolve))
    t.teardown(() => {
      fake.closeAllConnections()
      fake.close()
    })
    const endpoint = `http://127.0.0.1:${(fake.address() as { port: number }).port}`
    const busy = await observeReachable(gateway, [endpoint], { probeBackend: [endpoint] })
    t.same(busy.backendBusy, ['7'])
    t.same(busy.space, { 7: { dbSize: 4096, dbSizeInUse: 2048 } })
    const unprobed = await observeReachable(gateway, [endpoint])
    t.equal(unprobed.backendBusy, undefined, 'no defrag recorded: no probe')
  })
}
