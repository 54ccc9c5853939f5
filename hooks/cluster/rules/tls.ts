import type { Cluster, ObservedPod } from '../model.js'
import { RESYNC_STEADY, type Rule } from './step.js'

// spec.TLS differs from what the running members mount: TLS turned on or
// off, other secrets (perhaps another CA), or a switch between static
// Secrets and cert-manager's (whose keys the volumes map to other file
// names). Members of both kinds cannot talk to each other, and replacing
// them one by one would wedge the cluster, so nothing changes until the
// spec is set back. (To rotate certificates, change the Secrets' contents
// in place, or let cert-manager renew them: members pick them up.)
export const tlsChangeRefused: Rule = ({ cluster }) => {
  const wanted = wantedTLS(cluster)
  const live = cluster.pods.filter(p => !p.terminating && p.phase !== 'Failed' && p.phase !== 'Succeeded')
  const differs = live.find(p => p.tls.peerSecret !== wanted.peerSecret || p.tls.serverSecret !== wanted.serverSecret || p.tls.certManager !== wanted.certManager)
  if (differs === undefined) return undefined
  return {
    rule: 'tlsChangeRefused',
    waitingFor: `spec.TLS set back: it cannot change after creation (${differs.name} runs with ${describe(differs.tls)}, spec asks for ${describe(wanted)})`,
    resyncAfterSeconds: RESYNC_STEADY,
  }
}

function wantedTLS (cluster: Cluster): ObservedPod['tls'] {
  const { peerSecret, serverSecret, certManager } = cluster.spec.tls
  return { peerSecret, serverSecret, certManager: certManager !== undefined }
}

function describe ({ peerSecret, serverSecret, certManager }: ObservedPod['tls']): string {
  const from = (secret: string) => certManager ? `cert-manager's ${secret}` : secret
  return `peer ${peerSecret === undefined ? 'http' : `TLS from ${from(peerSecret)}`}, client ${serverSecret === undefined ? 'http' : `TLS from ${from(serverSecret)}`}`
}
