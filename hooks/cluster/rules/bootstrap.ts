// etcd does not answer: start the cluster, start it again on its volumes,
// or wait. Nothing here writes to etcd.
import type { ObservedPod } from '../model.js'
import { claimOrdinal, peerURL, podName } from '../names.js'
import { nextOrdinal } from '../observe/membership.js'
import { RESYNC_CONVERGING, RESYNC_STEADY, type Rule } from './step.js'

// Nothing yet: start the seed member, a cluster of one.
export const bootstrap: Rule = ({ cluster }) => {
  if (cluster.pods.length > 0 || cluster.previous.clusterID !== undefined || cluster.claims.size > 0) return undefined
  const pod = podName(cluster, nextOrdinal(cluster, undefined))
  return {
    rule: 'bootstrap',
    createPods: [{
      pod, initialClusterState: 'new', initialCluster: [`${pod}=${peerURL(cluster, pod)}`], voter: true,
      ...(cluster.spec.restore !== undefined ? { restore: true } : {}),
    }],
    lastAction: `created seed member ${pod}`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// Every pod gone but their volumes kept: start each member again on its
// data (the --initial-* flags are ignored once data exists).
export const restartFromClaims: Rule = ({ cluster }) => {
  if (cluster.pods.length > 0 || cluster.claims.size === 0) return undefined
  const pods = [...cluster.claims.keys()]
    .map(name => claimOrdinal(cluster, name))
    .filter((o): o is number => o !== undefined)
    .map(o => podName(cluster, o))
  // A seed that never bootstrapped may have an empty volume: `new` lets it
  // bootstrap; on a volume with data the flag is ignored anyway.
  const state = cluster.previous.clusterID === undefined && pods.length === 1 ? 'new' : 'existing'
  // That seed restores again if spec.restore says so: commit keeps any data
  // its volume already has.
  const restore = state === 'new' && cluster.spec.restore !== undefined ? { restore: true } : {}
  return {
    rule: 'restartFromClaims',
    createPods: pods.map(pod => ({ pod, initialClusterState: state, initialCluster: [`${pod}=${peerURL(cluster, pod)}`], ...restore })),
    lastAction: `restarted ${pods.join(', ')} on their volumes`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// A seed that never came up and is finished: start over (a volume it has
// stays, and restartFromClaims starts it again on it).
export const clearFailedSeed: Rule = ({ cluster }) => {
  if (cluster.previous.clusterID !== undefined || cluster.pods.length === 0 || cluster.pods.some(p => !isFinished(p))) return undefined
  const names = cluster.pods.map(p => p.name)
  return {
    rule: 'clearFailedSeed',
    deletePods: names,
    lastAction: `deleted failed seed ${names.join(', ')}`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// The cluster existed and every member is gone, data included.
export const allMembersLost: Rule = ({ cluster }) =>
  cluster.pods.length === 0
    ? { rule: 'allMembersLost', waitingFor: 'all members lost', resyncAfterSeconds: RESYNC_STEADY }
    : undefined

// Pods exist but etcd does not answer (starting, or down): wait.
export const unreachable: Rule = () =>
  ({ rule: 'unreachable', waitingFor: 'etcd to answer', resyncAfterSeconds: RESYNC_CONVERGING })

function isFinished (pod: ObservedPod): boolean {
  return pod.phase === 'Failed' || pod.phase === 'Succeeded' || pod.terminating
}
