// Generated worlds for the planner's property tests: pods in every phase
// (crash-looping for a minute, for exactly STUCK_AFTER_MS, or for an hour;
// made a minute ago or long before the learner deadline), etcd's member
// list (voters, learners, members added but not started, a member added by
// hand; members that answer although their pod is not shown), etcd
// unreachable or without a leader, a cluster being deleted, member TLS
// turned on after the fact, every size and version. Each world also carries the facts the invariants read, in the
// test's own terms rather than the planner's.
import fc from 'fast-check'
import type { SyncRequest } from '../../hooks/api/cluster.js'
import type { KubeObject } from '../../hooks/api/kube.js'
import { TRUSTED_CA_ANNOTATION } from '../../hooks/cluster/model.js'
import { readCluster } from '../../hooks/cluster/observe/cluster.js'
import { STUCK_AFTER_MS } from '../../hooks/cluster/observe/membership.js'
import { LEARNER_START_DEADLINE_MS } from '../../hooks/cluster/rules/learner.js'
import type { EtcdMember, Observation } from '../../hooks/etcd/types.js'
import { CLUSTER_ID, NAME, NOW, members as memberList, memberId, syncRequest, type PodFixture, type PodState } from './fixtures.js'

export type MemberKind = 'voter' | 'learner' | 'unstartedLearner' | 'unstartedVoter'

export interface World {
  request: SyncRequest
  observation: Observation
  // The member pods the request shows, by name.
  pods: Map<string, PodFixture>
  // etcd's members that name a pod of ours, by that pod's name.
  members: Map<string, { kind: MemberKind, id: string }>
  // etcd's members that name no pod of ours (added by hand).
  foreign: EtcdMember[]
  // The pod of the leader etcd reports; undefined when etcd is unobserved
  // or knows no leader.
  leader: string | undefined
  specImage: string
  claims: Set<string>
  bootstrapped: boolean
  size: number
  // spec.TLS names member secrets the observed pods do not mount.
  tlsChanged: boolean
  // cert-manager TLS whose issuer or CA differs from the one the running
  // members have: why nothing may change (undefined: no such difference).
  certificatesFrozen: string | undefined
  // etcd reports its NOSPACE alarm (issue 15).
  noSpace: boolean
  // The member a defrag runs on (the status records it, its backend is
  // still held), if any.
  defragRunning: string | undefined
}

// TLS from cert-manager: not asked for; issued; not issued yet; spec names
// another issuer than the observed Certificates; the CA in the member
// Secrets is not the one the pods started with.
type CertManagerWorld = 'none' | 'issued' | 'pending' | 'issuerChanged' | 'caChanged'

const OLD_IMAGE = 'quay.io/coreos/etcd:v3.5.17'
const PVC_SPEC = { resources: { requests: { storage: '1Gi' } } }

const weighted = <T>(...choices: Array<[number, T]>) => fc.oneof(...choices.map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })))
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString().replace('.000Z', 'Z')

// When a pod's Ready condition last changed: a fresh crash loop, one at
// the deadline (not stuck yet: stuck is longer than STUCK_AFTER_MS), one a
// second past it, and an old one.
const sinceArb = weighted([3, ago(60_000)], [1, ago(STUCK_AFTER_MS)], [1, ago(STUCK_AFTER_MS + 1000)], [2, ago(3_600_000)])
// When a pod was made, around the learner's start deadline likewise.
const createdArb = weighted([3, ago(60_000)], [1, ago(LEARNER_START_DEADLINE_MS)], [1, ago(LEARNER_START_DEADLINE_MS + 1000)], [2, ago(3_600_000)])
const podStates: PodState[] = ['pending', 'starting', 'ready', 'unready', 'crashloop', 'failed', 'succeeded', 'terminating']

interface PodDraft { state: PodState, oldImage: boolean, rolledOut: boolean, oldPodPolicy: boolean, since: string, created: string }
// answers: the member answers etcd's status call although its pod is not
// among the children (a stale list, or a pod released from the parent).
interface SlotDraft { pod: PodDraft | undefined, member: MemberKind | 'none', claim: boolean, answers: boolean }

