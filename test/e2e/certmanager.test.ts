// End to end: TLS from cert-manager on real etcd (3.4.23). The harness
// stands in for cert-manager (harness/certmanager.ts: a CA Issuer that
// issues every Certificate the hook asks for with openssl and writes its
// Secret; `renew` as `cmctl renew`). One scenario, `renew`:
// - a three-member cluster forms from the Secrets cert-manager wrote (the
//   pods map tls.crt/tls.key/ca.crt to the CoreOS file names), https peers,
//   client certificates required;
// - every certificate (peer, server, operator) renewed under writes: each
//   member serves the new server and peer certificates on its next
//   handshake with no restart (same etcd process), no acknowledged write
//   is lost;
// - the hook keeps reaching etcd afterwards: size 3 -> 4 (a learner added
//   and promoted through the renewed operator certificate; the new member
//   joins with the renewed peer certificate).
// And `ca-change`: the issuer's CA replaced under running members (every
// certificate re-issued from a new CA): the members keep checking against
// the CA they started with (a new-CA client certificate is refused while
// they serve new-CA certificates), the hook reports it and adds no member.
import { X509Certificate } from 'node:crypto'
import path from 'node:path'
import t, { type Test } from 'tap'
import { CERTIFICATE, CertManager, declareCertificates } from './harness/certmanager.js'
import { Suite, actionsSince, expectAcked, expectEverywhere, podCreatesSince, podDeletesSince, quietWindow, writerSummary, writing } from './harness/scenario.js'
import { POD, SECRET } from './harness/store.js'
import type { Cluster, World } from './harness/world.js'

