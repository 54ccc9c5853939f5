// Where a restored cluster's data came from (status.restore) and the
// Restored condition, from the seed's restore init containers. The seed
// pod may go later (a replaced member): what an earlier sync learned is
// kept, never lost.
import type { RestoreStatus } from '../api/backup.js'
import type { Condition } from '../api/kube.js'
import { condition } from '../kube/conditions.js'
import type { Cluster } from './model.js'
import { restoreProgress, type RestoreProgress } from './observe/restore.js'

export function restoreProgressOf (cluster: Cluster): RestoreProgress[] {
  return cluster.pods.flatMap(p => {
    const progress = restoreProgress(p.object)
    return progress === undefined ? [] : [progress]
  })
}

export function restoreStatus (cluster: Cluster, progress: RestoreProgress[]): RestoreStatus | undefined {
  const previous = cluster.previous.restore
  if (previous !== undefined) return previous
  const done = progress.find(p => p.state === 'done')
  if (done === undefined) return undefined
  const status: RestoreStatus = { object: done.object ?? where(cluster), time: done.time }
  if (done.revision !== undefined) status.revision = done.revision
  return status
}

// Only for a cluster made from a snapshot. False with the store's (or
// etcd's) own words while the seed cannot restore: it never starts from a
// partial restore, and nothing else is touched.
export function restoredCondition (cluster: Cluster, status: RestoreStatus | undefined, progress: RestoreProgress[], formed: boolean): Condition | undefined {
  if (cluster.spec.restore === undefined && status === undefined) return undefined
  if (status !== undefined) {
    return condition('Restored', true, { reason: 'Restored', message: `restored ${status.object}${status.revision !== undefined ? ` at revision ${status.revision}` : ''}` })
  }
  const failed = progress.find(p => p.state === 'failed')
  if (failed !== undefined) {
    return condition('Restored', false, { reason: 'RestoreFailed', message: `${failed.pod}: ${failed.container} failed: ${failed.message}` })
  }
  if (formed) {
    // Formed before this hook could see the seed's init containers.
    return condition('Restored', true, { reason: 'RestoredUnrecorded', message: `the cluster formed from ${where(cluster)}; which snapshot was not recorded` })
  }
  const seed = progress[0]?.pod
  if (seed === undefined) return condition('Restored', false, { reason: 'Restoring', message: `the seed member will restore ${where(cluster)}` })
  // A Secret or claim that is missing keeps the pod from starting any
  // container at all: only the pod's events say so.
  return condition('Restored', false, { reason: 'Restoring', message: `${seed} is restoring ${where(cluster)} (if its init containers do not start, kubectl describe pod ${seed} says why: ${needs(cluster)})` })
}

function needs (cluster: Cluster): string {
  const restore = cluster.spec.restore
  if (restore?.s3 !== undefined) return `it needs the Secret ${restore.s3.awsSecret}`
  return `it needs the claim ${restore?.pvc?.claimName ?? ''}`
}

// spec.restore as a location, as the runner names objects.
function where (cluster: Cluster): string {
  const restore = cluster.spec.restore
  if (restore?.s3 !== undefined) return `s3://${restore.s3.path}${restore.latest === true ? ' (the newest snapshot)' : ''}`
  if (restore?.pvc !== undefined) return `pvc://${restore.pvc.claimName}/${restore.pvc.path}${restore.latest === true ? ' (the newest snapshot)' : ''}`
  return 'a snapshot'
}
