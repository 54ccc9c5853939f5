// TLS from cert-manager (spec.TLS.certManager): the Certificates the hook
// asks for, the member pods that mount the Secrets cert-manager fills, the
// hook's own client certificate from `related`, backups, and a switch
// between static and cert-manager TLS refused like any TLS change.
import t from 'tap'
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1'
import type { ClusterSpec, SyncRequest } from '../hooks/api/cluster.js'
import type { KubeObject } from '../hooks/api/kube.js'
import { CERTIFICATE_CHILDREN } from '../hooks/api/validate.js'
import { relatedResources } from '../hooks/cluster/customize.js'
import { operatorCredentials } from '../hooks/cluster/observe/credentials.js'
import { plan } from '../hooks/cluster/plan.js'
import { readSource } from '../hooks/backup/observe/source.js'
import { buildApp } from '../hooks/server/app.js'
import { NAME, NOW, members, reachable, syncRequest, unreachable, type RequestFixture } from './helpers/fixtures.js'

const ISSUER = { name: 'etcd-ca' }
const CERT_MANAGER: NonNullable<ClusterSpec['TLS']> = { certManager: { issuerRef: ISSUER } }
const STATIC: NonNullable<ClusterSpec['TLS']> = { static: { member: { peerSecret: `${NAME}-peer-tls`, serverSecret: `${NAME}-server-tls` }, operatorSecret: `${NAME}-operator-tls` } }

type Obj = KubeObject & { spec: Record<string, any> }
const children = (request: SyncRequest, observation = unreachable) => plan(request, observation, NOW).response.children as Obj[]
const certificates = (objects: Obj[]) => new Map(objects.filter(o => o.kind === 'Certificate').map(o => [o.metadata.name, o]))
const pods = (objects: Obj[]) => objects.filter(o => o.kind === 'Pod')

// A PEM-looking Secret as cert-manager writes it (kubernetes.io/tls plus ca.crt).
function certManagerSecret (name: string, data: Record<string, string> = { 'tls.crt': 'cert', 'tls.key': 'key', 'ca.crt': 'ca' }): KubeObject {
  const pem = (label: string, body: string) => Buffer.from(`-----BEGIN ${label}-----\n${Buffer.from(body).toString('base64')}\n-----END ${label}-----\n`).toString('base64')
  return {
    apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'kubernetes.io/tls',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, pem(k === 'tls.key' ? 'PRIVATE KEY' : 'CERTIFICATE', v)])),
  }
}

// The three Secrets cert-manager fills, all from one CA.
function issuedSecrets (ca = 'CA one'): NonNullable<SyncRequest['related']> {
  return {
    'Secret.v1': Object.fromEntries((['peer', 'server', 'operator'] as const).map(role => [`example-${role}-cert`, certManagerSecret(`example-${role}-cert`, { 'tls.crt': `${role} leaf`, 'tls.key': 'key', 'ca.crt': ca })])),
  }
}

// A request of a cert-manager cluster whose certificates are issued.
function issued (fixture: RequestFixture, ca?: string): SyncRequest {
  const request = syncRequest(fixture)
  request.related = issuedSecrets(ca)
  return request
}

