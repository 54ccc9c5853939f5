// The safety invariants of DESIGN.md section 5 (and the ones the code
// relies on besides), each a check of one generated world planned with a
// given rule table. test/plan-properties.test.ts runs them against RULES;
// test/plan-mutations.test.ts runs them against broken tables to show that
// they catch what they are meant to.
import fc from 'fast-check'
import type { KubeObject } from '../../hooks/api/kube.js'
import { ETCD_CONTAINER } from '../../hooks/cluster/model.js'
import { plan, type Plan } from '../../hooks/cluster/plan.js'
import { RULES } from '../../hooks/cluster/rules/index.js'
import type { Rule } from '../../hooks/cluster/rules/step.js'
import { NAME, NOW } from './fixtures.js'
import {
  answers, dead, finished, healthy, lateLearner, listsLearner, noSpaceRecoverable, observedPodSpec, removable, running, voterIds, voters, worldArb, type World,
} from './plan-worlds.js'

// What an invariant throws: a broken promise, as opposed to a crash.
export class Violation extends Error {}

export interface Invariant {
  // The invariant, as the test that checks it is named.
  name: string
  check: (world: World, rules: readonly Rule[]) => void
}

// One sync of a world, and what its answers do to the observed pods.
interface Sync {
  result: Plan
  kept: Map<string, KubeObject> // pods of the answer after the write (or without one)
  keptIfFailed: Map<string, KubeObject> // pods of the answer after a failed write
  removed: string | undefined // the pod whose member a remove action takes out
  removedId: string | undefined
  moved: string[] // observed pods whose etcd image the answer changes
  created: string[] // pods of the answer that were not observed
  dropped: string[] // observed pods the answer leaves out
}

const podsIn = (children: KubeObject[]) => new Map(children.filter(c => c.kind === 'Pod').map(p => [p.metadata.name, p]))
const etcdImage = (spec: unknown) => (spec as { containers: Array<{ name: string, image: string }> }).containers.find(c => c.name === ETCD_CONTAINER)?.image

function movedImages (world: World, pods: Map<string, KubeObject>): string[] {
  return [...pods].filter(([name, pod]) => {
    const before = observedPodSpec(world, name)
    return before !== undefined && etcdImage(pod.spec) !== etcdImage(before)
  }).map(([name]) => name)
}

function sync (world: World, rules: readonly Rule[]): Sync {
  const result = plan(world.request, world.observation, NOW, rules)
  const kept = podsIn(result.response.children)
  const action = result.action
  return {
    result,
    kept,
    keptIfFailed: podsIn(result.responseIfActionFails.children),
    removed: action?.kind === 'remove' ? action.pod : undefined,
    removedId: action?.kind === 'remove' ? action.memberId : undefined,
    moved: movedImages(world, kept),
    created: [...kept.keys()].filter(name => !world.pods.has(name)),
    dropped: [...world.pods.keys()].filter(name => !kept.has(name)),
  }
}

function fail (s: Sync, message: string): never {
  throw new Violation(`${message} (rule ${s.result.rule})`)
}

// A write of the NOSPACE recovery (compact, defragment, disarm, or moving
// leadership off the member to defragment next), in a world where it may
// run although members are unready (see noSpaceRecoverable).
const noSpaceWrite = (world: World, s: Sync) => noSpaceRecoverable(world)
  && (['compact', 'defragment', 'disarmAlarm'].includes(s.result.action?.kind ?? '') || s.result.rule === 'transferLeadershipBeforeDefrag')

const describe = (s: Sync) => s.result.action === undefined ? 'nothing' : `${s.result.action.kind} of ${s.result.action.pod}`

// Pods of members etcd lists, not finished, deleted by the answer although
// their member stays.
const droppedLiveMembers = (world: World, s: Sync) => s.dropped.filter(name => world.members.has(name) && name !== s.removed && !finished(world.pods.get(name)))

