// Production features: static TLS, the operator's client certificate,
// pod policy rollout by replacement, persistence and disruption budgets.
import t from 'tap'
import { buildApp } from '../hooks/server/app.js'
import { operatorCredentials } from '../hooks/cluster/observe/credentials.js'
import type { MembershipAction, MembershipClient, Observation } from '../hooks/etcd/types.js'
import { plan } from '../hooks/cluster/plan.js'
import type { SyncRequest, SyncResponse } from '../hooks/api/cluster.js'
import { NAME, NOW, members, reachable, syncRequest, unreachable } from './helpers/fixtures.js'
import { child, childrenOfKind, flags, podNames } from './helpers/inspect.js'

const TLS = { static: { member: { peerSecret: 'example-peer-tls', serverSecret: 'example-server-tls' }, operatorSecret: 'example-operator-tls' } }
const host = (o: number) => `${NAME}-${o}.${NAME}.default.svc`
const PEM = (what: string) => `-----BEGIN ${what}-----\nMIIB\n-----END ${what}-----\n`
const b64 = (text: string) => Buffer.from(text).toString('base64')

function withOperatorSecret (request: SyncRequest, data: Record<string, string>): SyncRequest {
  request.related = { 'Secret.v1': { 'example-operator-tls': { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'example-operator-tls', namespace: 'default' }, data } as never } }
  return request
}
const goodSecret = { 'etcd-client.crt': b64(PEM('CERTIFICATE')), 'etcd-client.key': b64(PEM('PRIVATE KEY')), 'etcd-client-ca.crt': b64(PEM('CERTIFICATE')) }

t.test('static TLS: https peer and client URLs, the CoreOS secret layout, probes on plain HTTP', async t => {
  const { response } = plan(syncRequest({ spec: { TLS } }), unreachable, NOW)
  const pod = child(response, 'Pod', `${NAME}-0`)
  const f = flags(pod)
  t.equal(f['initial-advertise-peer-urls'], `https://${host(0)}:2380`)
  t.equal(f['advertise-client-urls'], `https://${host(0)}:2379`)
  t.equal(f['listen-client-urls'], 'https://0.0.0.0:2379')
  t.equal(f['listen-metrics-urls'], 'http://0.0.0.0:2381', 'metrics (and probes) stay plain HTTP')
  t.equal(response.status.clientURL, `https://${NAME}-client.default.svc:2379`, 'the status gives the https client URL')
  t.match(f, {
    'peer-client-cert-auth': 'true',
    'peer-cert-file': '/etc/etcdtls/member/peer-tls/peer.crt',
    'peer-key-file': '/etc/etcdtls/member/peer-tls/peer.key',
    'peer-trusted-ca-file': '/etc/etcdtls/member/peer-tls/peer-ca.crt',
    'client-cert-auth': 'true',
    'cert-file': '/etc/etcdtls/member/server-tls/server.crt',
    'key-file': '/etc/etcdtls/member/server-tls/server.key',
    'trusted-ca-file': '/etc/etcdtls/member/server-tls/server-ca.crt',
  })
  const spec = pod.spec as { volumes: unknown[], containers: Array<{ readinessProbe: unknown }> }
  t.match(spec.volumes, [{ name: 'etcd-data' }, { secret: { secretName: 'example-peer-tls' } }, { secret: { secretName: 'example-server-tls' } }])
  t.match(spec.containers[0]?.readinessProbe, { httpGet: { port: 2381, scheme: 'HTTP' } })
})

t.test('peer TLS alone leaves client traffic plain', async t => {
  const { response } = plan(syncRequest({ spec: { TLS: { static: { member: { peerSecret: 'p' } } } } }), unreachable, NOW)
  const f = flags(child(response, 'Pod', `${NAME}-0`))
  t.equal(f['initial-advertise-peer-urls'], `https://${host(0)}:2380`)
  t.equal(f['advertise-client-urls'], `http://${host(0)}:2379`)
  t.notOk('client-cert-auth' in f)
})