t.test('three Certificates, valid by cert-manager\'s own schema', async t => {
  const certs = certificates(children(syncRequest({ spec: { TLS: CERT_MANAGER } })))
  t.same([...certs.keys()], ['example-peer-cert', 'example-server-cert', 'example-operator-cert'])
  for (const cert of certs.values()) {
    t.doesNotThrow(() => new Certificate(cert as never).validate(), `${cert.metadata.name} is a valid cert-manager.io/v1 Certificate`)
    t.equal(cert.spec.secretName, cert.metadata.name, 'the Secret has the Certificate\'s name')
    // Defaults filled in: the API server keeps what the hook sends, so the
    // 3-way merge sees no change on the next sync.
    t.same(cert.spec.issuerRef, { name: 'etcd-ca', kind: 'Issuer', group: 'cert-manager.io' })
    t.same(cert.spec.privateKey, { rotationPolicy: 'Always' }, 'a new key on every renewal')
    t.notOk('duration' in cert.spec, 'cert-manager\'s default lifetime')
    t.match(cert.metadata.labels, { app: 'etcd', etcd_cluster: NAME })
  }
  const peer = certs.get('example-peer-cert')!
  t.same(peer.spec.dnsNames, ['*.example.default.svc'], 'every member by name')
  t.same(peer.spec.usages, ['digital signature', 'key encipherment', 'server auth', 'client auth'], 'peers are servers and clients of each other')
  const server = certs.get('example-server-cert')!
  t.same(server.spec.dnsNames, ['*.example.default.svc', 'example-client', 'example-client.default', 'example-client.default.svc', 'localhost'])
  t.same(server.spec.ipAddresses, ['127.0.0.1'])
  t.ok(server.spec.usages.includes('client auth'), 'etcd 3.4\'s gateway dials etcd with the server certificate')
  const operator = certs.get('example-operator-cert')!
  t.same(operator.spec.usages, ['digital signature', 'key encipherment', 'client auth'])
  t.notOk('dnsNames' in operator.spec, 'a client certificate names no host')
})

