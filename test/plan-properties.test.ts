// The safety invariants of DESIGN.md section 5, checked with fast-check over
// generated worlds: pods in every phase, members started, unstarted,
// learners, missing or extra, etcd unreachable, every size and version.
import t from 'tap'
import fc from 'fast-check'
import { plan } from '../hooks/cluster/plan.js'
import type { EtcdMember, Observation } from '../hooks/etcd/types.js'
import type { SyncRequest, SyncResponse } from '../hooks/api/cluster.js'
import type { KubeObject } from '../hooks/api/kube.js'
import { NAME, NOW, members as memberList, memberId, syncRequest, type PodFixture, type PodState } from './helpers/fixtures.js'
import { validateKubeObject } from './helpers/kube-schema.js'

const OLD_IMAGE = 'quay.io/coreos/etcd:v3.5.17'
const PVC_SPEC = { resources: { requests: { storage: '1Gi' } } }

type MemberKind = 'none' | 'voter' | 'learner' | 'unstartedLearner' | 'unstartedVoter'

interface World {
  request: SyncRequest
  observation: Observation
  // Facts the invariants read, in the test's own terms.
  pods: Map<string, PodFixture>
  members: Map<string, { kind: MemberKind, id: string }>
  leader: string | undefined
  specImage: string
  claims: Set<string>
}

const podStates: PodState[] = ['pending', 'starting', 'ready', 'unready', 'crashloop', 'failed', 'succeeded', 'terminating']

// Weighted towards healthy members, so the deep rows of the decision table
// (scaling, upgrades, leader moves) are reached as often as the failures.
const weighted = <T>(...choices: Array<[number, T]>) => fc.oneof(...choices.map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })))
const slotArb = fc.record({
  pod: fc.option(fc.record({
    state: weighted<PodState>([12, 'ready'], ...podStates.filter(s => s !== 'ready').map(s => [1, s] as [number, PodState])),
    oldImage: weighted([1, true], [3, false]),
    rolledOut: weighted([6, true], [1, false]),
    oldPodPolicy: weighted([1, true], [8, false]),
  }), { nil: undefined, freq: 8 }),
  member: weighted<MemberKind>([12, 'voter'], [1, 'none'], [1, 'learner'], [1, 'unstartedLearner'], [1, 'unstartedVoter']),
  claim: fc.boolean(),
})

const worldArb: fc.Arbitrary<World> = fc.record({
  size: fc.integer({ min: 1, max: 9 }),
  version: fc.constantFrom('3.5.21', '3.5.17', '3.4.23', 'v3.6.0'),
  paused: weighted([1, true], [7, false]),
  persistent: fc.boolean(),
  bootstrapped: fc.boolean(),
  reachable: weighted([5, true], [1, false]),
  leaderPick: fc.nat(),
  hasLeader: weighted([5, true], [1, false]),
  slots: fc.array(slotArb, { minLength: 0, maxLength: 8 }),
  // Upgrades end with only the leader on the old image: make that common.
  onlyLeaderOutdated: weighted([1, true], [5, false]),
}).map(w => {
  const pods = new Map<string, PodFixture>()
  const claims: number[] = []
  const fixtures: PodFixture[] = []
  const members = new Map<string, { kind: MemberKind, id: string }>()
  w.slots.forEach((slot, ordinal) => {
    if (slot.member !== 'none') members.set(`${NAME}-${ordinal}`, { kind: slot.member, id: memberId(ordinal) })
  })
  const startedVoters = [...members.entries()].filter(([, m]) => m.kind === 'voter').map(([name]) => name)
  const leader = w.hasLeader && startedVoters.length > 0 ? startedVoters[w.leaderPick % startedVoters.length] : undefined
  w.slots.forEach((slot, ordinal) => {
    const name = `${NAME}-${ordinal}`
    if (slot.pod !== undefined) {
      const old = w.onlyLeaderOutdated ? name === leader : slot.pod.oldImage
      const fixture: PodFixture = {
        ordinal,
        state: slot.pod.state,
        ...(old ? { image: OLD_IMAGE } : {}),
        ...(!slot.pod.rolledOut && !w.onlyLeaderOutdated ? { runningImage: OLD_IMAGE } : {}),
        ...(slot.pod.oldPodPolicy && !w.onlyLeaderOutdated ? { oldPodPolicy: true } : {}),
      }
      pods.set(name, fixture)
      fixtures.push(fixture)
    }
    if (w.persistent && slot.claim) claims.push(ordinal)
  })
  const etcdMembers: EtcdMember[] = memberList(...[...members.entries()].map(([name, m]) => ({
    ordinal: Number(name.slice(NAME.length + 1)),
    learner: m.kind === 'learner' || m.kind === 'unstartedLearner',
    unstarted: m.kind === 'unstartedLearner' || m.kind === 'unstartedVoter',
  })))
  const request = syncRequest({
    spec: { size: w.size, version: w.version, paused: w.paused, ...(w.persistent ? { pod: { persistentVolumeClaimSpec: PVC_SPEC } } : {}) },
    status: w.bootstrapped ? { phase: 'Running', clusterID: 'cdf818194e3a8c32' } : {},
    pods: fixtures,
    claims,
  })
  const observation: Observation = w.reachable && members.size > 0
    ? { reachable: true, clusterId: '14841639068965178418', leaderId: leader === undefined ? undefined : members.get(leader)?.id, members: etcdMembers }
    : { reachable: false, error: 'no member answered' }
  const specImage = `quay.io/coreos/etcd:v${w.version.replace(/^v/, '')}`
  return { request, observation, pods, members, specImage, claims: new Set(claims.map(o => `etcd-data-${NAME}-${o}`)), leader: observation.reachable ? leader : undefined }
})