// Before the first sync: the controller declares Certificates as children
// (the chart's certManager.enabled).
declareCertificates()
const suite = await Suite.start('certmanager.test.ts')
if (suite) {
  const world = suite.world
  const cm = await CertManager.start(world.store, path.join(world.dir, 'cert-manager'), world.log)
  t.teardown(() => cm.stop())
  const roles = ['peer', 'server', 'operator'] as const
  const spec = { certManager: { issuerRef: { name: 'e2e-ca' }, duration: '24h', renewBefore: '8h', privateKey: { algorithm: 'ECDSA', size: 256 } } }

  suite.scenario(
    'renew',
    'cert-manager TLS: a cluster from cert-manager Secrets, every certificate renewed under writes, the hook still manages it',
    async (t, c) => {
      const start = Date.now()
      suite.converged(t, 'create-3-cert-manager', await c.waitSteady({ timeoutMs: 150_000, sinceMs: start }))
      await formed(t, world, c)
      // Steady: the Certificates as applied are what the hook asks for.
      const [a, b] = [await c.mc.nextSync(), await c.mc.nextSync()]
      t.ok(!a.error && !b.error && !a.statusChanged && !b.statusChanged, 'status stable across syncs of an unchanged world')
      t.same([...a.creates, ...a.updates, ...a.deletes, ...b.creates, ...b.updates, ...b.deletes], [], 'no child writes in steady state, Certificates included')

      const before = new Map(c.livePods().map(p => [p.metadata.name, world.kubelet.pid(p.metadata.name)]))
      const restartsBefore = restartCounts(c)
      const writer = c.writer('r/').start()
      const renewed = { at: Date.now() }
      try {
        await writing(c, writer)
        const ackedBefore = writer.acked.length
        const serials = new Map(roles.map(role => [role, secretSerial(world, `${c.name}-${role}-cert`)]))
        renewed.at = Date.now()
        await Promise.all(roles.map(role => cm.renew(`${c.name}-${role}-cert`)))
        t.comment(`renewed ${roles.length} certificates in ${Date.now() - renewed.at} ms`)
        for (const role of roles) {
          const name = `${c.name}-${role}-cert`
          t.equal(cm.issued.get(name), 2, `${name} issued twice`)
          t.not(secretSerial(world, name), serials.get(role), `${name}: the Secret holds a new certificate`)
        }
        // Each member serves the renewed certificates on a new connection.
        for (const pod of c.livePods().map(p => p.metadata.name)) {
          await c.waitFor(async () => await servedSerial(world, c, pod, 2379) === secretSerial(world, `${c.name}-server-cert`), { timeoutMs: 20_000, what: `${pod} to serve the renewed server certificate` })
          t.pass(`${pod} serves the renewed server certificate`)
          await c.waitFor(async () => await servedSerial(world, c, pod, 2380) === secretSerial(world, `${c.name}-peer-cert`), { timeoutMs: 20_000, what: `${pod} to serve the renewed peer certificate` })
          t.pass(`${pod} serves the renewed peer certificate`)
        }
        // Writes go on through the renewal.
        await c.waitFor(() => writer.acked.length >= ackedBefore + 30, { timeoutMs: 60_000, what: '30 more acknowledged writes after the renewal', describe: () => writerSummary(writer) })
      } finally {
        await writer.stop()
      }
      for (const [pod, pid] of before) t.equal(world.kubelet.pid(pod), pid, `${pod}: the same etcd process (no restart)`)
      t.same(restartCounts(c), restartsBefore, 'no container restarted')
      t.comment(`writer: ${writerSummary(writer)}`)
      t.equal(writer.failures, 0, 'no write failed during the renewal')
      await expectAcked(t, c, writer, 'r/')

      // The hook reaches etcd with the renewed operator certificate: it
      // adds and promotes a fourth member, which joins with the renewed
      // peer certificate.
      const up = c.updateSpec(s => (s.size = 4))
      suite.converged(t, 'cert-manager-scale-3-to-4', await c.waitSteady({ timeoutMs: 150_000, sinceMs: up }))
      const actions = actionsSince(c, up)
      t.ok(actions.includes(`added member ${c.name}-3 as a learner`), `learner added (${actions.join(' | ')})`)
      t.ok(actions.includes(`promoted learner ${c.name}-3`), 'and promoted')
      t.same(podDeletesSince(c, renewed.at), [], 'no pod deleted since the renewal')
      const ml = await c.members()
      t.same(ml?.members.map(m => m.name).sort(), [0, 1, 2, 3].map(i => `${c.name}-${i}`), 'four members')
      await expectEverywhere(t, c, 'cm', 'issued')
      t.same(cm.errors, [], 'the cert-manager stand-in issued everything it was asked for')
    },
    {},
    { tls: name => cm.clusterTLS(roles.map(role => `${name}-${role}-cert`), spec) },
  )

  suite.scenario(
    'ca-change',
    'cert-manager TLS: the issuer\'s CA replaced under running members: etcd keeps the CA it started with, the hook changes no member and says why',
    async (t, c) => {
      await c.waitSteady({ timeoutMs: 150_000 })
      await world.etcdctlOk([...c.etcdctlTLS(), 'put', 'ca', 'first'], { endpoints: `https://${c.name}-client:2379` })
      const ids = await memberRows(world, c)
      const pids = c.livePods().map(p => world.kubelet.pid(p.metadata.name))
      const changed = Date.now()
      await cm.rotateCA(roles.map(role => `${c.name}-${role}-cert`))
      await c.waitFor(() => String(c.status.reason ?? '').startsWith('waiting for a CA change done by hand'), { timeoutMs: 30_000, what: 'status.reason to name the CA change' })
      t.match(c.status.reason, new RegExp(`is not the CA ${c.name}-0, ${c.name}-1, ${c.name}-2 started with, and etcd reads its trusted CA only at start`), `status.reason: ${String(c.status.reason)}`)

      // What etcd 3.4 does, seen from outside: the member serves its renewed
      // certificate (from the new CA) but checks clients against the CA it
      // started with. (The server certificate is not verified here: it
      // comes from a CA the test client does not trust yet.)
      const member = `https://${c.name}-0.${c.name}.default.svc:2379`
      const fresh = await cm.clientCertificate(path.join(world.dir, 'cert-manager', `client-${c.name}-new-ca`))
      const newCA = await world.etcdctl(['--insecure-skip-tls-verify', `--cert=${fresh.cert}`, `--key=${fresh.key}`, 'get', 'ca', '--print-value-only'], { endpoints: member })
      t.not(newCA.code, 0, `a client certificate of the new CA is refused by the running member (${lastLine(newCA.stderr)})`)
      const { cert, key } = c.tls!.files
      const oldCA = await world.etcdctl(['--insecure-skip-tls-verify', `--cert=${cert}`, `--key=${key}`, 'get', 'ca', '--print-value-only'], { endpoints: member })
      t.equal(oldCA.stdout.trim(), 'first', 'one of the old CA is still accepted: the CA pool was read at start')
      t.equal(await servedSerial(world, c, `${c.name}-0`, 2379), secretSerial(world, `${c.name}-server-cert`), 'while the member serves the certificate issued from the new CA (certificate files are read per handshake)')

      // Asked to grow meanwhile: no member added, no pod created or deleted.
      const up = c.updateSpec(s => (s.size = 4))
      await quietWindow(c, 'after size 4 with the CA changed', up, 6000, 3)
      t.same(await memberRows(world, c), ids, `the same members (${ids.join('; ')})`)
      t.same(podCreatesSince(c, changed), [], 'no pod created')
      t.same(podDeletesSince(c, changed), [], 'no pod deleted')
      t.same(c.livePods().map(p => world.kubelet.pid(p.metadata.name)), pids, 'no member restarted')
      t.same(cm.errors, [], 'the cert-manager stand-in issued everything it was asked for')
    },
    {},
    { tls: name => cm.clusterTLS(roles.map(role => `${name}-${role}-cert`), spec) },
  )
}

