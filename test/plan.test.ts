// The decision table, one row per situation of a cluster's life. Each row
// names the rule that must win, and checks the children, status and
// membership action that follow from it.
import t, { type Test } from 'tap'
import { plan, RESYNC_CONVERGING, RESYNC_STEADY, type Plan, type StepName } from '../hooks/cluster/plan.js'
import { withoutNulls } from '../hooks/kube/objects.js'
import { resolveSpec } from '../hooks/cluster/observe/spec.js'
import { NestingError } from '../hooks/api/validate.js'
import type { Observation } from '../hooks/etcd/types.js'
import {
  CLUSTER_ID, NAME, NOW, UID, memberId, members, reachable, syncRequest, unreachable,
  type RequestFixture,
} from './helpers/fixtures.js'
import { child, childrenOfKind, conditionOf, etcdContainer, flags, podNames } from './helpers/inspect.js'

const OLD_IMAGE = 'quay.io/coreos/etcd:v3.4.23'
const NEW_IMAGE = 'quay.io/coreos/etcd:v3.5.21'
const host = (o: number) => `${NAME}-${o}.${NAME}.default.svc`
const ready = (...ordinals: number[]) => ordinals.map(ordinal => ({ ordinal }))

interface Row {
  name: string
  why: string
  request: RequestFixture
  observation: Observation
  rule: StepName
  check: (t: Test, p: Plan) => void
}