t.test('the operator secret, as Metacontroller sends it in related', async t => {
  t.same(operatorCredentials(syncRequest()), { kind: 'none' })
  t.match(operatorCredentials(syncRequest({ spec: { TLS } })), { kind: 'problem', message: 'operator secret default/example-operator-tls not found (spec.TLS.static.operatorSecret)' })
  t.match(operatorCredentials(withOperatorSecret(syncRequest({ spec: { TLS } }), { 'etcd-client.crt': goodSecret['etcd-client.crt'] })),
    { kind: 'problem', message: /lacks etcd-client\.key, etcd-client-ca\.crt/ })
  t.match(operatorCredentials(withOperatorSecret(syncRequest({ spec: { TLS } }), { ...goodSecret, 'etcd-client.key': b64('not a key') })),
    { kind: 'problem', message: /etcd-client\.key not PEM/ })
  const ready = operatorCredentials(withOperatorSecret(syncRequest({ spec: { TLS } }), goodSecret))
  t.match(ready, { kind: 'ready', tls: { cert: PEM('CERTIFICATE'), key: PEM('PRIVATE KEY') } })
})

class RecordingMembership implements MembershipClient {
  observed: Array<{ tls?: unknown }> = []
  executed: MembershipAction[] = []
  constructor (private readonly observation: Observation) {}
  async observe (target: { tls?: unknown }) { this.observed.push(target); return this.observation }
  async execute (action: MembershipAction) { this.executed.push(action) }
}

t.test('the hook uses the operator certificate for every etcd call', async t => {
  const membership = new RecordingMembership(reachable(members(0, 1), 0))
  const app = buildApp({ membership, now: () => NOW })
  t.teardown(() => app.close())
  const request = withOperatorSecret(syncRequest({ spec: { TLS }, pods: [{ ordinal: 0 }, { ordinal: 1 }] }), goodSecret)
  const res = await app.inject({ method: 'POST', url: '/sync', payload: request })
  t.equal(res.statusCode, 200)
  t.match(membership.observed[0]?.tls, { cert: PEM('CERTIFICATE') }, 'observe')
  t.match(membership.executed[0], { kind: 'addLearner', target: { tls: { key: PEM('PRIVATE KEY') }, endpoints: [`https://${host(0)}:2379`, `https://${host(1)}:2379`] } }, 'the write')
})

t.test('a missing operator secret is a status condition, not a crash and not a deletion', async t => {
  const membership = new RecordingMembership(reachable(members(0, 1, 2), 0))
  const app = buildApp({ membership, now: () => NOW })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/sync', payload: syncRequest({ spec: { TLS }, pods: [{ ordinal: 0 }, { ordinal: 1 }, { ordinal: 2 }] }) })
  t.equal(res.statusCode, 200)
  const body = res.json<SyncResponse>()
  t.same(podNames(body), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`])
  t.match(body.status.conditions?.find(c => c.type === 'Available'), { status: 'False', message: /operator secret default\/example-operator-tls not found/ })
  t.same(membership.observed, [], 'etcd is not asked without credentials')
})

t.test('customize asks for the operator secret only when TLS needs it', async t => {
  const app = buildApp({ membership: new RecordingMembership(unreachable) })
  t.teardown(() => app.close())
  const withTLS = await app.inject({ method: 'POST', url: '/customize', payload: { controller: {}, parent: syncRequest({ spec: { TLS } }).parent } })
  t.same(withTLS.json(), { relatedResources: [{ apiVersion: 'v1', resource: 'secrets', namespace: 'default', names: ['example-operator-tls'] }] })
  const plain = await app.inject({ method: 'POST', url: '/customize', payload: { controller: {}, parent: syncRequest().parent } })
  t.same(plain.json(), { relatedResources: [] })
})

t.test('client TLS without an operator secret is refused up front', async t => {
  const app = buildApp({ membership: new RecordingMembership(unreachable) })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/sync', payload: syncRequest({ spec: { TLS: { static: { member: { serverSecret: 's' } } } } }) })
  t.equal(res.statusCode, 422)
  t.match(res.json(), { message: /operatorSecret is required with member\.serverSecret/ })
})

t.test('a pod policy change rolls out by replacement, one member at a time', async t => {
  const ready = (o: number, old = true) => ({ ordinal: o, ...(old ? { oldPodPolicy: true } : {}) })
  // At size: add a new member first, so the cluster never runs short.
  const add = plan(syncRequest({ pods: [ready(0), ready(1), ready(2)] }), reachable(members(0, 1, 2), 0), NOW)
  t.equal(add.rule, 'replaceMember')
  t.match(add.action, { kind: 'addLearner', pod: `${NAME}-3` })
  t.same(add.response.status.members?.outdated, [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`], 'the status names the members still on the old policy')
  t.match(add.response.status.conditions?.find(c => c.type === 'Upgrading'), { status: 'True', reason: 'RollingPodPolicy' }, 'and says a rollout is under way')
  t.match(add.response.status.lastAction, `to replace ${NAME}-1`, 'naming the member that goes next: a follower, not the leader')
  // One over size: remove an old member, a follower before the leader.
  const remove = plan(syncRequest({ pods: [ready(0), ready(1), ready(2), ready(3, false)] }), reachable(members(0, 1, 2, 3), 0), NOW)
  t.equal(remove.rule, 'removeMember')
  t.match(remove.action, { kind: 'remove', pod: `${NAME}-1` })
  t.match(remove.response.status.lastAction, /replaced: made from an old pod policy/)
  // Only the leader left on the old policy: hand leadership away first.
  const leader = plan(syncRequest({ pods: [ready(0), ready(3, false), ready(4, false), ready(5, false)] }), reachable(members(0, 3, 4, 5), 0), NOW)
  t.equal(leader.rule, 'transferLeadershipBeforeRemoval')
  t.match(leader.action, { kind: 'transferLeadership', pod: `${NAME}-0`, toPod: `${NAME}-3` })
  // A new member not yet ready: nothing else moves.
  const wait = plan(syncRequest({ pods: [ready(0), ready(1), ready(2), { ordinal: 3, state: 'unready' }] }), reachable(members(0, 1, 2, 3), 0), NOW)
  t.equal(wait.rule, 'waitForHealthy')
})