// etcd's member list (ID, status, name, learner), read with the test's
// client certificate of the first CA and the server certificate not
// verified: after a CA change the members present certificates of the new
// CA while they still check clients against the old one.
async function memberRows (world: World, c: Cluster): Promise<string[]> {
  const { cert, key } = c.tls!.files
  const out = await world.etcdctlOk(['--insecure-skip-tls-verify', `--cert=${cert}`, `--key=${key}`, 'member', 'list'], { endpoints: `https://${c.name}-0.${c.name}.default.svc:2379` })
  return out.trim().split('\n').map(row => row.split(', ').filter((_, i) => [0, 1, 2, 5].includes(i)).join(' ')).sort()
}

const lastLine = (text: string): string => text.trim().split('\n').pop() ?? ''

// The cluster formed from cert-manager's Secrets: three Certificates,
// pods mapping their keys, https everywhere, client certificates required.
async function formed (t: Test, world: World, c: Cluster): Promise<void> {
  const certificates = world.store.list(CERTIFICATE).filter(o => o.metadata.name.startsWith(`${c.name}-`))
  t.same(certificates.map(o => o.metadata.name).sort(), ['operator', 'peer', 'server'].map(r => `${c.name}-${r}-cert`), 'three Certificates, children of the cluster')
  t.ok(certificates.every(o => o.status?.conditions?.[0]?.status === 'True'), 'all issued (Ready)')
  t.ok(certificates.every(o => (o.metadata.ownerReferences ?? []).some(r => r.name === c.name && r.controller === true)), 'owned by the EtcdCluster')
  const pod = world.store.get(POD, `${c.name}-0`)
  const peer = (pod?.spec?.volumes as Array<{ name: string, secret?: { secretName: string, items?: unknown[] } }>).find(v => v.name === 'member-peer-tls')
  t.same(peer?.secret, { secretName: `${c.name}-peer-cert`, items: [{ key: 'tls.crt', path: 'peer.crt' }, { key: 'tls.key', path: 'peer.key' }, { key: 'ca.crt', path: 'peer-ca.crt' }] }, 'the pod maps cert-manager\'s keys to the CoreOS file names')
  const ep = `https://${c.name}-client:2379`
  t.equal((await world.etcdctlOk([...c.etcdctlTLS(), 'put', 'cm', 'issued'], { endpoints: ep })).trim(), 'OK', 'etcdctl put over https with a client certificate of the CA')
  const anon = await world.etcdctl([`--cacert=${c.tls!.files.cacert}`, 'get', 'cm'], { endpoints: ep })
  t.not(anon.code, 0, 'without a client certificate etcd refuses')
  const list = JSON.parse(await world.etcdctlOk([...c.etcdctlTLS(), 'member', 'list', '-w', 'json'], { endpoints: ep })) as { members?: Array<{ peerURLs?: string[] }> }
  t.ok((list.members ?? []).length === 3 && (list.members ?? []).every(m => (m.peerURLs ?? []).every(u => u.startsWith('https://'))), 'three members, https peer URLs')
  t.equal(c.status.clientURL, `https://${c.name}-client.default.svc:2379`, 'status.clientURL is https')
}

function restartCounts (c: Cluster): Record<string, number> {
  return Object.fromEntries(c.livePods().map(p => [p.metadata.name, Number(p.status?.containerStatuses?.[0]?.restartCount ?? -1)]))
}

// The serial of the certificate in a Secret's tls.crt.
function secretSerial (world: World, name: string): string {
  const data = (world.store.get(SECRET, name)?.data ?? {}) as Record<string, string>
  const pem = Buffer.from(data['tls.crt'] ?? '', 'base64').toString('utf8')
  return normalSerial(new X509Certificate(pem).serialNumber)
}

// The serial of the certificate a member presents on a new TLS connection
// (openssl s_client from the client namespace, with the test's client
// certificate: both listeners require one).
async function servedSerial (world: World, c: Cluster, pod: string, port: number): Promise<string | undefined> {
  const host = `${pod}.${c.name}.default.svc`
  const ip = world.resolve(host)
  if (ip === undefined) return undefined
  const { cacert, cert, key } = c.tls!.files
  const script = `openssl s_client -connect ${ip}:${port} -servername ${host} -CAfile ${cacert} -cert ${cert} -key ${key} </dev/null 2>/dev/null | openssl x509 -noout -serial`
  const r = await world.network.runIn(world.clientNs, 'bash', ['-c', script], { timeoutMs: 10_000 })
  return r.code === 0 ? normalSerial(r.stdout.trim().replace(/^serial=/, '')) : undefined
}

// Hex, upper case, no leading zeros (openssl and node differ there).
const normalSerial = (hex: string): string => hex.toUpperCase().replace(/^0+/, '')