const rows: Row[] = [
  {
    name: 'a new cluster gets its seed',
    why: 'the first member bootstraps alone, with a token only this cluster object has',
    request: {},
    observation: unreachable,
    rule: 'bootstrap',
    check: (t, p) => {
      t.equal(p.action, undefined, 'no membership write: there is no etcd yet')
      t.same(podNames(p.response), [`${NAME}-0`])
      const f = flags(child(p.response, 'Pod', `${NAME}-0`))
      t.equal(f['initial-cluster-state'], 'new')
      t.equal(f['initial-cluster'], `${NAME}-0=http://${host(0)}:2380`)
      t.equal(f['initial-cluster-token'], `${NAME}-${UID}`)
      t.equal(f['advertise-client-urls'], `http://${host(0)}:2379`)
      t.same(childrenOfKind(p.response, 'Service').map(s => s.metadata.name), [NAME, `${NAME}-client`])
      t.equal(p.response.status.phase, 'Creating')
      t.equal(p.response.resyncAfterSeconds, RESYNC_CONVERGING)
    },
  },
  {
    name: 'the seed pod is starting',
    why: 'pods exist but etcd does not answer yet: wait, keep everything',
    request: { pods: [{ ordinal: 0, state: 'pending' }], status: { phase: 'Creating' } },
    observation: unreachable,
    rule: 'unreachable',
    check: (t, p) => {
      t.same(podNames(p.response), [`${NAME}-0`])
      t.equal(conditionOf(p.response, 'Available').reason, 'Unreachable')
      t.equal(p.response.status.phase, 'Creating')
    },
  },
  {
    name: 'etcd unreachable in a running cluster',
    why: 'a network problem must never look like dead members: nothing is deleted',
    request: { pods: ready(0, 1, 2), status: { phase: 'Running', clusterID: 'cdf818194e3a8c32' } },
    observation: unreachable,
    rule: 'unreachable',
    check: (t, p) => {
      t.same(podNames(p.response), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`])
      t.equal(p.response.status.clusterID, 'cdf818194e3a8c32', 'the known cluster ID is kept')
      t.equal(conditionOf(p.response, 'Available').status, 'False')
    },
  },
  {
    name: 'a seed that failed before bootstrap',
    why: 'it holds no data; deleting it lets the next sync start over',
    request: { pods: [{ ordinal: 0, state: 'failed' }] },
    observation: unreachable,
    rule: 'clearFailedSeed',
    check: (t, p) => { t.same(podNames(p.response), []) },
  },
  {
    name: 'a failed seed with a volume, etcd never observed',
    why: 'nothing proves the volume is empty: the pod goes, the claim stays',
    request: { pods: [{ ordinal: 0, state: 'failed' }], claims: [0], spec: { pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } } },
    observation: unreachable,
    rule: 'clearFailedSeed',
    check: (t, p) => {
      t.same(podNames(p.response), [])
      t.same(childrenOfKind(p.response, 'PersistentVolumeClaim').map(c => c.metadata.name), [`etcd-data-${NAME}-0`])
      const again = plan(syncRequest({ claims: [0], spec: { pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } } }), unreachable, NOW)
      t.equal(again.rule, 'restartFromClaims', 'next sync: the seed again, on its volume')
      t.equal(flags(child(again.response, 'Pod', `${NAME}-0`))['initial-cluster-state'], 'new', 'free to bootstrap if the volume is empty')
    },
  },
  {
    name: 'every member lost after bootstrap',
    why: 'a fresh empty cluster would hide the data loss: report it instead',
    request: { status: { phase: 'Running', clusterID: 'cdf818194e3a8c32' } },
    observation: unreachable,
    rule: 'allMembersLost',
    check: (t, p) => {
      t.same(podNames(p.response), [])
      t.equal(p.response.status.phase, 'Failed')
      t.equal(conditionOf(p.response, 'Available').reason, 'AllMembersLost')
    },
  },
  {
    name: 'paused with a size change',
    why: 'paused means hands off: no member added, pods as they are',
    request: { spec: { size: 5, paused: true }, pods: ready(0, 1, 2) },
    observation: reachable(members(0, 1, 2), 0),
    rule: 'paused',
    check: (t, p) => {
      t.equal(p.action, undefined)
      t.same(podNames(p.response), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`])
      t.equal(p.response.status.controlPaused, true)
      t.equal(p.response.status.leader, `${NAME}-0`, 'status still reports what it sees')
    },
  },
  {
    name: 'quorum lost',
    why: 'two of three members down: change nothing destructive, say so',
    request: { pods: [{ ordinal: 0 }, { ordinal: 1, state: 'failed' }, { ordinal: 2, state: 'failed' }], status: { phase: 'Running' } },
    observation: reachable(members(0, 1, 2), undefined),
    rule: 'quorumLost',
    check: (t, p) => {
      t.equal(p.action, undefined)
      t.same(podNames(p.response), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`], 'even failed pods stay')
      t.equal(p.response.status.phase, 'Failed')
      const available = conditionOf(p.response, 'Available')
      t.equal(available.status, 'False')
      t.equal(available.reason, 'QuorumLost')
      t.match(available.message, /no leader: 2 of 3 voting members needed; unready: example-1, example-2/)
    },
  },
  {
    name: 'a member was added but its pod was never created',
    why: 'the hook may stop between the add and the pod: the next sync heals it',
    request: { pods: ready(0, 1, 2) },
    observation: reachable(members(0, 1, 2, { ordinal: 3, learner: true, unstarted: true }), 0),
    rule: 'startAddedMember',
    check: (t, p) => {
      t.equal(p.action, undefined, 'the member exists already')
      const f = flags(child(p.response, 'Pod', `${NAME}-3`))
      t.equal(f['initial-cluster-state'], 'existing')
      t.equal(f['initial-cluster'], [0, 1, 2, 3].map(o => `${NAME}-${o}=http://${host(o)}:2380`).join(','))
    },
  },
  {
    name: 'a member whose pod failed',
    why: 'a dead member is removed so a new one can take its place',
    request: { pods: [{ ordinal: 0 }, { ordinal: 1 }, { ordinal: 2, state: 'failed' }] },
    observation: reachable(members(0, 1, 2), 0),
    rule: 'removeDeadMember',
    check: (t, p) => {
      t.match(p.action, { kind: 'remove', pod: `${NAME}-2`, memberId: memberId(2) })
      t.same(p.action?.target.endpoints, [`http://${host(0)}:2379`, `http://${host(1)}:2379`], 'healthy voters, leader first')
      t.same(podNames(p.response), [`${NAME}-0`, `${NAME}-1`], 'the failed pod goes once the member is removed')
      t.same(podNames(p.responseIfActionFails), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`], 'and stays if removal failed')
      t.equal(conditionOf(p.response, 'Recovering').status, 'True')
    },
  },
  {
    name: 'a member whose pod is gone',
    why: 'a deleted pod takes its emptyDir data with it: the member cannot come back',
    request: { pods: ready(0, 2) },
    observation: reachable(members(0, 1, 2), 2),
    rule: 'removeDeadMember',
    check: (t, p) => {
      t.match(p.action, { kind: 'remove', pod: `${NAME}-1` })
      t.same(p.action?.target.endpoints[0], `http://${host(2)}:2379`, 'the leader first')
    },
  },
  {
    name: 'a member crash-looping for an hour',
    why: 'it will not heal by itself: replace it like a dead one',
    request: { pods: [{ ordinal: 0 }, { ordinal: 1, state: 'crashloop' }, { ordinal: 2 }] },
    observation: reachable(members(0, 1, 2), 0),
    rule: 'removeStuckMember',
    check: (t, p) => {
      t.match(p.action, { kind: 'remove', pod: `${NAME}-1` })
      t.same(podNames(p.response), [`${NAME}-0`, `${NAME}-2`])
      t.match(p.response.status.lastAction, /crash-looping since 2026-11-26T09:00:05Z/)
    },
  },
  {
    name: 'a member crash-looping for a minute',
    why: 'a restart or a slow disk: give it time, change nothing',
    request: { pods: [{ ordinal: 0 }, { ordinal: 1, state: 'crashloop', since: '2026-11-26T09:59:00Z' }, { ordinal: 2 }] },
    observation: reachable(members(0, 1, 2), 0),
    rule: 'waitForHealthy',
    check: (t, p) => { t.equal(p.action, undefined) },
  },
  {
    name: 'a pod that is no member',
    why: 'a removed member must not run on (etcd would refuse it anyway)',
    request: { pods: ready(0, 1, 2, 3) },
    observation: reachable(members(0, 1, 2), 0),
    rule: 'deleteStrayPod',
    check: (t, p) => {
      t.equal(p.action, undefined)
      t.same(podNames(p.response), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`])
    },
  },
  {
    name: 'a learner whose pod runs',
    why: 'promote it; etcd refuses until it caught up, and the next sync tries again',
    request: { pods: [...ready(0, 1, 2), { ordinal: 3, state: 'unready' }] },
    observation: reachable(members(0, 1, 2, { ordinal: 3, learner: true }), 1),
    rule: 'promoteLearner',
    check: (t, p) => {
      t.match(p.action, { kind: 'promote', pod: `${NAME}-3`, memberId: memberId(3) })
      t.same(podNames(p.responseIfActionFails), podNames(p.response), 'a refused promote changes no child')
      t.same(p.response.status.learners, [`${NAME}-3`])
      t.match(p.responseIfActionFails.status.lastAction, /failed; retrying/)
    },
  },
  {
    name: 'a learner whose pod is still pending',
    why: 'a learner that has not started cannot catch up; its pod was made a minute ago, well inside the deadline',
    request: { spec: { size: 4 }, pods: [...ready(0, 1, 2), { ordinal: 3, state: 'pending', created: '2026-11-26T09:59:00Z' }] },
    observation: reachable(members(0, 1, 2, { ordinal: 3, learner: true, unstarted: true }), 1),
    rule: 'waitForLearner',
    check: (t, p) => { t.equal(p.action, undefined) },
  },
  {
    name: 'one member short, all healthy',
    why: 'grow by one learner at a time, with its pod in the same response',
    request: { pods: ready(0, 1) },
    observation: reachable(members(0, 1), 0),
    rule: 'addMember',
    check: (t, p) => {
      t.match(p.action, { kind: 'addLearner', pod: `${NAME}-2`, peerURL: `http://${host(2)}:2380` })
      const f = flags(child(p.response, 'Pod', `${NAME}-2`))
      t.equal(f['initial-cluster-state'], 'existing')
      t.equal(f['initial-cluster'], [0, 1, 2].map(o => `${NAME}-${o}=http://${host(o)}:2380`).join(','))
      t.same(podNames(p.responseIfActionFails), [`${NAME}-0`, `${NAME}-1`], 'no pod without its member')
      t.equal(conditionOf(p.response, 'Scaling').reason, 'ScalingUp')
    },
  },
  {
    name: 'growing while a member is unready',
    why: 'never change membership while a member is unhealthy (here one of two: no healthy majority)',
    request: { pods: [{ ordinal: 0 }, { ordinal: 1, state: 'unready' }] },
    observation: reachable(members(0, 1), 0),
    rule: 'quorumUnhealthy',
    check: (t, p) => {
      t.equal(p.action, undefined)
      t.equal(conditionOf(p.response, 'Degraded').status, 'True')
    },
  },
  {
    name: 'ordinals are never reused',
    why: 'example-2 was removed but its volume remains: the new member is example-4',
    request: { pods: ready(0, 1, 3), claims: [0, 1, 2, 3], spec: { size: 4, pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } } },
    observation: reachable(members(0, 1, 3), 0),
    rule: 'addMember',
    check: (t, p) => {
      t.match(p.action, { kind: 'addLearner', pod: `${NAME}-4` })
      t.ok(p.response.children.some(c => c.kind === 'PersistentVolumeClaim' && c.metadata.name === `etcd-data-${NAME}-4`), 'the new member gets its own claim')
      t.notOk(p.response.children.some(c => c.metadata.name === `etcd-data-${NAME}-2`), 'the removed member\'s claim goes')
    },
  },
  {
    name: 'one member too many, a follower on top',
    why: 'shrink by removing the highest ordinal, and its pod once removed',
    request: { spec: { size: 3 }, pods: ready(0, 1, 2, 3) },
    observation: reachable(members(0, 1, 2, 3), 0),
    rule: 'removeMember',
    check: (t, p) => {
      t.match(p.action, { kind: 'remove', pod: `${NAME}-3`, memberId: memberId(3) })
      t.same(podNames(p.response), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`])
      t.same(podNames(p.responseIfActionFails), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`, `${NAME}-3`])
    },
  },
  {
    name: 'one member too many, the leader on top',
    why: 'hand leadership over before removing the leader',
    request: { spec: { size: 3 }, pods: ready(0, 1, 2, 3) },
    observation: reachable(members(0, 1, 2, 3), 3),
    rule: 'transferLeadershipBeforeRemoval',
    check: (t, p) => {
      t.match(p.action, { kind: 'transferLeadership', pod: `${NAME}-3`, toPod: `${NAME}-0`, toMemberId: memberId(0) })
      t.same(p.action?.target.endpoints, [`http://${host(3)}:2379`], 'sent to the leader')
      t.equal(podNames(p.response).length, 4, 'nobody removed yet')
    },
  },
  {
    name: 'a new version: followers first',
    why: 'one member at a time, image changed in place, everything else as observed',
    request: { pods: [0, 1, 2].map(ordinal => ({ ordinal, image: OLD_IMAGE })) },
    observation: reachable(members(0, 1, 2), 0),
    rule: 'upgradeMember',
    check: (t, p) => {
      t.equal(p.action, undefined)
      t.equal(etcdContainer(child(p.response, 'Pod', `${NAME}-1`)).image, NEW_IMAGE, 'the lowest follower moves')
      t.equal(etcdContainer(child(p.response, 'Pod', `${NAME}-0`)).image, OLD_IMAGE, 'the leader waits')
      t.equal(etcdContainer(child(p.response, 'Pod', `${NAME}-2`)).image, OLD_IMAGE, 'one at a time')
      t.equal(p.response.status.targetVersion, '3.5.21')
      t.equal(p.response.status.currentVersion, '3.4.23')
    },
  },
  {
    name: 'a new version, the moved member not yet running it',
    why: 'the next member moves only after this one runs the new image and is Ready',
    request: { pods: [{ ordinal: 0, image: OLD_IMAGE }, { ordinal: 1, runningImage: OLD_IMAGE }, { ordinal: 2, image: OLD_IMAGE }] },
    observation: reachable(members(0, 1, 2), 0),
    rule: 'waitForHealthy',
    check: (t, p) => { t.equal(etcdContainer(child(p.response, 'Pod', `${NAME}-2`)).image, OLD_IMAGE) },
  },
  {
    name: 'a new version, only the leader left',
    why: 'the leader goes last, after handing leadership to an upgraded member',
    request: { pods: [{ ordinal: 0, image: OLD_IMAGE }, { ordinal: 1 }, { ordinal: 2 }] },
    observation: reachable(members(0, 1, 2), 0),
    rule: 'transferLeadershipBeforeUpgrade',
    check: (t, p) => { t.match(p.action, { kind: 'transferLeadership', pod: `${NAME}-0`, toPod: `${NAME}-1` }) },
  },
  {
    name: 'a downgrade across a minor version',
    why: 'etcd cannot downgrade 3.5 to 3.4 in place: refuse and say why',
    request: { spec: { version: '3.4.23' }, pods: ready(0, 1, 2).map(p => ({ ...p, image: NEW_IMAGE })) },
    observation: reachable(members(0, 1, 2), 0),
    rule: 'upgradeBlocked',
    check: (t, p) => {
      t.same(podNames(p.response).length, 3)
      t.ok(p.response.children.filter(c => c.kind === 'Pod').every(pod => etcdContainer(pod).image === NEW_IMAGE))
      t.match(conditionOf(p.response, 'Upgrading'), { status: 'True', reason: 'UpgradeBlocked', message: /cannot downgrade/ })
    },
  },
  {
    name: 'a healthy cluster at size',
    why: 'steady: nothing to do, resync slowly',
    request: { pods: ready(0, 1, 2) },
    observation: reachable(members(0, 1, 2), 1),
    rule: 'steady',
    check: (t, p) => {
      t.equal(p.action, undefined)
      t.equal(p.response.resyncAfterSeconds, RESYNC_STEADY)
      t.match(p.response.status, {
        phase: 'Running', size: 3, leader: `${NAME}-1`, clusterID: BigInt(CLUSTER_ID).toString(16),
        members: { ready: [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`], unready: [] },
        currentVersion: '3.5.21', targetVersion: '', serviceName: `${NAME}-client`, clientPort: 2379,
        clientURL: `http://${NAME}-client.default.svc:2379`,
      })
      t.equal(conditionOf(p.response, 'Available').status, 'True')
    },
  },
  {
    name: 'a v2 hook request',
    why: 'v2 keys children by namespace/name; the answer must be the same',
    request: { pods: ready(0, 1, 2), keyStyle: 'v2' },
    observation: reachable(members(0, 1, 2), 1),
    rule: 'steady',
    check: (t, p) => { t.same(podNames(p.response), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`]) },
  },
  {
    name: 'a persistent member lost its pod',
    why: 'its data is on its volume: the same member comes back, no replacement',
    request: { pods: ready(0, 2), claims: [0, 1, 2], spec: { pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } } },
    observation: reachable(members(0, 1, 2), 0),
    rule: 'restartOnClaim',
    check: (t, p) => {
      t.equal(p.action, undefined, 'the member stays')
      t.same(podNames(p.response), [`${NAME}-0`, `${NAME}-2`, `${NAME}-1`])
      const volumes = (child(p.response, 'Pod', `${NAME}-1`).spec as { volumes: unknown[] }).volumes
      t.match(volumes, [{ persistentVolumeClaim: { claimName: `etcd-data-${NAME}-1` } }])
    },
  },
  {
    name: 'every pod gone, volumes kept',
    why: 'a whole-cluster restart: each member comes back on its own data',
    request: { claims: [0, 1, 2], status: { phase: 'Running', clusterID: 'cdf818194e3a8c32' }, spec: { pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } } },
    observation: unreachable,
    rule: 'restartFromClaims',
    check: (t, p) => {
      t.same(podNames(p.response), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`])
      t.equal(childrenOfKind(p.response, 'PersistentVolumeClaim').length, 3, 'the claims stay')
    },
  },
  {
    name: 'a LoadBalancer with an address',
    why: 'the external URL in status comes from the observed Service\'s ingress',
    request: {
      spec: { loadBalancer: { enabled: true, sourceRanges: ['203.0.113.0/24'] } },
      pods: ready(0, 1, 2),
      services: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: `${NAME}-client-lb` }, spec: { type: 'LoadBalancer' }, status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } } }],
    },
    observation: reachable(members(0, 1, 2), 1),
    rule: 'steady',
    check: (t, p) => {
      const lb = child(p.response, 'Service', `${NAME}-client-lb`)
      t.match(lb.spec, { type: 'LoadBalancer', selector: { app: 'etcd', etcd_cluster: NAME }, loadBalancerSourceRanges: ['203.0.113.0/24'] })
      t.same(p.response.status.externalClientURLs, ['http://198.51.100.7:2379'])
      t.match(conditionOf(p.response, 'InsecureLoadBalancer'), { status: 'True', reason: 'NoClientTLS', message: /without client TLS/ })
    },
  },
]