t.test('labels and annotations of spec.pod apply in place', async t => {
  const request = syncRequest({ pods: [{ ordinal: 0 }, { ordinal: 1 }, { ordinal: 2 }] })
  request.parent.spec.pod = { labels: { team: 'storage' }, annotations: { 'example.com/owner': 'storage' } }
  const result = plan(request, reachable(members(0, 1, 2), 0), NOW)
  t.equal(result.rule, 'steady', 'no replacement for metadata')
  const pod = child(result.response, 'Pod', `${NAME}-1`)
  t.equal(pod.metadata.labels?.team, 'storage')
  t.equal(pod.metadata.annotations?.['example.com/owner'], 'storage')
})

t.test('persistence: one claim per member, a replaced member never reuses one', async t => {
  const pvc = { persistentVolumeClaimSpec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '8Gi' } } } }
  const seed = plan(syncRequest({ spec: { pod: pvc } }), unreachable, NOW)
  t.match(child(seed.response, 'PersistentVolumeClaim', `etcd-data-${NAME}-0`).spec, pvc.persistentVolumeClaimSpec)
  // Member 1's pod failed and it has a claim: the pod is deleted and comes
  // back on the same claim (the member is not replaced).
  const failed = plan(syncRequest({ spec: { pod: pvc }, pods: [{ ordinal: 0 }, { ordinal: 1, state: 'failed' }, { ordinal: 2 }], claims: [0, 1, 2] }), reachable(members(0, 1, 2), 0), NOW)
  t.equal(failed.rule, 'replacePodOnClaim')
  t.equal(failed.action, undefined)
  t.same(childrenOfKind(failed.response, 'PersistentVolumeClaim').map(c => c.metadata.name), [0, 1, 2].map(o => `etcd-data-${NAME}-${o}`))
  // Scaling down removes the member's claim with it.
  const shrink = plan(syncRequest({ spec: { pod: pvc, size: 2 }, pods: [{ ordinal: 0 }, { ordinal: 1 }, { ordinal: 2 }], claims: [0, 1, 2] }), reachable(members(0, 1, 2), 0), NOW)
  t.equal(shrink.rule, 'removeMember')
  t.same(childrenOfKind(shrink.response, 'PersistentVolumeClaim').map(c => c.metadata.name), [`etcd-data-${NAME}-0`, `etcd-data-${NAME}-1`])
  t.same(childrenOfKind(shrink.responseIfActionFails, 'PersistentVolumeClaim').length, 3, 'kept when the removal failed')
})

t.test('disruption budget: on by default, configurable, or off', async t => {
  const on = plan(syncRequest(), unreachable, NOW).response
  t.match(child(on, 'PodDisruptionBudget', NAME).spec, { maxUnavailable: 1, selector: { matchLabels: { app: 'etcd', etcd_cluster: NAME } } })
  const two = plan(syncRequest({ spec: { podDisruptionBudget: { maxUnavailable: 2 } } }), unreachable, NOW).response
  t.match(child(two, 'PodDisruptionBudget', NAME).spec, { maxUnavailable: 2 })
  const off = plan(syncRequest({ spec: { podDisruptionBudget: { enabled: false } } }), unreachable, NOW).response
  t.same(childrenOfKind(off, 'PodDisruptionBudget'), [])
})
