// Static TLS against real etcd: certificates made by the documented script
// (scripts/make-tls-certs.sh, openssl), a three-member cluster with https
// peers and client certificate auth, and the hook managing its membership
// with the operator certificate it gets in `related`.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SyncResponse } from '../hooks/api/cluster.js'
import { NAME, syncRequest } from './helpers/fixtures.js'
import { run, startLoopbackCluster, waitFor } from './helpers/loopback-cluster.js'
import { ETCDCTL, missingForNamespaces, skipUnless } from './helpers/requirements.js'

const ROOT = new URL('..', import.meta.url).pathname
const TLS = { static: { member: { peerSecret: `${NAME}-peer-tls`, serverSecret: `${NAME}-server-tls` }, operatorSecret: `${NAME}-operator-tls` } }

t.test('a TLS cluster: client certificates required, and the hook uses its own', skipUnless(missingForNamespaces()), async t => {
  const certs = mkdtempSync(join(tmpdir(), 'eotls-'))
  t.teardown(() => rmSync(certs, { recursive: true, force: true }))
  // Members here reach each other from 127.0.0.1, whose reverse lookup is
  // no member name: the peer certificate also names that address.
  await run('bash', [join(ROOT, 'scripts/make-tls-certs.sh'), NAME, 'default', certs], { env: { ...process.env, PEER_EXTRA_SANS: 'IP:127.0.0.1' } })
  const tls = { peerDir: join(certs, 'peer'), serverDir: join(certs, 'server'), operatorDir: join(certs, 'operator') }
  const cluster = await startLoopbackCluster(t, { cluster: NAME, tls })
  const endpoints = `--endpoints=${cluster.endpoints.join(',')}`
  const clientCert = [`--cacert=${tls.operatorDir}/etcd-client-ca.crt`, `--cert=${tls.operatorDir}/etcd-client.crt`, `--key=${tls.operatorDir}/etcd-client.key`]

  // etcdctl with the client certificate works; without it, etcd refuses.
  await cluster.inNs(ETCDCTL, [endpoints, ...clientCert, 'put', 'foo', 'bar'])
  const { stdout } = await cluster.inNs(ETCDCTL, [endpoints, ...clientCert, 'get', 'foo', '--print-value-only'])
  t.equal(stdout.trim(), 'bar')
  await t.rejects(cluster.inNs(ETCDCTL, [endpoints, `--cacert=${tls.operatorDir}/etcd-client-ca.crt`, '--dial-timeout=2s', '--command-timeout=3s', 'get', 'foo']),
    'no client certificate: refused')

  await cluster.startHook()
  const file = (dir: string, name: string) => readFileSync(join(dir, name)).toString('base64')
  const operatorSecret = {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: `${NAME}-operator-tls`, namespace: 'default' },
    data: {
      'etcd-client.crt': file(tls.operatorDir, 'etcd-client.crt'),
      'etcd-client.key': file(tls.operatorDir, 'etcd-client.key'),
      'etcd-client-ca.crt': file(tls.operatorDir, 'etcd-client-ca.crt'),
    },
  }
  const ready = [0, 1, 2].map(ordinal => ({ ordinal }))

  // Without the secret in `related`: a 200 that keeps every pod and says why.
  const noSecret = await cluster.curlJSON('/sync', syncRequest({ spec: { TLS, size: 3 }, pods: ready }))
  t.equal(noSecret.status, 200)
  const blind = noSecret.body as SyncResponse
  t.equal(blind.children.filter(c => c.kind === 'Pod').length, 3)
  t.match(blind.status.conditions?.find(c => c.type === 'Available'), { status: 'False', message: /operator secret default\/example-operator-tls not found/ })

  // With it: the hook reads the member list over TLS ...
  const withSecret = (size: number) => ({ ...syncRequest({ spec: { TLS, size }, pods: ready }), related: { 'Secret.v1': { [`${NAME}-operator-tls`]: operatorSecret } } })
  const steady = await cluster.curlJSON('/sync', withSecret(3))
  t.equal(steady.status, 200)
  t.match((steady.body as SyncResponse).status, { phase: 'Running', leader: /^example-[012]$/ })

  // ... and writes with it: a learner added at size 4 (etcd refuses for
  // its first 5 s; call again like Metacontroller).
  let lastAction = ''
  await waitFor('etcd to accept the new learner (the hook\'s write not refused)', 60_000, async () => {
    lastAction = String(((await cluster.curlJSON('/sync', withSecret(4))).body as SyncResponse).status.lastAction)
    if (lastAction.includes('failed; retrying')) throw new Error(`still refused: ${lastAction}`)
  })
  t.equal(lastAction, `added member ${NAME}-3 as a learner`)
  const list = await cluster.inNs(ETCDCTL, [endpoints, ...clientCert, 'member', 'list'])
  t.match(list.stdout, /unstarted, , https:\/\/example-3\.example\.default\.svc:2380, , true/, 'the learner, with an https peer URL')
})