const podArb = (state: fc.Arbitrary<PodState>, healthy: boolean): fc.Arbitrary<PodDraft> => fc.record({
  state,
  oldImage: weighted([1, true], [3, false]),
  rolledOut: healthy ? fc.constant(true) : weighted([6, true], [1, false]),
  oldPodPolicy: weighted([1, true], [healthy ? 16 : 8, false]),
  since: sinceArb,
  created: createdArb,
})
const answersArb = weighted([1, true], [3, false])

// Kinds of slot (one ordinal): a healthy voter; a voter in trouble (its pod
// not Ready, crash-looping, finished, being deleted or missing); a learner
// joining; and anything at all.
const healthyVoter: fc.Arbitrary<SlotDraft> = fc.record({
  pod: podArb(fc.constant('ready'), true),
  member: fc.constant('voter'),
  claim: fc.boolean(),
  answers: answersArb,
})
const joiningLearner: fc.Arbitrary<SlotDraft> = fc.record({
  pod: fc.option(podArb(weighted<PodState>([2, 'pending'], [1, 'starting'], [1, 'ready'], [1, 'unready'], [2, 'crashloop']), false), { nil: undefined, freq: 5 }),
  member: weighted<MemberKind>([1, 'learner'], [1, 'unstartedLearner']),
  claim: fc.boolean(),
  answers: answersArb,
})
const anySlot: fc.Arbitrary<SlotDraft> = fc.record({
  pod: fc.option(podArb(weighted<PodState>([6, 'ready'], ...podStates.filter(s => s !== 'ready').map(s => [1, s] as [number, PodState])), false), { nil: undefined, freq: 8 }),
  member: weighted<MemberKind | 'none'>([8, 'voter'], [1, 'none'], [1, 'learner'], [1, 'unstartedLearner'], [1, 'unstartedVoter']),
  claim: fc.boolean(),
  answers: answersArb,
})
const troubledVoter: fc.Arbitrary<SlotDraft> = fc.record({
  pod: fc.option(podArb(weighted<PodState>([3, 'crashloop'], [2, 'unready'], [1, 'starting'], [1, 'pending'], [1, 'failed'], [1, 'succeeded'], [1, 'terminating']), false), { nil: undefined, freq: 6 }),
  member: weighted<MemberKind>([6, 'voter'], [1, 'unstartedVoter']),
  claim: fc.boolean(),
  answers: answersArb,
})
const slotArb = fc.oneof({ weight: 5, arbitrary: healthyVoter }, { weight: 1, arbitrary: joiningLearner }, { weight: 4, arbitrary: anySlot })
const troubleArb = fc.oneof({ weight: 3, arbitrary: troubledVoter }, { weight: 3, arbitrary: joiningLearner }, { weight: 1, arbitrary: anySlot })

// Three kinds of world, so the deep rows of the decision table (scaling,
// upgrades, leader moves) and each single failure against a healthy
// cluster are reached as often as many failures at once: every member
// healthy; healthy but for one slot; anything.
const slotsArb = fc.oneof(
  { weight: 1, arbitrary: fc.array(healthyVoter, { maxLength: 8 }) },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.array(healthyVoter, { maxLength: 7 }), troubleArb, fc.nat()).map(([calm, trouble, at]) => {
      const slots = [...calm]
      slots.splice(at % (calm.length + 1), 0, trouble)
      return slots
    }),
  },
  { weight: 2, arbitrary: fc.array(slotArb, { maxLength: 8 }) },
)

// A member someone added by hand: its peer URL names no pod of ours.
const foreignArb: fc.Arbitrary<EtcdMember[]> = weighted([14, undefined], [1, false], [1, true]).map(isLearner => isLearner === undefined
  ? []
  : [{ id: '4242424242424242424', name: 'by-hand', peerURLs: ['http://10.1.2.3:2380'], clientURLs: ['http://10.1.2.3:2379'], isLearner }])