for (const row of rows) {
  t.test(row.name, async t => {
    t.comment(row.why)
    const result = plan(syncRequest(row.request), row.observation, NOW)
    t.equal(result.rule, row.rule, `rule ${row.rule}`)
    t.ok(result.response.children.some(c => c.kind === 'Service' && c.metadata.name === `${NAME}-client`), 'the client Service is always there')
    row.check(t, result)
  })
}

t.test('an existing pod is re-emitted as observed, never re-rendered', async t => {
  const request = syncRequest({ pods: ready(0, 1, 2), spec: { pod: { nodeSelector: { disk: 'ssd' } } } })
  const observed = request.children!['Pod.v1']![`${NAME}-1`]! as Record<string, unknown>
  const result = plan(request, reachable(members(0, 1, 2), 0), NOW)
  const emitted = child(result.response, 'Pod', `${NAME}-1`)
  t.same(emitted.spec, observed.spec, 'spec as observed (nodeName included), not the new nodeSelector')
  t.notOk('status' in emitted, 'no status')
  t.notOk('resourceVersion' in emitted.metadata, 'no server-owned metadata')
  t.notOk(JSON.stringify(result.response).includes('null'), 'no null anywhere')
})

t.test('a null in an observed pod is not emitted, and the request is left as sent', async t => {
  const request = syncRequest({ pods: ready(0, 1, 2) })
  const observed = request.children!['Pod.v1']![`${NAME}-1`]! as unknown as { spec: { containers: Array<Record<string, unknown>>, tolerations?: unknown } }
  const container = observed.spec.containers[0]!
  container.workingDir = null
  observed.spec.tolerations = [null, { key: 'disk', operator: 'Exists' }]
  const sent = JSON.stringify(request)
  const result = plan(request, reachable(members(0, 1, 2), 0), NOW)
  const emitted = child(result.response, 'Pod', `${NAME}-1`) as unknown as typeof observed
  t.notOk('workingDir' in emitted.spec.containers[0]!, 'a null field is left out')
  t.same(emitted.spec.tolerations, [{ key: 'disk', operator: 'Exists' }], 'a null array item is left out, the rest kept in order')
  t.notOk(JSON.stringify(result.response).includes('null'), 'no null anywhere')
  t.equal(JSON.stringify(request), sent, 'the request is not mutated')
})

