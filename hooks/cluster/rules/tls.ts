import { RESYNC_STEADY, type Rule } from './step.js'

// spec.TLS's member secrets differ from what the running members mount:
// TLS turned on or off, or other secrets (perhaps another CA). Members of
// both kinds cannot talk to each other, and replacing them one by one would
// wedge the cluster, so nothing changes until the spec is set back. (To
// rotate certificates, change the Secrets' contents in place: members pick
// them up.)
export const tlsChangeRefused: Rule = ({ cluster }) => {
  const { peerSecret, serverSecret } = cluster.spec.tls
  const live = cluster.pods.filter(p => !p.terminating && p.phase !== 'Failed' && p.phase !== 'Succeeded')
  const differs = live.find(p => p.tls.peerSecret !== peerSecret || p.tls.serverSecret !== serverSecret)
  if (differs === undefined) return undefined
  const running = describe(differs.tls.peerSecret, differs.tls.serverSecret)
  return {
    rule: 'tlsChangeRefused',
    waitingFor: `spec.TLS.static.member set back: it cannot change after creation (${differs.name} runs with ${running}, spec asks for ${describe(peerSecret, serverSecret)})`,
    resyncAfterSeconds: RESYNC_STEADY,
  }
}

function describe (peer: string | undefined, server: string | undefined): string {
  return `peer ${peer === undefined ? 'http' : `TLS from ${peer}`}, client ${server === undefined ? 'http' : `TLS from ${server}`}`
}