// The membership changes of one sync: the write, a member restarted on a
// new image, a live member's pod deleted, a pod started for a member etcd
// does not list (but the learner being added).
export const oneWritePerSync: Invariant = {
  name: 'never more than one membership write per sync',
  check (world, rules) {
    const s = sync(world, rules)
    const action = s.result.action
    const added = action?.kind === 'addLearner' ? action.pod : undefined
    const writes = [
      ...(action === undefined ? [] : [describe(s)]),
      ...s.moved.map(name => `image of ${name}`),
      ...droppedLiveMembers(world, s).map(name => `pod of member ${name}`),
      ...(world.observation.reachable ? s.created.filter(name => !world.members.has(name) && name !== added).map(name => `pod ${name} of no member`) : []),
    ]
    if (writes.length > 1) fail(s, `${writes.length} changes in one sync: ${writes.join(', ')}`)
  },
}

// An unready voter: not started, or its pod not Ready on the image its spec
// names (dead voters included). A learner is unready until it is promoted,
// which is what readies it: the learner invariants below hold learners.
// Removing a dead member (a learner past its start deadline is one) is
// allowed, and so is moving leadership away from a dead member (one added
// by hand) first.
export const noChangeWhileUnready: Invariant = {
  name: 'never a change while a member is unready, except removing a dead one',
  check (world, rules) {
    const unready = voters(world).filter(name => !healthy(world, name))
    if (unready.length === 0) return
    const s = sync(world, rules)
    const action = s.result.action
    const allowed = action === undefined || noSpaceWrite(world, s)
      || ((action.kind === 'remove' || action.kind === 'transferLeadership') && (dead(world, action.pod) || lateLearner(world, action.pod)))
    const changes = [
      ...(allowed ? [] : [describe(s)]),
      ...s.moved.map(name => `image of ${name} moved`),
      ...droppedLiveMembers(world, s).map(name => `pod of member ${name} deleted`),
    ]
    if (changes.length > 0) fail(s, `${changes.join(', ')} while ${unready.join(', ')} unready`)
  },
}

// A healthy voter touched (its member removed, or its pod deleted) must
// leave a majority of the voters that remain healthy and untouched.
export const quorumKept: Invariant = {
  name: 'a healthy member needed for quorum is never deleted (neither its pod nor its member)',
  check (world, rules) {
    const s = sync(world, rules)
    const healthyVoters = voters(world).filter(name => healthy(world, name))
    const touched = healthyVoters.filter(name => name === s.removed || !s.kept.has(name))
    if (touched.length === 0) return
    const ids = voterIds(world)
    const after = ids.length - (s.removedId !== undefined && ids.includes(s.removedId) ? 1 : 0)
    const healthyAfter = healthyVoters.length - touched.length
    if (healthyAfter < Math.floor(after / 2) + 1) {
      fail(s, `deleting healthy ${touched.join(', ')} leaves ${healthyAfter} of ${after} voters healthy`)
    }
  },
}

// Services, and the pods and volumes of members: a 200 deletes every
// observed child it leaves out.
export const childrenKept: Invariant = {
  name: 'services are never dropped, and a 200 keeps every member pod that should exist (and the claims of live members)',
  check (world, rules) {
    const s = sync(world, rules)
    const services = [NAME, `${NAME}-client`, ...(world.request.parent.spec.loadBalancer?.enabled === true ? [`${NAME}-client-lb`] : [])]
    for (const response of [s.result.response, s.result.responseIfActionFails]) {
      const names = new Set(response.children.filter(c => c.kind === 'Service').map(c => c.metadata.name))
      for (const service of services) if (!names.has(service)) fail(s, `Service ${service} dropped`)
    }
    const claimsKept = new Set(s.result.response.children.filter(c => c.kind === 'PersistentVolumeClaim').map(c => c.metadata.name))
    if (!world.observation.reachable) {
      // Nothing says whose data a claim holds or which pod is a member:
      // keep all, but a seed that failed before the cluster ever existed.
      for (const name of s.dropped) {
        if (world.bootstrapped || !finished(world.pods.get(name))) fail(s, `pod ${name} dropped while etcd is unobserved`)
      }
      for (const claim of world.claims) if (!claimsKept.has(claim)) fail(s, `claim ${claim} dropped while etcd is unobserved`)
      return
    }
    // After a failed write no member was removed.
    for (const [kept, removed] of [[s.kept, s.removed], [s.keptIfFailed, undefined]] as const) {
      for (const pod of world.pods.keys()) {
        if (world.members.has(pod) && pod !== removed && !finished(world.pods.get(pod)) && !kept.has(pod)) fail(s, `pod of member ${pod} dropped`)
      }
    }
    for (const name of [...world.members.keys(), ...s.kept.keys()]) {
      const claim = `etcd-data-${name}`
      if (world.claims.has(claim) && name !== s.removed && !claimsKept.has(claim)) fail(s, `claim ${claim} dropped`)
    }
  },
}