const podsIn = (response: SyncResponse) => new Map(response.children.filter(c => c.kind === 'Pod').map(p => [p.metadata.name, p]))
const isDead = (p: PodFixture | undefined) => p === undefined || p.state === 'failed' || p.state === 'succeeded' || p.state === 'terminating' || p.state === 'crashloop'

function observedSpec (world: World, name: string): unknown {
  return (world.request.children?.['Pod.v1']?.[name] as KubeObject | undefined)?.spec
}

const runs = { numRuns: Number(process.env.PROPERTY_RUNS ?? 400), seed: Number(process.env.PROPERTY_SEED ?? Date.now() % 2 ** 31) }
t.comment(`fast-check seed ${runs.seed} (PROPERTY_SEED reproduces a run)`)

t.test('invariants hold in every generated world', async t => {
  fc.assert(fc.property(worldArb, world => {
    const result = plan(world.request, world.observation, NOW)
    const again = plan(world.request, world.observation, NOW)
    // Same request, same answer.
    if (JSON.stringify(again) !== JSON.stringify(result)) throw new Error('plan is not deterministic')

    for (const response of [result.response, result.responseIfActionFails]) {
      const names = new Set(response.children.map(c => `${c.kind}/${c.metadata.name}`))
      // Services are never dropped.
      for (const service of [NAME, `${NAME}-client`]) {
        if (!names.has(`Service/${service}`)) throw new Error(`Service ${service} dropped`)
      }
      // No null, every child named.
      if (JSON.stringify(response.children).includes('null')) throw new Error('a child carries null')
      if (response.children.some(c => c.apiVersion === '' || c.kind === '' || c.metadata.name === '')) throw new Error('a child without identity')
      // An existing pod is never re-rendered: spec as observed but the image.
      for (const [name, pod] of podsIn(response)) {
        const before = observedSpec(world, name) as { containers: Array<{ image: string }> } | undefined
        if (before === undefined) continue
        const after = structuredClone(pod.spec) as { containers: Array<{ image: string }> }
        after.containers.forEach((c, i) => { c.image = before.containers[i]?.image ?? c.image })
        if (JSON.stringify(after) !== JSON.stringify(before)) throw new Error(`pod ${name} re-rendered`)
      }
    }

    // Ready, and running the image its spec names.
    const isHealthy = (p: PodFixture | undefined) => p?.state === 'ready'
      && (p.runningImage ?? p.image ?? world.specImage) === (p.image ?? world.specImage)
    const kept = podsIn(result.response)
    const keptIfFailed = podsIn(result.responseIfActionFails)
    const action = result.action
    const removed = action?.kind === 'remove' ? action.pod : undefined

    // Paused: no write, and pods exactly as observed.
    if (world.request.parent.spec.paused === true) {
      if (action !== undefined) throw new Error('a write while paused')
      if ([...world.pods.keys()].some(name => !kept.has(name)) || kept.size !== world.pods.size) throw new Error('pods changed while paused')
    }

    // Etcd not observed: no write, and no pod deleted, but a seed that
    // failed before the cluster ever existed.
    if (!world.observation.reachable) {
      if (action !== undefined) throw new Error('a write without a member list')
      if (result.rule !== 'clearFailedSeed' && [...world.pods.keys()].some(name => !kept.has(name))) throw new Error(`pod deleted while etcd unobserved (${result.rule})`)
    }

    // A failed write adds nothing and deletes nothing.
    for (const name of world.pods.keys()) {
      if (!keptIfFailed.has(name) && !kept.has(name)) continue // the plan deleted it without a write
      if (action !== undefined && !keptIfFailed.has(name)) throw new Error(`pod ${name} dropped when the write failed`)
    }
    if (action !== undefined) {
      for (const name of keptIfFailed.keys()) if (!world.pods.has(name) && world.members.get(name) === undefined) throw new Error(`pod ${name} created although the write failed`)
    }

    // A member's volume survives unless that member is being removed.
    const claimsKept = new Set(result.response.children.filter(c => c.kind === 'PersistentVolumeClaim').map(c => c.metadata.name))
    for (const name of world.members.keys()) {
      const claim = `etcd-data-${name}`
      if (world.claims.has(claim) && name !== removed && world.observation.reachable && !claimsKept.has(claim)) throw new Error(`claim ${claim} of member ${name} dropped (${result.rule})`)
    }

    // Without the member list, no volume is ever dropped.
    if (!world.observation.reachable) {
      for (const claim of world.claims) if (!claimsKept.has(claim)) throw new Error(`claim ${claim} dropped while etcd unobserved (${result.rule})`)
    }

    // A member's live pod survives unless that member is being removed.
    for (const [name, member] of world.members) {
      const pod = world.pods.get(name)
      if (pod === undefined || isDead(pod)) continue
      if (member.kind !== 'none' && name !== removed && !kept.has(name)) throw new Error(`live member pod ${name} dropped (${result.rule})`)
    }

    if (world.observation.reachable && world.leader !== undefined) {
      const voters = [...world.members].filter(([, m]) => m.kind === 'voter' || m.kind === 'unstartedVoter')
      const unhealthyLive = voters.filter(([name]) => !isHealthy(world.pods.get(name)) && !isDead(world.pods.get(name)))
      // Never a change while a member is unready, except removing a dead one.
      if (unhealthyLive.length > 0 && action !== undefined) {
        if (action.kind !== 'remove' || !isDead(world.pods.get(action.pod))) {
          throw new Error(`${action.kind} of ${action.pod} while ${unhealthyLive.map(([n]) => n).join(',')} unready`)
        }
      }
      // A healthy member needed for quorum is never removed.
      if (action?.kind === 'remove' && isHealthy(world.pods.get(action.pod))) {
        const healthyAfter = voters.filter(([name]) => name !== action.pod && isHealthy(world.pods.get(name))).length
        const votersAfter = voters.length - 1
        if (healthyAfter < Math.floor(votersAfter / 2) + 1) throw new Error(`removing healthy ${action.pod} breaks quorum`)
      }
      // At most one image moves per sync.
      const moved = [...kept].filter(([name, pod]) => {
        const before = observedSpec(world, name) as { containers: Array<{ image: string }> } | undefined
        return before !== undefined && (pod.spec as { containers: Array<{ image: string }> }).containers[0]?.image !== before.containers[0]?.image
      })
      if (moved.length > 1) throw new Error('more than one member upgraded at once')
      if (moved.length === 1 && action !== undefined) throw new Error('an upgrade and a membership write in one sync')
    } else if (action !== undefined) {
      throw new Error(`${action.kind} without a leader`)
    }
  }), runs)
  t.pass(`${runs.numRuns} generated worlds`)
})

t.test('every child of generated worlds is a valid Kubernetes object', async t => {
  const samples = fc.sample(worldArb, { numRuns: 60, seed: runs.seed })
  let checked = 0
  for (const world of samples) {
    const { response } = plan(world.request, world.observation, NOW)
    for (const child of response.children) {
      await validateKubeObject(child)
      checked++
    }
  }
  t.ok(checked > 60, `${checked} children validated`)
})

t.test('the generated worlds reach every row of the decision table', async t => {
  // A fixed seed: whether a row is reached must not depend on the run.
  const rules = new Set(fc.sample(worldArb, { numRuns: 6000, seed: 1 }).map(w => plan(w.request, w.observation, NOW).rule))
  for (const rule of ['bootstrap', 'unreachable', 'quorumLost', 'startAddedMember', 'removeDeadMember', 'deleteStrayPod', 'promoteLearner',
    'addMember', 'removeMember', 'transferLeadershipBeforeRemoval', 'upgradeMember', 'transferLeadershipBeforeUpgrade', 'replaceMember', 'removeStuckMember', 'steady', 'paused', 'restartOnClaim']) {
    t.ok(rules.has(rule as never), `reached ${rule}`)
  }
})
