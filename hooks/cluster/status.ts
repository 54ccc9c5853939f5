// The EtcdCluster status: what was observed, never what is merely wished.
// Nothing here may change between two syncs of an unchanged world, or
// Metacontroller writes the status on every sync.
import type { ClusterStatus } from '../api/cluster.js'
import type { Condition } from '../api/kube.js'
import type { Observation } from '../etcd/types.js'
import { compareVersions, versionOfImage } from '../etcd/versions.js'
import { condition, withTransitionTime } from '../kube/conditions.js'
import { CLIENT_PORT, type Cluster, type ObservedPod } from './model.js'
import { clientScheme, clientServiceName, loadBalancerServiceName, ordinalOf } from './names.js'
import { highestOrdinal, type Membership } from './observe/membership.js'
import { backupCondition, backupStatus } from './backup-status.js'
import { restoreProgressOf, restoreStatus, restoredCondition } from './restore-status.js'
import { maintenanceStatus, noSpaceCondition } from './maintenance-status.js'
import type { Step } from './rules/step.js'

const RECOVERY_RULES = new Set<Step['rule']>([
  'removeStuckLearner', 'transferLeadershipFromForeign', 'removeDeadMember', 'removeStuckMember', 'restartOnClaim', 'replacePodOnClaim', 'startAddedMember', 'deleteStrayPod', 'restartFromClaims', 'clearFailedSeed',
])

// What the status is made of, read once from the model.
interface Facts {
  // The pods that make up the cluster: members' pods once etcd answers.
  memberPods: ObservedPod[]
  upgrading: boolean
  unready: string[]
  dead: string[]
  outdated: string[]
  voters: number
}

function factsOf (cluster: Cluster, membership: Membership | undefined): Facts {
  const memberPods = membership === undefined
    ? cluster.pods
    : cluster.pods.filter(p => membership.slots.some(s => s.pod === p.name))
  return {
    memberPods,
    upgrading: memberPods.some(p => p.image !== cluster.spec.image),
    unready: memberPods.filter(p => !p.ready).map(p => p.name),
    dead: membership?.slots.filter(s => s.dead).map(s => s.pod) ?? [],
    outdated: membership?.slots.filter(s => s.outdatedPolicy).map(s => s.pod) ?? [],
    voters: membership?.voters.length ?? 0,
  }
}

export function buildStatus (cluster: Cluster, observation: Observation, membership: Membership | undefined, step: Step, now: Date): ClusterStatus {
  const { spec, previous } = cluster
  const facts = factsOf(cluster, membership)
  const { memberPods, upgrading, unready, outdated } = facts
  const available = membership?.leaderId !== undefined
  const versions = runningVersions(membership, memberPods)
  const stamp = now.toISOString()
  const backup = backupStatus(cluster)
  const backupHealthy = backupCondition(cluster, backup, now)
  const restoring = restoreProgressOf(cluster)
  const restore = restoreStatus(cluster, restoring)
  const restored = restoredCondition(cluster, restore, restoring, membership !== undefined || previous.clusterID !== undefined)
  const noSpace = noSpaceCondition(cluster, observation, membership, step)
  const lbService = cluster.services.get(loadBalancerServiceName(cluster))
  const status: ClusterStatus = {
    phase: phase(cluster, available, step),
    controlPaused: spec.paused,
    conditions: [...conditions(cluster, observation, membership, step, facts), ...[backupHealthy, restored, noSpace].filter(c => c !== undefined)]
      .map(c => withTransitionTime(c, previous.conditions, stamp)),
    size: membership === undefined ? memberPods.length : membership.slots.length + membership.foreign.length,
    members: {
      ready: memberPods.filter(p => p.ready).map(p => p.name),
      unready,
      // Members still made from an old spec.pod; they are being replaced.
      outdated,
    },
    currentVersion: versions[0] ?? '',
    targetVersion: upgrading ? spec.version : '',
    serviceName: clientServiceName(cluster),
    clientPort: CLIENT_PORT,
    clientURL: `${clientScheme(cluster)}://${clientServiceName(cluster)}.${cluster.namespace}.svc${spec.pod.ClusterDomain ?? ''}:${CLIENT_PORT}`,
    externalClientURLs: spec.loadBalancer.enabled && lbService !== undefined ? ingressURLs(lbService, clientScheme(cluster)) : [],
    learners: membership?.learners.map(s => s.pod) ?? [],
  }
  if (step.waitingFor !== undefined) status.reason = `waiting for ${step.waitingFor}`
  const clusterID = membership !== undefined ? hex(membership.clusterId) : previous.clusterID
  if (clusterID !== undefined) status.clusterID = clusterID
  if (backup !== undefined) status.backup = backup
  if (restore !== undefined) status.restore = restore
  const maintenance = maintenanceStatus(cluster, observation, membership, step, now)
  if (maintenance !== undefined) status.maintenance = maintenance
  // etcd's word, kept while etcd does not answer: the upgrade guard and
  // users read it.
  const clusterVersion = membership?.clusterVersion ?? previous.clusterVersion
  if (clusterVersion !== undefined) status.clusterVersion = clusterVersion
  const leader = leaderName(membership)
  if (leader !== undefined) status.leader = leader
  const highest = highestOrdinal(cluster, membership)
  const created = (step.createPods ?? []).map(p => ordinalOf(cluster, p.pod) ?? 0)
  if (highest !== undefined || created.length > 0) status.highestOrdinal = Math.max(highest ?? 0, ...created)
  const lastAction = step.lastAction ?? previous.lastAction
  if (lastAction !== undefined) status.lastAction = lastAction
  return status
}

