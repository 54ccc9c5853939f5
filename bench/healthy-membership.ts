// An in-process MembershipClient that answers like a healthy cluster, so the
// benchmark measures the hook's own cost: every observed endpoint is a
// started voter named after its pod, the first one leads. Any write is a
// bug in the benchmark's request (a steady cluster needs none).
import { CLIENT_PORT, PEER_PORT } from '../hooks/cluster/model.js'
import type { EtcdMember, EtcdTarget, MembershipAction, MembershipClient, Observation } from '../hooks/etcd/types.js'

export const BENCH_CLUSTER_ID = '14841639068965178418'

export function healthyObservation (target: EtcdTarget): Observation {
  const members = target.endpoints.map((endpoint, i): EtcdMember => {
    const host = new URL(endpoint).hostname
    return {
      // Large uint64 IDs, as etcd makes them.
      id: (18446744073709551000n - BigInt(i) * 7919n).toString(),
      name: host.split('.')[0] ?? host,
      peerURLs: [`http://${host}:${PEER_PORT}`],
      clientURLs: [`http://${host}:${CLIENT_PORT}`],
      isLearner: false,
    }
  })
  return { reachable: true, clusterId: BENCH_CLUSTER_ID, leaderId: members[0]?.id, members }
}

export class HealthyMembership implements MembershipClient {
  // The benchmark sends the same few requests over and over: answer from a
  // memo, so the figure is the hook's cost and not this fake's URL parsing.
  private readonly answers = new Map<string, Observation>()

  observe (target: EtcdTarget): Promise<Observation> {
    const key = target.endpoints.join(' ')
    let answer = this.answers.get(key)
    if (answer === undefined) this.answers.set(key, answer = healthyObservation(target))
    return Promise.resolve(answer)
  }

  execute (action: MembershipAction): Promise<void> {
    return Promise.reject(new Error(`the benchmark's cluster is steady, yet the hook asked for ${action.kind} of ${action.pod}`))
  }
}