export const worldArb: fc.Arbitrary<World> = fc.record({
  size: fc.integer({ min: 1, max: 9 }),
  version: fc.constantFrom('3.5.21', '3.5.17', '3.4.23', 'v3.6.0'),
  paused: weighted([1, true], [11, false]),
  persistent: fc.boolean(),
  loadBalancer: weighted([1, true], [3, false]),
  bootstrapped: fc.boolean(),
  reachable: weighted([5, true], [1, false]),
  leaderPick: fc.nat(),
  hasLeader: weighted([5, true], [1, false]),
  slots: slotsArb,
  foreign: foreignArb,
  // Which members answered for themselves; undefined as from fakes.
  answering: weighted([3, true], [1, false]),
  // Member TLS turned on after the pods were made.
  tlsChanged: weighted([1, true], [15, false]),
  certManager: weighted<CertManagerWorld>([16, 'none'], [2, 'issued'], [1, 'pending'], [1, 'issuerChanged'], [1, 'caChanged']),
  deleting: weighted<'no' | 'deletionTimestamp' | 'finalizing'>([22, 'no'], [1, 'deletionTimestamp'], [1, 'finalizing']),
  // Upgrades end with only the leader on the old image: make that common.
  onlyLeaderOutdated: weighted([1, true], [5, false]),
  // Backends as the status calls report them (none: as from fakes), the
  // NOSPACE alarm, a defrag an earlier sync started (issue 15).
  maintenance: weighted<'none' | 'fragmented' | 'nospace' | 'defragRunning'>([6, 'none'], [3, 'fragmented'], [2, 'nospace'], [1, 'defragRunning']),
  noSpaceRound: weighted<NoSpaceRound>([1, 'fresh'], [1, 'compacted'], [1, 'defragging'], [1, 'leaderLeft'], [1, 'defragmented']),
}).map(w => {
  const members = new Map<string, { kind: MemberKind, id: string }>()
  w.slots.forEach((slot, ordinal) => {
    if (slot.member !== 'none') members.set(`${NAME}-${ordinal}`, { kind: slot.member, id: memberId(ordinal) })
  })
  // The leader: a started voter, ours or the one added by hand.
  const candidates = [
    ...[...members.entries()].filter(([, m]) => m.kind === 'voter').map(([name]) => name),
    ...w.foreign.filter(m => !m.isLearner).map(m => m.name),
  ]
  const leader = w.hasLeader && candidates.length > 0 ? candidates[w.leaderPick % candidates.length] : undefined
  const leaderId = leader === undefined ? undefined : members.get(leader)?.id ?? w.foreign.find(m => m.name === leader)?.id
  const pods = new Map<string, PodFixture>()
  const claims: number[] = []
  w.slots.forEach((slot, ordinal) => {
    const name = `${NAME}-${ordinal}`
    if (slot.pod !== undefined) {
      const old = w.onlyLeaderOutdated ? name === leader : slot.pod.oldImage
      pods.set(name, {
        ordinal,
        state: slot.pod.state,
        since: slot.pod.since,
        created: slot.pod.created,
        ...(old ? { image: OLD_IMAGE } : {}),
        ...(!slot.pod.rolledOut && !w.onlyLeaderOutdated ? { runningImage: OLD_IMAGE } : {}),
        ...(slot.pod.oldPodPolicy && !w.onlyLeaderOutdated ? { oldPodPolicy: true } : {}),
      })
    }
    if (w.persistent && slot.claim) claims.push(ordinal)
  })
  const etcdMembers: EtcdMember[] = [...memberList(...[...members.entries()].map(([name, m]) => ({
    ordinal: Number(name.slice(NAME.length + 1)),
    learner: m.kind === 'learner' || m.kind === 'unstartedLearner',
    unstarted: m.kind === 'unstartedLearner' || m.kind === 'unstartedVoter',
  }))), ...w.foreign]
  const request = syncRequest({
    spec: {
      size: w.size,
      version: w.version,
      paused: w.paused,
      ...(w.persistent ? { pod: { persistentVolumeClaimSpec: PVC_SPEC } } : {}),
      ...(w.loadBalancer ? { loadBalancer: { enabled: true } } : {}),
      ...(w.certManager !== 'none' ? { TLS: { certManager: { issuerRef: { name: 'etcd-ca' } } } } : {}),
    },
    status: { ...(w.bootstrapped ? { phase: 'Running', clusterID: 'cdf818194e3a8c32' } : {}), ...maintenanceStatusOf(w.maintenance, w.noSpaceRound, [...members.keys()], leader) },
    pods: [...pods.values()],
    claims,
  })
  if (w.certManager !== 'none') certManagerWorld(request, w.certManager)
  if (w.tlsChanged) request.parent.spec.TLS = { static: { member: { peerSecret: `${NAME}-peer-tls`, serverSecret: `${NAME}-server-tls` } } }
  if (w.deleting === 'finalizing') request.finalizing = true
  if (w.deleting === 'deletionTimestamp') request.parent.metadata.deletionTimestamp = ago(30_000)
  // A started member answers when its etcd runs, or (sometimes) when its
  // pod is not shown; one added by hand, when it is a voter.
  const answering = w.slots.flatMap((slot, ordinal) => {
    const started = slot.member === 'voter' || slot.member === 'learner'
    const runs = slot.pod !== undefined && running({ ordinal, state: slot.pod.state })
    return started && (runs || (slot.pod === undefined && slot.answers)) ? [memberId(ordinal)] : []
  })
  answering.push(...w.foreign.filter(m => !m.isLearner).map(m => m.id))
  const observation: Observation = w.reachable && etcdMembers.length > 0
    ? {
        reachable: true,
        clusterId: CLUSTER_ID,
        leaderId,
        members: etcdMembers,
        ...(w.answering ? { answering } : {}),
        ...maintenanceObservation(w.maintenance, w.noSpaceRound, answering, leaderId, [...members.values()][0]?.id),
      }
    : { reachable: false, error: 'no member answered' }
  return {
    request,
    observation,
    pods,
    members,
    foreign: w.foreign,
    leader: observation.reachable ? leader : undefined,
    specImage: `quay.io/coreos/etcd:v${w.version.replace(/^v/, '')}`,
    claims: new Set(claims.map(o => `etcd-data-${NAME}-${o}`)),
    bootstrapped: w.bootstrapped,
    size: w.size,
    tlsChanged: w.tlsChanged,
    certificatesFrozen: w.tlsChanged || ![...pods.values()].some(p => !finished(p))
      ? undefined
      : w.certManager === 'issuerChanged'
        ? 'the cert-manager issuer differs from the running Certificates\''
        : w.certManager === 'caChanged' ? 'the members\' CA changed under them' : undefined,
    noSpace: observation.reachable && w.maintenance === 'nospace',
    defragRunning: w.maintenance === 'defragRunning' || (w.maintenance === 'nospace' && w.noSpaceRound === 'defragging') ? [...members.keys()][0] : undefined,
  }
})

