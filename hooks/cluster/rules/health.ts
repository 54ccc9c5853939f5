import type { Membership } from '../observe/membership.js'
import { RESYNC_CONVERGING, type ObservedSituation, type Step } from './step.js'

// Every rule below changes a healthy cluster: wait until every voter is.
export function waitForHealthy ({ membership }: ObservedSituation): Step | undefined {
  if (votersHealthy(membership)) return undefined
  const unhealthy = membership.voters.filter(s => !s.healthy).map(s => s.pod)
  return { rule: 'waitForHealthy', waitingFor: `${unhealthy.join(', ')} to be ready`, resyncAfterSeconds: RESYNC_CONVERGING }
}

export function votersHealthy (membership: Membership): boolean {
  return membership.voters.every(s => s.healthy)
}