// Both answers (after the write succeeds, after it fails) from equal
// requests, and the request left as it came: a retried sync is the same
// sync.
export const deterministic: Invariant = {
  name: 'the same request gives the same response (ignoring the write\'s result)',
  check (world, rules) {
    const input = JSON.stringify([world.request, world.observation])
    const first = plan(structuredClone(world.request), structuredClone(world.observation), new Date(NOW), rules)
    const second = plan(world.request, world.observation, new Date(NOW), rules)
    if (JSON.stringify(first) !== JSON.stringify(second)) throw new Violation(`two plans of one request differ (rules ${first.rule}, ${second.rule})`)
    if (JSON.stringify([world.request, world.observation]) !== input) throw new Violation(`planning changed its input (rule ${second.rule})`)
  },
}

export const noSecondLearner: Invariant = {
  name: 'never a second learner: no learner is added while etcd lists one',
  check (world, rules) {
    if (!listsLearner(world)) return
    const s = sync(world, rules)
    if (s.result.action?.kind === 'addLearner') fail(s, `learner ${s.result.action.pod} added while etcd lists a learner`)
    const joining = s.created.filter(name => !world.members.has(name))
    if (joining.length > 0) fail(s, `pod ${joining.join(', ')} of a new member while etcd lists a learner`)
  },
}

// etcd answered, but names no leader, or no majority of its voters is
// healthy (members added by hand count as unhealthy: nothing checks them).
// A finished pod may go (a member on a volume restarts in a new one): that
// destroys nothing.
export const noWriteWithoutQuorum: Invariant = {
  name: 'no membership write (and no live pod deleted, no image moved) while quorum is lost',
  check (world, rules) {
    if (!world.observation.reachable) return
    const healthyVoters = voters(world).filter(name => healthy(world, name)).length
    const why = world.observation.leaderId === undefined
      ? 'without a leader'
      : healthyVoters > voterIds(world).length / 2 ? undefined : `with ${healthyVoters} of ${voterIds(world).length} voters healthy`
    if (why === undefined) return
    const s = sync(world, rules)
    if (s.result.action !== undefined && !(world.observation.leaderId !== undefined && noSpaceWrite(world, s))) fail(s, `${describe(s)} ${why}`)
    const live = s.dropped.filter(name => !finished(world.pods.get(name)))
    if (live.length > 0 || s.moved.length > 0) fail(s, `pods ${[...live, ...s.moved].join(', ')} changed ${why}`)
  },
}

export const noWriteUnobserved: Invariant = {
  name: 'no membership write while etcd is unobserved',
  check (world, rules) {
    if (world.observation.reachable) return
    const s = sync(world, rules)
    if (s.result.action !== undefined) fail(s, `${describe(s)} without a member list`)
    if (s.moved.length > 0) fail(s, `image of ${s.moved.join(', ')} moved without a member list`)
  },
}

// Stuck: a member crash-looping past STUCK_AFTER_MS, or a learner whose pod
// does not run past LEARNER_START_DEADLINE_MS (or no longer wanted: the
// voters are as many as spec.size).
export const noRemovalWhileLearner: Invariant = {
  name: 'never a removal while a learner exists, unless it removes a dead or stuck member',
  check (world, rules) {
    if (!listsLearner(world)) return
    const s = sync(world, rules)
    if (s.removed !== undefined && !removable(world, s.removed)) fail(s, `member ${s.removed} removed while etcd lists a learner`)
  },
}

// Why a world must be left as it is: paused, being deleted (a member
// removed now loses its data for nothing if the deletion orphans or is
// cancelled), or asked for member TLS its running members do not have
// (members of both kinds cannot talk to each other).
function frozen (world: World): string | undefined {
  const { request } = world
  if (request.parent.spec.paused === true) return 'paused'
  if (request.finalizing === true || request.parent.metadata.deletionTimestamp !== undefined) return 'being deleted'
  if (world.tlsChanged && [...world.pods.values()].some(p => !finished(p))) return 'spec.TLS differs from the members\' own'
  return world.certificatesFrozen
}