// The Secrets cert-manager filled (one CA), the Certificates it was asked
// for, and what the pods recorded of the CA they started with.
function certManagerWorld (request: SyncRequest, kind: Exclude<CertManagerWorld, 'none'>): void {
  const secret = (role: string) => ({
    apiVersion: 'v1', kind: 'Secret', metadata: { name: `${NAME}-${role}-cert`, namespace: 'default' },
    data: { 'tls.crt': Buffer.from(`-----BEGIN CERTIFICATE-----\n${role}\n`).toString('base64'), 'tls.key': Buffer.from('-----BEGIN PRIVATE KEY-----\n').toString('base64'), 'ca.crt': Buffer.from('-----BEGIN CERTIFICATE-----\nCA one\n').toString('base64') },
  })
  if (kind !== 'pending') request.related = { 'Secret.v1': Object.fromEntries(['peer', 'server', 'operator'].map(role => [`${NAME}-${role}-cert`, secret(role)])) }
  const issuerRef = { name: kind === 'issuerChanged' ? 'previous-ca' : 'etcd-ca', kind: 'Issuer', group: 'cert-manager.io' }
  request.children = {
    ...request.children,
    'Certificate.cert-manager.io/v1': Object.fromEntries(['peer', 'server', 'operator'].map(role => [`${NAME}-${role}-cert`, {
      apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: `${NAME}-${role}-cert`, namespace: 'default' }, spec: { secretName: `${NAME}-${role}-cert`, issuerRef },
    }])),
  }
  const fingerprint = kind === 'caChanged' ? '00000000000000ca' : readCluster(request).trustedCA
  for (const pod of Object.values(request.children['Pod.v1'] ?? {})) {
    if (fingerprint !== undefined) pod.metadata.annotations = { ...pod.metadata.annotations, [TRUSTED_CA_ANNOTATION]: fingerprint }
  }
}

