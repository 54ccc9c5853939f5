// Item 9 of the safety issue: spec.pod.etcdEnv may not set what the
// operator renders itself or depends on. Each refusal names the field and
// the variable, and the sync route answers 422 without asking etcd.
import t from 'tap'
import * as etcdEnv from '../hooks/api/etcd-env.js'
import * as validate from '../hooks/api/validate.js'
import type { EtcdCluster } from '../hooks/api/cluster.js'
import { buildApp } from '../hooks/server/app.js'
import type { MembershipClient } from '../hooks/etcd/types.js'
import { NOW, members, reachable, syncRequest } from './helpers/fixtures.js'

const { problemsOf } = validate

const withEnv = (etcdEnv: unknown[]): EtcdCluster => syncRequest({ spec: { pod: { etcdEnv: etcdEnv as never } } }).parent

// Named in the issue: each breaks bootstrap, data, addressing or probes.
const RESERVED = [
  'ETCD_FORCE_NEW_CLUSTER', 'ETCD_INITIAL_CLUSTER', 'ETCD_INITIAL_CLUSTER_STATE', 'ETCD_INITIAL_CLUSTER_TOKEN',
  'ETCD_INITIAL_ADVERTISE_PEER_URLS', 'ETCD_NAME', 'ETCD_DATA_DIR', 'ETCD_WAL_DIR', 'ETCD_LISTEN_PEER_URLS',
  'ETCD_LISTEN_CLIENT_URLS', 'ETCD_ADVERTISE_CLIENT_URLS', 'ETCD_LISTEN_METRICS_URLS',
  // TLS the operator renders from spec.TLS.static.
  'ETCD_CERT_FILE', 'ETCD_KEY_FILE', 'ETCD_TRUSTED_CA_FILE', 'ETCD_CLIENT_CERT_AUTH',
  'ETCD_PEER_CERT_FILE', 'ETCD_PEER_KEY_FILE', 'ETCD_PEER_TRUSTED_CA_FILE', 'ETCD_PEER_CLIENT_CERT_AUTH', 'ETCD_PEER_AUTO_TLS',
]

t.test('item 9: every reserved etcdEnv variable is refused, one sentence naming its field and why', async t => {
  for (const name of RESERVED) {
    // Behind a harmless one, so the index in the path is checked too.
    const problems = problemsOf(withEnv([{ name: 'ETCD_QUOTA_BACKEND_BYTES', value: '4294967296' }, { name, value: 'x' }]))
    t.equal(problems.length, 1, `${name}: one problem`)
    t.match(problems[0], new RegExp(`^spec\\.pod\\.etcdEnv\\[1\\]\\.name: ${name} is set by the operator: \\S.{20,}`), `${name}: names the field, the variable and why`)
    t.notMatch(problems[0], /;/, `${name}: one sentence`)
  }
  const refused = problemsOf(withEnv([{ name: 'ETCD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]))
  t.match(refused, [/etcdEnv\[0\]\.name: ETCD_NAME/], 'refused whatever its value comes from')
  t.equal(problemsOf(withEnv(RESERVED.map(name => ({ name, value: 'x' })))).length, RESERVED.length, 'each one its own sentence')
})

t.test('item 9: the gRPC gateway the hook talks to cannot be turned off', async t => {
  for (const value of ['false', '0', 'f', 'F', 'FALSE', 'False', 'no', '']) {
    t.match(problemsOf(withEnv([{ name: 'ETCD_ENABLE_GRPC_GATEWAY', value }])), [new RegExp(`^spec\\.pod\\.etcdEnv\\[0\\]\\.value: ETCD_ENABLE_GRPC_GATEWAY=${value} is refused: .*gateway`)], `value "${value}" is refused`)
  }
  t.match(problemsOf(withEnv([{ name: 'ETCD_ENABLE_GRPC_GATEWAY', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } }])),
    [/^spec\.pod\.etcdEnv\[0\]\.valueFrom: ETCD_ENABLE_GRPC_GATEWAY must be a literal true/], 'a value the hook cannot see is refused')
  for (const value of ['true', 'True', 'TRUE', 't', '1']) {
    t.same(problemsOf(withEnv([{ name: 'ETCD_ENABLE_GRPC_GATEWAY', value }])), [], `value "${value}" (on, as etcd parses it) is fine`)
  }
})

t.test('item 9: other etcd settings pass', async t => {
  t.same(problemsOf(withEnv([
    { name: 'ETCD_QUOTA_BACKEND_BYTES', value: '8589934592' },
    { name: 'ETCD_AUTO_COMPACTION_RETENTION', value: '1' },
    { name: 'ETCD_HEARTBEAT_INTERVAL', value: '200' },
    { name: 'ETCD_ELECTION_TIMEOUT', value: '2000' },
    { name: 'ETCD_LOG_LEVEL', value: 'debug' },
    { name: 'GOMAXPROCS', value: '2' },
    // Not a variable etcd reads: names are case-sensitive.
    { name: 'etcd_name', value: 'x' },
  ])), [])
  t.same(problemsOf(withEnv([])), [], 'an empty list')
})

t.test('item 9: RESERVED_ETCD_ENV is the one list, exported (the CRD\'s rules are made from it)', async t => {
  const list = (etcdEnv as Record<string, unknown>).RESERVED_ETCD_ENV as Array<{ name: string, match: string }> | undefined
  t.ok(Array.isArray(list), 'exported')
  const names = (list ?? []).map(r => r.name)
  for (const name of RESERVED.filter(n => !n.startsWith('ETCD_PEER_'))) t.ok(names.includes(name), `${name} is listed`)
  t.ok(list?.some(r => r.name === 'ETCD_PEER_' && r.match === 'prefix'), 'every ETCD_PEER_* variable')
  t.ok(list?.some(r => r.name === 'ETCD_ENABLE_GRPC_GATEWAY'), 'the gateway switch')
})

t.test('item 9: the sync route answers 422 with the problems and asks etcd nothing', async t => {
  let calls = 0
  const membership: MembershipClient = {
    observe: async () => { calls++; return reachable(members(0, 1, 2), 0) },
    execute: async () => { calls++ },
  }
  const app = buildApp({ membership, now: () => NOW })
  t.teardown(() => app.close())
  const request = syncRequest({ spec: { pod: { etcdEnv: [{ name: 'ETCD_FORCE_NEW_CLUSTER', value: 'true' }, { name: 'ETCD_ENABLE_GRPC_GATEWAY', value: 'false' }] as never } }, pods: [{ ordinal: 0 }, { ordinal: 1 }, { ordinal: 2 }] })
  const res = await app.inject({ method: 'POST', url: '/sync', payload: request })
  t.equal(res.statusCode, 422)
  const body = res.json<{ error: string, message: string }>()
  t.equal(body.error, 'Unprocessable Entity')
  t.match(body.message, /spec\.pod\.etcdEnv\[0\]\.name: ETCD_FORCE_NEW_CLUSTER is set by the operator/)
  t.match(body.message, /spec\.pod\.etcdEnv\[1\]\.value: ETCD_ENABLE_GRPC_GATEWAY=false is refused/)
  t.equal(calls, 0, 'no etcd call, no membership write')
})
