import { RESYNC_QUORUM_LOST, type ObservedSituation, type Step } from './step.js'

// No leader: quorum is lost. Change nothing; a member that comes back
// restores it.
export function quorumLost ({ membership }: ObservedSituation): Step | undefined {
  if (membership.leader !== undefined) return undefined
  return { rule: 'quorumLost', waitingFor: 'a leader (quorum lost)', resyncAfterSeconds: RESYNC_QUORUM_LOST }
}