const MiB = 1024 * 1024
type NoSpaceRound = 'fresh' | 'compacted' | 'defragging' | 'leaderLeft' | 'defragmented'
// The status an earlier sync wrote: a NOSPACE round so far (compacted;
// defragmenting the first member; every member done but the leader, or
// all), or a defrag started on the first member.
function maintenanceStatusOf (kind: string, round: NoSpaceRound, pods: string[], leader: string | undefined): { maintenance?: NonNullable<SyncRequest['parent']['status']>['maintenance'] } {
  const first = pods[0]
  const defragmenting = first === undefined ? undefined : { member: first, since: ago(10_000), dbSizeBefore: 12 * MiB }
  if (kind === 'defragRunning' && defragmenting !== undefined) return { maintenance: { defragmenting } }
  if (kind !== 'nospace' || round === 'fresh') return {}
  const defragmented = round === 'defragmented' ? pods : round === 'leaderLeft' ? pods.filter(p => p !== leader) : round === 'defragging' && first !== undefined ? [first] : []
  return { maintenance: { noSpace: { since: ago(60_000), compactedRevision: '100', defragmented }, ...(round === 'defragging' && defragmenting !== undefined ? { defragmenting } : {}) } }
}

// What the status calls say of the backends (fragmented ones: 10 of 12
// MiB free), the alarm list, the defragmenting member's busy backend.
function maintenanceObservation (kind: string, round: NoSpaceRound, answering: string[], leaderId: string | undefined, firstId: string | undefined): Partial<Extract<Observation, { reachable: true }>> {
  if (kind === 'none') return {}
  const size = kind === 'nospace' ? [2048 * MiB, 1024 * MiB] : [12 * MiB, 2 * MiB]
  return {
    space: Object.fromEntries(answering.map(id => [id, { dbSize: size[0] ?? 0, dbSizeInUse: size[1] ?? 0 }])),
    revision: '100',
    ...(kind === 'nospace' ? { alarms: [{ memberId: leaderId ?? answering[0] ?? '1', alarm: 'NOSPACE' }] } : {}),
    ...((kind === 'defragRunning' || (kind === 'nospace' && round === 'defragging')) && firstId !== undefined ? { backendBusy: [firstId] } : {}),
  }
}

// The facts of a world, as the contract states them.

// Failed, Succeeded, or being deleted.
export function finished (pod: PodFixture | undefined): boolean {
  return pod?.state === 'failed' || pod?.state === 'succeeded' || pod?.state === 'terminating'
}

// Crash-looping, unready for longer than STUCK_AFTER_MS.
export function stuck (pod: PodFixture | undefined): boolean {
  return pod?.state === 'crashloop' && NOW.getTime() - Date.parse(pod.since ?? '') > STUCK_AFTER_MS
}