t.test('the policy reaches every Certificate; the cluster domain and the LoadBalancer\'s address are named', async t => {
  const spec: Partial<ClusterSpec> = {
    TLS: { certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' }, duration: '720h', renewBefore: '240h', privateKey: { algorithm: 'ECDSA', size: 384 } } },
    pod: { ClusterDomain: '.cluster.local' },
    loadBalancer: { enabled: true },
  }
  const lb = {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'example-client-lb', namespace: 'default' },
    spec: { type: 'LoadBalancer' },
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.10' }, { hostname: 'etcd.example.com' }] } },
  }
  const fixture: RequestFixture = { spec, pods: [{ ordinal: 0 }], services: [lb] }
  const certs = certificates(children(syncRequest(fixture), reachable(members(0), 0)))
  for (const cert of certs.values()) {
    t.doesNotThrow(() => new Certificate(cert as never).validate())
    t.same(cert.spec.issuerRef, { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' })
    t.equal(cert.spec.duration, '720h')
    t.equal(cert.spec.renewBefore, '240h')
    t.same(cert.spec.privateKey, { rotationPolicy: 'Always', algorithm: 'ECDSA', size: 384 })
  }
  t.same(certs.get('example-peer-cert')!.spec.dnsNames, ['*.example.default.svc', '*.example.default.svc.cluster.local'])
  const server = certs.get('example-server-cert')!
  t.same(server.spec.dnsNames, [
    '*.example.default.svc', '*.example.default.svc.cluster.local',
    'example-client', 'example-client.default', 'example-client.default.svc', 'example-client.default.svc.cluster.local',
    'example-client-lb.default.svc', 'example-client-lb.default.svc.cluster.local',
    'etcd.example.com', 'localhost',
  ])
  t.same(server.spec.ipAddresses, ['127.0.0.1', '203.0.113.10'])
})

t.test('member pods mount cert-manager\'s Secrets under the CoreOS file names', async t => {
  const [seed] = pods(children(issued({ spec: { TLS: CERT_MANAGER } })))
  const spec = seed!.spec
  const volumes = new Map((spec.volumes as Array<{ name: string, secret?: unknown }>).map(v => [v.name, v.secret]))
  const items = (role: string) => [{ key: 'tls.crt', path: `${role}.crt` }, { key: 'tls.key', path: `${role}.key` }, { key: 'ca.crt', path: `${role}-ca.crt` }]
  t.same(volumes.get('member-peer-tls'), { secretName: 'example-peer-cert', items: items('peer') })
  t.same(volumes.get('member-server-tls'), { secretName: 'example-server-cert', items: items('server') })
  const args = spec.containers[0].args as string[]
  for (const flag of [
    '--peer-trusted-ca-file=/etc/etcdtls/member/peer-tls/peer-ca.crt', '--peer-cert-file=/etc/etcdtls/member/peer-tls/peer.crt', '--peer-key-file=/etc/etcdtls/member/peer-tls/peer.key',
    '--trusted-ca-file=/etc/etcdtls/member/server-tls/server-ca.crt', '--cert-file=/etc/etcdtls/member/server-tls/server.crt', '--key-file=/etc/etcdtls/member/server-tls/server.key',
    '--peer-client-cert-auth=true', '--client-cert-auth=true',
  ]) t.ok(args.includes(flag), flag)
  t.ok(args.some(a => a.startsWith('--initial-advertise-peer-urls=https://')), 'peers talk https')
  t.ok(args.some(a => a.startsWith('--advertise-client-urls=https://')), 'clients too')

  // Static TLS is unchanged: the Secret's own file names, no items.
  const [staticSeed] = pods(children(syncRequest({ spec: { TLS: STATIC } })))
  const staticVolumes = (staticSeed!.spec.volumes as Array<{ name: string, secret?: unknown }>).filter(v => v.secret !== undefined)
  t.same(staticVolumes, [{ name: 'member-peer-tls', secret: { secretName: 'example-peer-tls' } }, { name: 'member-server-tls', secret: { secretName: 'example-server-tls' } }])
  t.equal(pods(children(syncRequest({ spec: { TLS: STATIC } })))[0]!.metadata.annotations?.['etcd.database.coreos.com/pod-policy'],
    pods(children(syncRequest({ spec: { TLS: STATIC } })))[0]!.metadata.annotations?.['etcd.database.coreos.com/pod-policy'])
  t.notSame(seed!.metadata.annotations?.['etcd.database.coreos.com/pod-policy'], staticSeed!.metadata.annotations?.['etcd.database.coreos.com/pod-policy'], 'the layout is part of what a pod is made from')
})

t.test('the hook\'s client certificate: the operator Certificate\'s Secret, from related', async t => {
  t.same(relatedResources({ metadata: { name: NAME, namespace: 'prod' }, spec: { TLS: CERT_MANAGER } }),
    [{ apiVersion: 'v1', resource: 'secrets', namespace: 'prod', names: ['example-operator-cert', 'example-peer-cert', 'example-server-cert'] }], 'the customize hook asks for it (and the members\' Secrets, for their CA)')
  const request = syncRequest({ spec: { TLS: CERT_MANAGER } })
  t.same(operatorCredentials(request), { kind: 'problem', message: 'operator secret default/example-operator-cert not found (Certificate example-operator-cert, spec.TLS.certManager)' }, 'not issued yet: said so')
  request.related = { 'Secret.v1': { 'example-operator-cert': certManagerSecret('example-operator-cert') } }
  const ready = operatorCredentials(request)
  t.equal(ready.kind, 'ready')
  if (ready.kind === 'ready') {
    t.match(ready.tls.cert, /^-----BEGIN CERTIFICATE-----/, 'tls.crt is the client certificate')
    t.match(ready.tls.key, /^-----BEGIN PRIVATE KEY-----/, 'tls.key its key')
    t.equal(Buffer.from(ready.tls.ca.split('\n')[1]!, 'base64').toString(), 'ca', 'ca.crt the CA members are checked against')
  }
  const partial = certManagerSecret('example-operator-cert', { 'tls.crt': 'cert', 'tls.key': 'key' })
  request.related = { 'Secret.v1': { 'example-operator-cert': partial } }
  t.same(operatorCredentials(request), { kind: 'problem', message: 'operator secret default/example-operator-cert lacks ca.crt' }, 'a Secret without ca.crt: named')
  // A static Secret's file names do not count for cert-manager.
  const staticNames = certManagerSecret('example-operator-cert', { 'etcd-client.crt': 'c', 'etcd-client.key': 'k', 'etcd-client-ca.crt': 'a' })
  request.related = { 'Secret.v1': { 'example-operator-cert': staticNames } }
  t.match(operatorCredentials(request), { kind: 'problem', message: /lacks tls\.crt, tls\.key, ca\.crt/ })

  // Before the operator Secret is issued the hook still answers 200 with
  // every child, the Certificates among them, and says what it waits for.
  const blind = plan(syncRequest({ spec: { TLS: CERT_MANAGER }, pods: [{ ordinal: 0 }, { ordinal: 1 }, { ordinal: 2 }] }), { reachable: false, error: 'operator secret default/example-operator-cert not found (Certificate example-operator-cert, spec.TLS.certManager)' }, NOW)
  t.equal(pods(blind.response.children as Obj[]).length, 3, 'every pod kept')
  t.equal(certificates(blind.response.children as Obj[]).size, 3, 'and every Certificate')
  t.match(blind.response.status.conditions?.find(c => c.type === 'Available'), { status: 'False', message: /example-operator-cert not found/ })
})

t.test('static <-> cert-manager is a TLS change: refused while members run', async t => {
  const running = [0, 1, 2].map(ordinal => ({ ordinal }))
  for (const [from, to, label] of [[STATIC, CERT_MANAGER, 'static to cert-manager'], [CERT_MANAGER, STATIC, 'cert-manager to static'], [undefined, CERT_MANAGER, 'plain to cert-manager'], [CERT_MANAGER, undefined, 'cert-manager to plain']] as const) {
    const request = syncRequest({ spec: from !== undefined ? { TLS: from } : {}, pods: running })
    if (to === undefined) delete request.parent.spec.TLS
    else request.parent.spec.TLS = to
    const result = plan(request, reachable(members(0, 1, 2), 0), NOW)
    t.equal(result.rule, 'tlsChangeRefused', `${label}: refused`)
    t.equal(result.action, undefined, `${label}: no membership write`)
    t.equal(pods(result.response.children as Obj[]).length, 3, `${label}: every pod kept`)
  }
  // Same Secret names, other layout: still a change (the files differ).
  const request = syncRequest({ spec: { TLS: { static: { member: { peerSecret: 'example-peer-cert', serverSecret: 'example-server-cert' }, operatorSecret: 'example-operator-cert' } } }, pods: running })
  request.parent.spec.TLS = CERT_MANAGER
  const sameNames = plan(request, reachable(members(0, 1, 2), 0), NOW)
  t.equal(sameNames.rule, 'tlsChangeRefused', 'static Secrets named like cert-manager\'s: refused too')
  t.equal(sameNames.response.status.reason, 'waiting for spec.TLS set back: it cannot change after creation (example-0 runs with peer TLS from example-peer-cert, client TLS from example-server-cert, spec asks for peer TLS from cert-manager\'s example-peer-cert, client TLS from cert-manager\'s example-server-cert)', 'status.reason says what runs and what is asked')
  // Unchanged cert-manager TLS: steady.
  t.equal(plan(syncRequest({ spec: { TLS: CERT_MANAGER }, pods: running }), reachable(members(0, 1, 2), 0), NOW).rule, 'steady')
})

t.test('backups of a cert-manager cluster use the operator Certificate\'s Secret', async t => {
  const spec: Partial<ClusterSpec> = { TLS: CERT_MANAGER, backup: { schedule: '0 * * * *', pvc: { claimName: 'backups' } } }
  const cronJob = children(syncRequest({ spec })).find(o => o.kind === 'CronJob')!
  const podSpec = cronJob.spec.jobTemplate.spec.template.spec
  const tlsVolume = (podSpec.volumes as Array<{ name: string, secret?: unknown }>).find(v => v.name === 'client-tls')
  const items = [{ key: 'tls.crt', path: 'etcd-client.crt' }, { key: 'tls.key', path: 'etcd-client.key' }, { key: 'ca.crt', path: 'etcd-client-ca.crt' }]
  t.same(tlsVolume?.secret, { secretName: 'example-operator-cert', items })
  t.ok((podSpec.initContainers[0].args as string[]).some(a => a.startsWith('--endpoints=https://')), 'the snapshot is taken over https')
  // An EtcdBackup naming the cluster.
  const cluster = { apiVersion: 'etcd.database.coreos.com/v1beta2', kind: 'EtcdCluster', metadata: { name: NAME, namespace: 'default' }, spec: { size: 3, TLS: CERT_MANAGER } }
  const source = readSource({ clusterName: NAME, pvc: { claimName: 'backups', path: 'b1.db' } }, 'b1', 'default', { 'EtcdCluster.etcd.database.coreos.com/v1beta2': { [NAME]: cluster } })
  t.match(source, { kind: 'ready', source: { endpoint: 'https://example-client.default.svc:2379', clientTLSSecret: 'example-operator-cert', clientTLSItems: items } })
})

t.test('/sync refuses a cert-manager cluster when Metacontroller does not manage Certificates', async t => {
  const app = buildApp({ membership: { observe: async () => unreachable, execute: async () => {} }, now: () => NOW })
  t.teardown(() => app.close())
  const request = syncRequest({ spec: { TLS: CERT_MANAGER } })
  const refused = await app.inject({ method: 'POST', url: '/sync', payload: request as never })
  t.equal(refused.statusCode, 422, 'a 422: Metacontroller changes nothing')
  t.match(refused.json(), { message: /spec\.TLS\.certManager: the CompositeController does not declare cert-manager\.io\/v1 certificates as children \(chart: certManager\.enabled=true/ })
  // Declared (present, even empty, as Metacontroller sends every declared type).
  request.children = { ...request.children, [CERTIFICATE_CHILDREN]: {} }
  const answered = await app.inject({ method: 'POST', url: '/sync', payload: request as never })
  t.equal(answered.statusCode, 200)
  const body = answered.json<{ children: Obj[], status: { reason?: string } }>()
  t.same([...certificates(body.children).keys()], ['example-peer-cert', 'example-server-cert', 'example-operator-cert'], 'the Certificates are in the answer')
  t.equal(pods(body.children).length, 0, 'no seed before cert-manager has issued them')
  t.equal(body.status.reason, 'waiting for cert-manager to issue Certificates example-peer-cert and example-server-cert (their Secrets with ca.crt; see kubectl describe certificate)')
  // Issued: the seed, knowing its CA.
  request.related = issuedSecrets()
  const seeded = (await app.inject({ method: 'POST', url: '/sync', payload: request as never })).json<{ children: Obj[] }>()
  t.equal(pods(seeded.children).length, 1, 'the seed once they are')
  t.match(pods(seeded.children)[0]!.metadata.annotations, { 'etcd.database.coreos.com/trusted-ca': /^[0-9a-f]{16}$/ })
  // The customize hook, as Metacontroller calls it.
  const customize = await app.inject({ method: 'POST', url: '/customize', payload: { controller: {}, parent: request.parent } as never })
  t.same(customize.json(), { relatedResources: [{ apiVersion: 'v1', resource: 'secrets', namespace: 'default', names: ['example-operator-cert', 'example-peer-cert', 'example-server-cert'] }] }, '/customize asks for the three Secrets')
  // Static TLS needs no such declaration.
  const plain = await app.inject({ method: 'POST', url: '/sync', payload: syncRequest({ spec: { TLS: STATIC } }) as never })
  t.equal(plain.statusCode, 200)
})

// The Certificates as Metacontroller shows them once created.
function observedCertificates (request: SyncRequest, issuerRef: Record<string, string>): void {
  const certs = certificates(children(syncRequest({ spec: { TLS: CERT_MANAGER } })))
  request.children = {
    ...request.children,
    [CERTIFICATE_CHILDREN]: Object.fromEntries([...certs].map(([name, c]) => [name, { ...c, spec: { ...c.spec, issuerRef }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }])),
  }
}

t.test('another issuer while members run: the Certificates keep theirs, nothing changes', async t => {
  const running = [0, 1, 2].map(ordinal => ({ ordinal }))
  const request = syncRequest({ spec: { TLS: { certManager: { issuerRef: { name: 'new-ca', kind: 'ClusterIssuer' } } } }, pods: running })
  observedCertificates(request, { name: 'etcd-ca', kind: 'Issuer', group: 'cert-manager.io' })
  const result = plan(request, reachable(members(0, 1, 2), 0), NOW)
  t.equal(result.rule, 'issuerChangeRefused')
  t.equal(result.action, undefined)
  for (const cert of certificates(result.response.children as Obj[]).values()) {
    t.same(cert.spec.issuerRef, { name: 'etcd-ca', kind: 'Issuer', group: 'cert-manager.io' }, `${cert.metadata.name} keeps the issuer the members trust`)
  }
  t.match(result.response.status.reason, /^waiting for spec\.TLS\.certManager\.issuerRef set back to Issuer etcd-ca: the members trust its CA, read once at start; ClusterIssuer new-ca would re-issue/)
  // Set back: steady, same Certificates.
  request.parent.spec.TLS = CERT_MANAGER
  const back = plan(request, reachable(members(0, 1, 2), 0), NOW)
  t.equal(back.rule, 'steady')
  // Before any member runs the spec's issuer goes straight to the Certificates.
  const fresh = issued({ spec: { TLS: { certManager: { issuerRef: { name: 'new-ca' } } } } })
  observedCertificates(fresh, { name: 'etcd-ca', kind: 'Issuer', group: 'cert-manager.io' })
  const seeded = plan(fresh, unreachable, NOW)
  t.equal(seeded.rule, 'bootstrap')
  for (const cert of certificates(seeded.response.children as Obj[]).values()) t.equal(cert.spec.issuerRef.name, 'new-ca')
})

t.test('members record the CA they start with; a CA changed under them stops membership changes', async t => {
  const secrets = issuedSecrets
  // The seed, with the CA issued.
  const request = syncRequest({ spec: { TLS: CERT_MANAGER } })
  request.related = secrets('CA one')
  const [seed] = pods(children(request))
  const fingerprint = seed!.metadata.annotations?.['etcd.database.coreos.com/trusted-ca']
  t.match(fingerprint, /^[0-9a-f]{16}$/, 'the seed records the CA\'s fingerprint')
  const renewed = syncRequest({ spec: { TLS: CERT_MANAGER } })
  renewed.related = { 'Secret.v1': { ...secrets('CA one')['Secret.v1'], 'example-peer-cert': certManagerSecret('example-peer-cert', { 'tls.crt': 'renewed leaf', 'tls.key': 'new key', 'ca.crt': 'CA one' }) } }
  t.equal(pods(children(renewed))[0]!.metadata.annotations?.['etcd.database.coreos.com/trusted-ca'], fingerprint, 'a renewed leaf is the same CA')

  // Running members that started with it.
  const running = (ca: string, size = 3) => {
    const r = syncRequest({ spec: { TLS: CERT_MANAGER, size }, pods: [0, 1, 2].map(ordinal => ({ ordinal })) })
    for (const pod of Object.values(r.children!['Pod.v1']!)) pod.metadata.annotations = { ...pod.metadata.annotations, 'etcd.database.coreos.com/trusted-ca': fingerprint! }
    r.related = secrets(ca)
    return r
  }
  t.equal(plan(running('CA one', 4), reachable(members(0, 1, 2), 0), NOW).rule, 'addMember', 'same CA: the cluster grows')
  const changed = plan(running('CA two', 4), reachable(members(0, 1, 2), 0), NOW)
  t.equal(changed.rule, 'authorityChangeRefused', 'a new CA: no member added')
  t.equal(changed.action, undefined)
  t.equal(pods(changed.response.children as Obj[]).length, 3, 'every pod kept')
  t.match(changed.response.status.reason, /is not the CA example-0, example-1, example-2 started with, and etcd reads its trusted CA only at start/)
})
