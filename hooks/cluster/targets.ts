// Where the controller's etcd calls go: pure, from the model.
import type { EtcdTarget } from '../etcd/types.js'
import type { Cluster } from './model.js'
import { clientURL } from './names.js'
import type { Membership } from './observe/membership.js'

// Where membership writes go: healthy voters, the leader first (it would
// forward them anyway), at most three so a write fits the hook's timeout.
export function writeTarget (cluster: Cluster, membership: Membership): EtcdTarget {
  const healthy = membership.voters.filter(s => s.healthy)
  const ordered = [
    ...healthy.filter(s => s === membership.leader),
    ...healthy.filter(s => s !== membership.leader),
  ]
  return { endpoints: ordered.slice(0, 3).map(s => clientURL(cluster, s.pod)) }
}

// Where to observe: every member pod that may be running etcd.
export function observeTarget (cluster: Cluster): EtcdTarget {
  return {
    endpoints: cluster.pods
      .filter(p => p.phase !== 'Failed' && p.phase !== 'Succeeded')
      .map(p => clientURL(cluster, p.name)),
  }
}
