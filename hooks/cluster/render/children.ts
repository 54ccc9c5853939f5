// Every child Metacontroller should make true after this sync's step.
// A 200 deletes every observed child it leaves out, so each one that must
// survive is listed here.
import type { KubeObject } from '../../api/kube.js'
import { keepObserved, withoutNulls } from '../../kube/objects.js'
import type { Cluster } from '../model.js'
import { claimOrdinal, clientServiceName, ordinalOf } from '../names.js'
import { olderImage, type Membership } from '../observe/membership.js'
import type { Step } from '../rules/step.js'
import { templateBackupChildren } from './backup.js'
import { templateCertificates } from './certificates.js'
import { templateClaim } from './claim.js'
import { templateDisruptionBudget } from './disruption-budget.js'
import { VOTER_LABEL } from './labels.js'
import { keepPod, templateMemberPod } from './pod.js'
import { templateClientService, templateLoadBalancerService, templatePeerService } from './services.js'

export function renderChildren (cluster: Cluster, membership: Membership | undefined, step: Step): KubeObject[] {
  const pods = memberPods(cluster, membership, step)
  const children: KubeObject[] = [
    templatePeerService(cluster),
    templateClientService(cluster, clientsReachVotersOnly(cluster, membership)),
    ...(cluster.spec.loadBalancer.enabled ? [templateLoadBalancerService(cluster, clientsReachVotersOnly(cluster, membership))] : []),
    ...(cluster.spec.podDisruptionBudget.enabled ? [templateDisruptionBudget(cluster)] : []),
    ...templateCertificates(cluster),
    ...templateBackupChildren(cluster, backupImage(cluster, membership)),
    ...claims(cluster, membership, step, pods),
    ...pods,
  ]
  return children.map(child => withoutNulls(child))
}

// Observed pods kept (less the deleted ones, the upgraded one on its new
// image), then the new ones.
function memberPods (cluster: Cluster, membership: Membership | undefined, step: Step): KubeObject[] {
  const deleted = new Set(step.deletePods)
  const voters = membership === undefined ? undefined : new Set(membership.voters.map(s => s.pod))
  const pods: KubeObject[] = []
  for (const pod of cluster.pods) {
    if (deleted.has(pod.name)) continue
    const image = step.updateImage?.pod === pod.name ? step.updateImage.image : pod.image
    pods.push(keepPod(cluster, pod, image, voters?.has(pod.name)))
  }
  for (const pod of step.createPods ?? []) pods.push(templateMemberPod(cluster, pod))
  return pods
}

// A claim lives as long as its member or its pod: a new member never
// starts on a removed member's data.
function claims (cluster: Cluster, membership: Membership | undefined, step: Step, pods: KubeObject[]): KubeObject[] {
  const podOrdinals = new Set(pods.map(p => ordinalOf(cluster, p.metadata.name)))
  const removedMember = step.action?.kind === 'remove' ? step.action.pod : undefined
  const memberOrdinals = new Set(membership?.slots.filter(s => s.pod !== removedMember).map(s => s.ordinal))
  const kept: KubeObject[] = []
  for (const [name, claim] of cluster.claims) {
    const ordinal = claimOrdinal(cluster, name)
    // Without the member list nothing says whose data a claim holds: keep all.
    const keep = membership === undefined
      || (ordinal !== undefined && (podOrdinals.has(ordinal) || memberOrdinals.has(ordinal)))
    if (keep) kept.push(keepObserved(claim))
  }
  if (cluster.spec.pod.persistentVolumeClaimSpec !== undefined) {
    for (const pod of step.createPods ?? []) {
      const claim = templateClaim(cluster, pod.pod)
      if (!cluster.claims.has(claim.metadata.name)) kept.push(claim)
    }
  }
  return kept
}

// Clients reach voters only once every voter's pod carries the label
// (after a hook upgrade the labels land one sync before the selector, so
// the Services never select nothing); from then on, always.
function clientsReachVotersOnly (cluster: Cluster, membership: Membership | undefined): boolean {
  return selectsVoters(cluster.services.get(clientServiceName(cluster)))
    || (membership !== undefined && membership.voters.length > 0
      && membership.voters.every(s => s.observed?.object.metadata.labels?.[VOTER_LABEL] === 'true'))
}

function selectsVoters (service: KubeObject | undefined): boolean {
  const selector = (service?.spec as { selector?: Record<string, string> } | undefined)?.selector
  return selector?.[VOTER_LABEL] === 'true'
}

// Backups take their snapshot with the etcdctl of the version the cluster
// runs (the oldest voter's image during an upgrade), spec's otherwise.
function backupImage (cluster: Cluster, membership: Membership | undefined): string {
  return membership === undefined ? cluster.spec.image : olderImage(cluster, membership) ?? cluster.spec.image
}