t.test('withoutNulls copies only what holds a null', async t => {
  const clean = { a: { b: [1, { c: 'x' }] }, d: 'e' }
  t.equal(withoutNulls(clean), clean, 'a subtree without nulls comes back as it is')
  const dirty = { first: 1, inner: { keep: { deep: true }, drop: null }, list: [null, 2, undefined, 3], last: 'z' }
  const copy = withoutNulls(dirty)
  t.same(copy, { first: 1, inner: { keep: { deep: true } }, list: [2, 3], last: 'z' })
  t.same(Object.keys(copy), ['first', 'inner', 'list', 'last'], 'key order kept')
  t.equal(copy.inner.keep, dirty.inner.keep, 'clean parts are shared')
  t.equal(dirty.inner.drop, null, 'the input is not changed')
  t.same(dirty.list, [null, 2, undefined, 3], 'nor its arrays')
  let deep: Record<string, unknown> = {}
  for (let i = 0; i < 100; i++) deep = { deep }
  t.throws(() => withoutNulls(deep), NestingError, 'nesting beyond the limit is refused')
})

t.test('the pod-policy fingerprint: what needs a new pod, and nothing else', async t => {
  const hashOf = (pod: Record<string, unknown>, TLS?: Record<string, unknown>) => resolveSpec({ size: 3, pod, ...(TLS !== undefined ? { TLS } : {}) }, 'example').podPolicyHash
  const policy = { resources: { limits: { memory: '1Gi', cpu: '1' } }, nodeSelector: { disk: 'ssd' } }
  const first = hashOf(policy)
  t.match(first, /^[0-9a-f]{12}$/)
  t.equal(hashOf(policy), first, 'asked again (answered from memory): the same')
  t.equal(hashOf({ nodeSelector: { disk: 'ssd' }, resources: { limits: { cpu: '1', memory: '1Gi' } } }), first, 'key order does not matter')
  t.equal(hashOf({ ...policy, labels: { team: 'a' }, annotations: { note: 'b' } }), first, 'labels and annotations change in place')
  t.not(hashOf({ ...policy, nodeSelector: { disk: 'hdd' } }), first, 'a changed field needs new pods')
  t.not(hashOf(policy, { static: { member: { peerSecret: 'peer' } } }), first, 'so does a member TLS secret')
  let deep: Record<string, unknown> = {}
  for (let i = 0; i < 100; i++) deep = { deep }
  t.throws(() => hashOf({ affinity: deep }), NestingError, 'nesting beyond the limit is refused')
  for (let i = 0; i < 20_000; i++) deep = { deep }
  t.throws(() => hashOf({ affinity: deep }), NestingError, 'also nesting that overflows JSON.stringify')
  const large = { tolerations: Array.from({ length: 2000 }, (_, i) => ({ key: `k${i}`, operator: 'Exists' })) }
  t.equal(hashOf(large), hashOf(large), 'a policy too large to remember is hashed every time, the same')
})