// The member answers etcd's status call itself.
export function answers (world: World, pod: string): boolean {
  const id = world.members.get(pod)?.id
  return world.observation.reachable && id !== undefined && world.observation.answering?.includes(id) === true
}

// A member the planner may remove without asking anyone: its pod finished
// or stuck, or gone while the member does not answer either (a member that
// answers has a pod the request does not show). A member no pod of ours
// holds has no pod at all.
export function dead (world: World, pod: string): boolean {
  const fixture = world.pods.get(pod)
  return fixture === undefined ? !answers(world, pod) : finished(fixture) || stuck(fixture)
}

export function learner (world: World, pod: string): boolean {
  const kind = world.members.get(pod)?.kind
  return kind === 'learner' || kind === 'unstartedLearner'
}

// Its etcd runs (Ready or not): phase Running, the container up.
export function running (pod: PodFixture | undefined): boolean {
  return pod?.state === 'starting' || pod?.state === 'ready' || pod?.state === 'unready' || pod?.state === 'terminating'
}

// A learner whose pod is there but does not run, made longer than
// LEARNER_START_DEADLINE_MS ago: stuck, as good as dead.
export function lateLearner (world: World, pod: string): boolean {
  const fixture = world.pods.get(pod)
  return learner(world, pod) && fixture !== undefined && !running(fixture)
    && NOW.getTime() - Date.parse(fixture.created ?? '') > LEARNER_START_DEADLINE_MS
}

// A learner whose pod does not run while the voters are already as many
// as spec.size: no longer wanted.
function unwantedLearner (world: World, pod: string): boolean {
  const fixture = world.pods.get(pod)
  return learner(world, pod) && fixture !== undefined && !running(fixture) && voters(world).length >= world.size
}

// What the contract lets the planner remove while a learner is in flight:
// a dead member, or a learner it gives up (late, or no longer wanted).
export function removable (world: World, pod: string): boolean {
  return dead(world, pod) || lateLearner(world, pod) || unwantedLearner(world, pod)
}

// Started, its pod Ready and running the image its spec names.
export function healthy (world: World, pod: string): boolean {
  const member = world.members.get(pod)
  const fixture = world.pods.get(pod)
  if (member === undefined || fixture?.state !== 'ready') return false
  if (member.kind === 'unstartedVoter' || member.kind === 'unstartedLearner') return false
  return (fixture.runningImage ?? fixture.image ?? world.specImage) === (fixture.image ?? world.specImage)
}

// Our voters (pods named), started or not.
export function voters (world: World): string[] {
  return [...world.members].filter(([, m]) => m.kind === 'voter' || m.kind === 'unstartedVoter').map(([name]) => name)
}

// Every voter etcd counts for quorum: ours and the ones added by hand.
export function voterIds (world: World): string[] {
  return [...voters(world).map(name => world.members.get(name)?.id ?? ''), ...world.foreign.filter(m => !m.isLearner).map(m => m.id)]
}

// etcd (observed) lists a learner, ours or one added by hand.
export function listsLearner (world: World): boolean {
  return world.observation.reachable && world.observation.members.some(m => m.isLearner)
}

// The observed spec of a pod, as the request shows it.
export function observedPodSpec (world: World, name: string): { containers: Array<{ name: string, image: string }> } | undefined {
  return (world.request.children?.['Pod.v1']?.[name] as KubeObject | undefined)?.spec as { containers: Array<{ name: string, image: string }> } | undefined
}

// etcd raised NOSPACE and every voter of ours runs and answers, with a
// leader and no membership change in flight: the members are unready
// only because of the alarm (etcd 3.4's /health fails with it), and the
// recovery's maintenance writes may go on (issue 15).
export function noSpaceRecoverable (world: World): boolean {
  return world.noSpace && world.leader !== undefined && world.foreign.length === 0 && !listsLearner(world)
    && voters(world).every(name => running(world.pods.get(name)) && !finished(world.pods.get(name)) && answers(world, name))
}