export const nothingWhileFrozen: Invariant = {
  name: 'nothing changes while paused, while the cluster is being deleted, or while spec.TLS (or the cert-manager issuer or CA) differs from its members\'',
  check (world, rules) {
    const why = frozen(world)
    if (why === undefined) return
    const s = sync(world, rules)
    if (s.result.action !== undefined) fail(s, `${describe(s)} while ${why}`)
    if (s.dropped.length > 0 || s.created.length > 0 || s.moved.length > 0) fail(s, `pods changed while ${why}`)
  },
}

// The answer sent when the write fails: every observed pod as it was,
// nothing new (the write that would have made it a member did not happen).
export const failedWriteChangesNoPod: Invariant = {
  name: 'a failed write adds, deletes and moves no pod',
  check (world, rules) {
    const s = sync(world, rules)
    if (s.result.action === undefined) return
    const names = [...s.keptIfFailed.keys()]
    if (names.length !== world.pods.size || names.some(name => !world.pods.has(name))) fail(s, `pods ${names.join(', ')} after a failed ${describe(s)}`)
    if (movedImages(world, s.keptIfFailed).length > 0) fail(s, `an image moved although ${describe(s)} failed`)
  },
}

// No null, every child named, and an existing pod never re-rendered (its
// spec as observed but the etcd image): pod specs are immutable.
export const childrenWellFormed: Invariant = {
  name: 'children are well-formed, and no existing pod is re-rendered',
  check (world, rules) {
    const s = sync(world, rules)
    for (const response of [s.result.response, s.result.responseIfActionFails]) {
      if (JSON.stringify(response.children).includes('null')) fail(s, 'a child carries null')
      if (response.children.some(c => c.apiVersion === '' || c.kind === '' || c.metadata.name === '')) fail(s, 'a child without identity')
      for (const [name, pod] of podsIn(response.children)) {
        const before = observedPodSpec(world, name)
        if (before === undefined) continue
        const after = structuredClone(pod.spec) as typeof before
        after.containers.forEach((c, i) => { c.image = before.containers[i]?.image ?? c.image })
        if (JSON.stringify(after) !== JSON.stringify(before)) fail(s, `pod ${name} re-rendered`)
      }
    }
  },
}

// Issue 15: a defragment blocks its member, so one at a time, never the
// leader of a cluster of more (leadership moves first), never while a
// learner is listed or a voter does not run and answer.
export const defragOneAtATime: Invariant = {
  name: 'a defragment only with no other running, never of the leader of several, never during a membership change or with a voter down',
  check (world, rules) {
    const s = sync(world, rules)
    const action = s.result.action
    if (action?.kind !== 'defragment') return
    if (world.defragRunning !== undefined) fail(s, `defragment of ${action.pod} while ${world.defragRunning} is still being defragmented`)
    if (action.pod === world.leader && voters(world).length > 1) fail(s, `defragment of the leader ${action.pod}`)
    if (listsLearner(world)) fail(s, `defragment of ${action.pod} while etcd lists a learner`)
    const down = voters(world).filter(name => !running(world.pods.get(name)) || !answers(world, name))
    if (down.length > 0) fail(s, `defragment of ${action.pod} while ${down.join(', ')} down`)
  },
}

// In the order of DESIGN.md's list, then the ones the code relies on.
export const INVARIANTS: readonly Invariant[] = [
  oneWritePerSync, noChangeWhileUnready, quorumKept, childrenKept, deterministic,
  noSecondLearner, noWriteWithoutQuorum, noWriteUnobserved, noRemovalWhileLearner,
  nothingWhileFrozen, failedWriteChangesNoPod, childrenWellFormed, defragOneAtATime,
]

// Fixed by default, so a run is reproducible; PROPERTY_SEED and
// PROPERTY_RUNS explore further.
export const RUNS = { numRuns: Number(process.env.PROPERTY_RUNS ?? 500), seed: Number(process.env.PROPERTY_SEED ?? 20261126) }

export function propertyOf (invariant: Invariant, rules: readonly Rule[] = RULES): fc.IProperty<[World]> {
  return fc.property(worldArb, world => { invariant.check(world, rules) })
}