t.test('clients reach voting members only: the voter label first, then the Services select it', async t => {
  const labelOf = (p: Plan, pod: string) => child(p.response, 'Pod', pod).metadata.labels?.etcd_voter
  const clientSelector = (p: Plan, name: string) => (child(p.response, 'Service', name).spec as { selector: Record<string, string> }).selector
  const spec = { size: 4, loadBalancer: { enabled: true } }

  // Pods made before the label existed (a hook upgrade): label them, and
  // keep selecting them as before until the labels are observed.
  const upgraded = plan(syncRequest({ spec, pods: ready(0, 1, 2, 3) }), reachable(members(0, 1, 2, { ordinal: 3, learner: true }), 0), NOW)
  t.same([0, 1, 2, 3].map(o => labelOf(upgraded, `${NAME}-${o}`)), ['true', 'true', 'true', undefined], 'voters labelled, the learner not')
  t.notOk('etcd_voter' in clientSelector(upgraded, `${NAME}-client`), 'no voter selector while pods lack the label')

  // The labels observed: both client Services select voters only.
  const request = syncRequest({ spec, pods: ready(0, 1, 2, 3) })
  for (const o of [0, 1, 2]) (request.children!['Pod.v1']![`${NAME}-${o}`]!.metadata.labels ??= {}).etcd_voter = 'true'
  const labelled = plan(request, reachable(members(0, 1, 2, { ordinal: 3, learner: true }), 0), NOW)
  t.same(clientSelector(labelled, `${NAME}-client`), { app: 'etcd', etcd_cluster: NAME, etcd_voter: 'true' }, 'the client Service skips the learner')
  t.equal(clientSelector(labelled, `${NAME}-client-lb`).etcd_voter, 'true', 'so does the LoadBalancer')
  t.notOk('etcd_voter' in (child(labelled.response, 'Service', NAME).spec as { selector: Record<string, string> }).selector, 'the peer Service selects every member')

  // etcd silent: labels stay as observed; the selector, once on, stays on.
  const silent = plan(request, unreachable, NOW)
  t.same([0, 1, 2, 3].map(o => labelOf(silent, `${NAME}-${o}`)), ['true', 'true', 'true', undefined])

  // Promoted: the pod gets the label.
  const promoted = plan(request, reachable(members(0, 1, 2, 3), 0), NOW)
  t.equal(labelOf(promoted, `${NAME}-3`), 'true')

  // The label follows etcd's list, not the pod: a labelled pod whose
  // member etcd lists as a learner loses it.
  request.children!['Pod.v1']![`${NAME}-3`]!.metadata.labels!.etcd_voter = 'true'
  const relabelled = plan(request, reachable(members(0, 1, 2, { ordinal: 3, learner: true }), 0), NOW)
  t.same([0, 1, 2, 3].map(o => labelOf(relabelled, `${NAME}-${o}`)), ['true', 'true', 'true', undefined], 'the learner loses a label it should not have')

  const seed = plan(syncRequest(), unreachable, NOW)
  t.equal(seed.rule, 'bootstrap')
  t.equal(child(seed.response, 'Pod', `${NAME}-0`).metadata.labels?.etcd_voter, 'true', 'the seed votes from the start')
})

