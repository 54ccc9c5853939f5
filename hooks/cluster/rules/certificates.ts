// cert-manager TLS: renewals need nothing from the hook; a new CA does.
//
// What etcd does with certificate files, read in its source
// (pkg/transport/listener.go in 3.4, client/pkg/transport/listener.go in
// 3.5 to 3.7, the same code in each): TLSInfo.baseConfig sets
// tls.Config.GetCertificate (serving) and GetClientCertificate (dialing
// peers, and 3.4's gateway dialing etcd) to load the cert and key files
// again (tlsutil.NewCert) on every new TLS handshake. So a renewed leaf
// certificate, which the kubelet writes into the mounted Secret volume, is
// used from the next connection on: no restart. The trusted CA files are
// read once: ServerConfig and ClientConfig build the CA pool
// (tlsutil.NewCertPool into ClientCAs / RootCAs) when etcd starts its
// listeners and peer transport. A member trusts the CA it started with
// until it restarts.
//
// A new CA therefore breaks members: their certificate files follow the
// Secret to the new CA while they verify everyone against the old one, and
// every new peer or client connection fails. Doing it safely takes two
// rolling restarts (trust both CAs, then issue from the new one), which the
// Secrets cert-manager writes cannot express (ca.crt holds one issuer's
// CA). The hook does not do it: it keeps the issuer the members run with,
// and says so when spec or the CA changes (README, "cert-manager").
import { TRUSTED_CA_ANNOTATION } from '../model.js'
import { issuerInUse, wantedIssuer, type IssuerRef } from '../observe/certificates.js'
import { certificateSecret } from '../names.js'
import { RESYNC_CONVERGING, RESYNC_STEADY, type Rule } from './step.js'

// spec.TLS.certManager.issuerRef differs from the running Certificates':
// they keep the old one (render/certificates.ts), nothing else changes.
export const issuerChangeRefused: Rule = ({ cluster }) => {
  const running = issuerInUse(cluster)
  const wanted = wantedIssuer(cluster)
  if (running === undefined || wanted === undefined || sameIssuer(running, wanted)) return undefined
  return {
    rule: 'issuerChangeRefused',
    waitingFor: `spec.TLS.certManager.issuerRef set back to ${describe(running)}: the members trust its CA, read once at start; ${describe(wanted)} would re-issue every certificate from another CA (README, cert-manager: changing the CA)`,
    resyncAfterSeconds: RESYNC_STEADY,
  }
}

// The CA in the member Secrets is not the one a running member started
// with (same issuer, new CA): no membership change, since a new member
// would trust only the new CA and the running ones only the old.
export const authorityChangeRefused: Rule = ({ cluster }) => {
  if (cluster.trustedCA === undefined) return undefined
  const live = cluster.pods.filter(p => !p.terminating && p.phase !== 'Failed' && p.phase !== 'Succeeded')
  const started = live.filter(p => {
    const fingerprint = p.object.metadata.annotations?.[TRUSTED_CA_ANNOTATION]
    return fingerprint !== undefined && fingerprint !== cluster.trustedCA
  })
  if (started.length === 0) return undefined
  return {
    rule: 'authorityChangeRefused',
    waitingFor: `a CA change done by hand: ca.crt of the member Secrets (CA ${cluster.trustedCA}) is not the CA ${started.map(p => p.name).join(', ')} started with, and etcd reads its trusted CA only at start (README, cert-manager: changing the CA)`,
    resyncAfterSeconds: RESYNC_STEADY,
  }
}

// No member yet and cert-manager has not filled the member Secrets: wait,
// so that every member is created knowing the CA it starts with (and does
// not sit in ContainerCreating meanwhile).
export const waitForCertificates: Rule = ({ cluster }) => {
  if (cluster.spec.tls.certManager === undefined || cluster.trustedCA !== undefined || cluster.pods.length > 0) return undefined
  return {
    rule: 'waitForCertificates',
    waitingFor: `cert-manager to issue Certificates ${certificateSecret(cluster.name, 'peer')} and ${certificateSecret(cluster.name, 'server')} (their Secrets with ca.crt; see kubectl describe certificate)`,
    resyncAfterSeconds: RESYNC_CONVERGING,
  }
}

function sameIssuer (a: IssuerRef, b: IssuerRef): boolean {
  return a.name === b.name && a.kind === b.kind && a.group === b.group
}

function describe (ref: IssuerRef): string {
  return `${ref.kind} ${ref.name}${ref.group !== 'cert-manager.io' ? ` (${ref.group})` : ''}`
}
