// Quorum: without a leader nothing changes; without a healthy majority no
// membership write is sent (etcd could commit it later, when a member comes
// back, after the hook took it for refused).
import type { Membership } from '../observe/membership.js'
import { RESYNC_CONVERGING, RESYNC_QUORUM_LOST, type ObservedSituation, type Step } from './step.js'

// No leader: quorum is lost. Change nothing; a member that comes back
// restores it.
export function quorumLost ({ membership }: ObservedSituation): Step | undefined {
  if (membership.leaderId !== undefined) return undefined
  return { rule: 'quorumLost', waitingFor: 'a leader (quorum lost)', resyncAfterSeconds: RESYNC_QUORUM_LOST }
}

// A leader is named, but fewer than a majority of voters are healthy by our
// own checks (a survivor names the old leader for a second or so after a
// majority dies): no membership write until a majority is back.
export function quorumUnhealthy ({ membership, observation }: ObservedSituation): Step | undefined {
  if (observation.reachable && observation.membersStale === true) {
    return { rule: 'quorumUnhealthy', waitingFor: 'a quorum read of the member list (only a member\'s own list answered)', resyncAfterSeconds: RESYNC_CONVERGING }
  }
  if (healthyMajority(membership)) return undefined
  const healthy = membership.voters.filter(s => s.healthy).length
  return {
    rule: 'quorumUnhealthy',
    waitingFor: `a healthy majority (${healthy} of ${membership.voters.length + membership.foreign.length} voting members healthy)`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

// Voters we cannot check (members no pod of ours holds) count as unhealthy.
export function healthyMajority (membership: Membership): boolean {
  const voters = membership.voters.length + membership.foreign.filter(m => !m.isLearner).length
  return membership.voters.filter(s => s.healthy).length > voters / 2
}