t.test('status does not change between syncs of an unchanged world', async t => {
  const observation = reachable(members(0, 1, 2), 1)
  const first = plan(syncRequest({ pods: ready(0, 1, 2) }), observation, NOW)
  const later = new Date(NOW.getTime() + 60_000)
  const second = plan(syncRequest({ pods: ready(0, 1, 2), status: first.response.status }), observation, later)
  t.same(second.response.status, first.response.status)
  t.same(second.response, plan(syncRequest({ pods: ready(0, 1, 2), status: first.response.status }), observation, later).response, 'same request, same answer')
})

t.test('a condition that changes gets a new transition time', async t => {
  const first = plan(syncRequest({ pods: ready(0, 1, 2) }), reachable(members(0, 1, 2), 1), NOW)
  const later = new Date(NOW.getTime() + 60_000)
  const lost = plan(syncRequest({ pods: ready(0, 1, 2), status: first.response.status }), reachable(members(0, 1, 2), undefined), later)
  const available = lost.response.status.conditions?.find(c => c.type === 'Available')
  t.equal(available?.lastTransitionTime, later.toISOString())
  const scaling = lost.response.status.conditions?.find(c => c.type === 'Scaling')
  t.equal(scaling?.lastTransitionTime, NOW.toISOString(), 'an unchanged condition keeps its time')
})