function conditions (cluster: Cluster, observation: Observation, membership: Membership | undefined, step: Step, facts: Facts): Condition[] {
  const { spec } = cluster
  const { upgrading, unready, dead, outdated, voters } = facts
  const recovering = RECOVERY_RULES.has(step.rule) || dead.length > 0
  return [
    condition('Available', membership?.leaderId !== undefined, availability(observation, membership, step)),
    condition('Scaling', membership !== undefined && (membership.voters.length !== spec.size || membership.learners.length > 0),
      membership === undefined
        ? { reason: 'Unknown', message: 'membership not observed' }
        : { reason: membership.voters.length < spec.size ? 'ScalingUp' : membership.voters.length > spec.size ? 'ScalingDown' : 'AtSize',
            message: `${membership.voters.length} voting members, ${membership.learners.length} learners, ${spec.size} wanted` }),
    // A new image rolls in place; a new pod policy by replacing members.
    condition('Upgrading', upgrading || outdated.length > 0,
      step.rule === 'upgradeBlocked'
        ? { reason: 'UpgradeBlocked', message: step.waitingFor ?? '' }
        : outdated.length > 0
          ? { reason: 'RollingPodPolicy', message: `replacing members made from an old spec.pod: ${outdated.join(', ')}` }
          : { reason: upgrading ? 'RollingImage' : 'AtVersion', message: `wanted image ${spec.image}` }),
    condition('Recovering', recovering,
      recovering ? { reason: 'ReplacingFailedMember', message: dead.length > 0 ? `failed: ${dead.join(', ')}` : step.lastAction ?? step.rule } : { reason: 'NoFailures', message: 'no failed members' }),
    condition('Degraded', unready.length > 0 || voters < spec.size,
      unready.length > 0
        ? { reason: 'MembersUnready', message: `unready: ${unready.join(', ')}` }
        : voters < spec.size
          ? { reason: 'TooFewMembers', message: `${voters} of ${spec.size} members` }
          : { reason: 'AllMembersReady', message: 'all members ready' }),
    // etcd without client TLS authenticates nobody: say so when it is
    // reachable from outside the cluster.
    ...(spec.loadBalancer.enabled
      ? [condition('InsecureLoadBalancer', spec.tls.serverSecret === undefined, spec.tls.serverSecret === undefined
          ? { reason: 'NoClientTLS', message: `${loadBalancerServiceName(cluster)} exposes etcd without client TLS: anyone who reaches it can read and write every key; set spec.TLS.static.member.serverSecret, and loadBalancer.sourceRanges` }
          : { reason: 'ClientTLS', message: 'clients need a certificate' })]
      : []),
  ]
}

function availability (observation: Observation, membership: Membership | undefined, step: Step): { reason: string, message: string } {
  const leader = leaderName(membership)
  if (membership !== undefined && leader !== undefined) {
    const healthy = membership.voters.filter(s => s.healthy).length
    return { reason: 'QuorumHealthy', message: `leader ${leader}; ${healthy} of ${membership.voters.length} voting members healthy` }
  }
  if (membership !== undefined) {
    // Ready, not "running": a container's state goes stale when its node
    // dies, the Ready condition does not.
    const unready = membership.voters.filter(s => s.observed?.ready !== true).map(s => s.pod)
    return { reason: 'QuorumLost', message: `no leader: ${Math.floor(membership.voters.length / 2) + 1} of ${membership.voters.length} voting members needed; unready: ${unready.join(', ') || 'none'}` }
  }
  if (step.rule === 'bootstrap') return { reason: 'Bootstrapping', message: 'creating the seed member' }
  if (step.rule === 'allMembersLost') return { reason: 'AllMembersLost', message: 'every member pod is gone and no volume holds their data; see README, "Disaster recovery"' }
  return { reason: 'Unreachable', message: observation.reachable ? 'etcd answered' : observation.error }
}

// Creating until the cluster first has a leader; Failed when it had one
// and lost quorum or every member.
function phase (cluster: Cluster, available: boolean, step: Step): NonNullable<ClusterStatus['phase']> {
  if (available) return 'Running'
  const before = cluster.previous.phase ?? 'Creating'
  if (step.rule === 'allMembersLost') return 'Failed'
  if (step.rule === 'quorumLost' && before !== 'Creating') return 'Failed'
  return before
}

function ingressURLs (service: Record<string, unknown>, scheme: string): string[] {
  const ingress = (service.status as { loadBalancer?: { ingress?: Array<{ ip?: string, hostname?: string }> } } | undefined)
    ?.loadBalancer?.ingress ?? []
  return ingress
    .map(i => i.ip ?? i.hostname)
    .filter((host): host is string => host !== undefined && host !== '')
    .map(host => `${scheme}://${host.includes(':') ? `[${host}]` : host}:${CLIENT_PORT}`)
}

// etcdctl prints IDs in hex; so do we.
function hex (id: string): string {
  return /^[0-9]+$/.test(id) ? BigInt(id).toString(16) : id
}

// The leading member: its pod, or the name of a member no pod of ours holds.
function leaderName (membership: Membership | undefined): string | undefined {
  if (membership?.leader !== undefined) return membership.leader.pod
  const foreign = membership?.foreignLeader
  return foreign === undefined ? undefined : foreign.name || foreign.id
}

// The versions members run, oldest first: etcd's word for each member that
// answered, the image tag for the others.
function runningVersions (membership: Membership | undefined, memberPods: ObservedPod[]): string[] {
  const reported = new Map(membership?.slots.map(s => [s.pod, s.serverVersion]) ?? [])
  return memberPods.map(p => reported.get(p.name) ?? versionOfImage(p.image)).filter(v => v !== '').sort(compareVersions)
}
