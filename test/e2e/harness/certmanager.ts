// A stand-in for cert-manager with a CA Issuer: it watches the store for
// Certificates (cert-manager.io/v1), issues each with openssl from one CA
// (a key of the asked algorithm, the Certificate's commonName, dnsNames,
// ipAddresses and usages, -days from its duration) and writes the Secret it
// names as cert-manager does: type kubernetes.io/tls with tls.crt, tls.key
// and ca.crt, updated in place on each renewal. A Certificate whose spec
// changes is issued again, as cert-manager re-issues on a spec change;
// `renew(name)` is `cmctl renew`. Status: Ready, revision, notAfter.
//
// Also a client certificate of the same CA for the test's own calls (like
// a user's etcdctl certificate), which a renewal leaves valid.
import fs from 'node:fs'
import path from 'node:path'
import { declareChildType } from './metacontroller.js'
import { SECRET, type Obj, type Store, type WatchEvent } from './store.js'
import { runOk } from './util.js'
import type { StaticTLS } from './world.js'

export const CERTIFICATE = 'Certificate.cert-manager.io/v1'

// What the Metacontroller stand-in must know: Certificates are children.
export function declareCertificates (): void {
  declareChildType(CERTIFICATE, 'cert-manager.io/v1', 'certificates', 'InPlace')
}

const EKU: Record<string, string> = { 'server auth': 'serverAuth', 'client auth': 'clientAuth' }
const KEY_USAGE: Record<string, string> = { 'digital signature': 'digitalSignature', 'key encipherment': 'keyEncipherment' }

export class CertManager {
  // Issuances per Certificate name (1 = first issue).
  readonly issued = new Map<string, number>()
  readonly errors: string[] = []
  private queue: Promise<void> = Promise.resolve()
  private caKey: string
  private caCert: string
  private caGeneration = 1
  private readonly onEvent = (ev: WatchEvent): void => {
    if (ev.key !== CERTIFICATE || ev.type === 'deleted') return
    const changed = ev.old === undefined || JSON.stringify(ev.old.spec) !== JSON.stringify(ev.obj.spec)
    if (changed) this.enqueue(ev.obj.metadata.name)
  }

  private constructor (private readonly store: Store, private readonly dir: string, private readonly log: (s: string) => void) {
    this.caKey = path.join(dir, 'ca.key')
    this.caCert = path.join(dir, 'ca.crt')
  }

  static async start (store: Store, dir: string, log: (s: string) => void): Promise<CertManager> {
    fs.mkdirSync(dir, { recursive: true })
    const cm = new CertManager(store, dir, log)
    await cm.makeCA()
    store.on('event', cm.onEvent)
    return cm
  }

  private async makeCA (): Promise<void> {
    await runOk('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=e2e cert-manager CA ${this.caGeneration}`, '-keyout', this.caKey, '-out', this.caCert])
  }

  // The issuer's CA replaced (a new CA Secret behind the same Issuer), and
  // the Certificates named re-issued from it: what a CA rotation by hand
  // does. Later certificates come from the new CA.
  async rotateCA (certificates: string[]): Promise<void> {
    await this.queue
    this.caGeneration++
    this.caKey = path.join(this.dir, `ca-${this.caGeneration}.key`)
    this.caCert = path.join(this.dir, `ca-${this.caGeneration}.crt`)
    await this.makeCA()
    this.log(`cert-manager: the issuer's CA is now ${this.caCert}`)
    await Promise.all(certificates.map(name => this.renew(name)))
  }

  // A client certificate of the current CA, in `dir` (tls.crt, tls.key).
  async clientCertificate (dir: string): Promise<{ cacert: string, cert: string, key: string }> {
    fs.mkdirSync(dir, { recursive: true })
    const files = { cacert: this.caCert, cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') }
    await this.sign({ commonName: 'e2e-test-client', usages: ['digital signature', 'client auth'] }, files.cert, files.key)
    return files
  }

  stop (): void {
    this.store.off('event', this.onEvent)
  }

  // `cmctl renew NAME`: a new key and certificate, same CA.
  renew (name: string): Promise<void> {
    return this.enqueue(name)
  }

  // Everything queued so far has been issued.
  settled (): Promise<void> {
    return this.queue
  }

  // The client certificate for the harness's own calls, and the spec.TLS
  // a cluster asks with (as World.staticTLS gives for static TLS).
  async clusterTLS (secrets: string[], spec: Record<string, unknown>): Promise<StaticTLS> {
    const dir = path.join(this.dir, `test-client-${this.caGeneration}`)
    const files = await this.clientCertificate(dir)
    const read = (f: string) => fs.readFileSync(f, 'utf8')
    return { spec, secrets, client: { ca: read(files.cacert), cert: read(files.cert), key: read(files.key) }, files, dir }
  }

  private enqueue (name: string): Promise<void> {
    this.queue = this.queue.then(() => this.issue(name)).catch(e => {
      this.errors.push(`${name}: ${String(e instanceof Error ? e.message : e)}`)
      this.log(`cert-manager: issuing ${name} failed: ${String(e)}`)
    })
    return this.queue
  }

  private async issue (name: string): Promise<void> {
    const cert = this.store.get(CERTIFICATE, name)
    if (cert === undefined) return
    const spec = cert.spec as CertificateSpec
    const dir = path.join(this.dir, name)
    fs.mkdirSync(dir, { recursive: true })
    const certFile = path.join(dir, 'tls.crt')
    const keyFile = path.join(dir, 'tls.key')
    await this.sign(spec, certFile, keyFile)
    const data = {
      'tls.crt': fs.readFileSync(certFile).toString('base64'),
      'tls.key': fs.readFileSync(keyFile).toString('base64'),
      'ca.crt': fs.readFileSync(this.caCert).toString('base64'),
    }
    this.writeSecret(spec.secretName, name, data)
    const revision = (this.issued.get(name) ?? 0) + 1
    this.issued.set(name, revision)
    const notAfter = (await runOk('openssl', ['x509', '-in', certFile, '-noout', '-enddate'])).trim().replace(/^notAfter=/, '')
    this.store.updateStatus(CERTIFICATE, name, {
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'Certificate is up to date and has not expired' }],
      revision,
      notAfter: new Date(notAfter).toISOString().replace(/\.\d+Z$/, 'Z'),
    })
    this.log(`cert-manager: issued ${name} (revision ${revision}) into Secret ${spec.secretName}`)
  }

  private writeSecret (secretName: string, certificate: string, data: Record<string, string>): void {
    const existing = this.store.get(SECRET, secretName)
    const secret: Obj = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { ...(existing?.metadata ?? { name: secretName, namespace: this.store.namespace }), annotations: { 'cert-manager.io/certificate-name': certificate } },
      type: 'kubernetes.io/tls',
      data,
    }
    if (existing) this.store.update(secret)
    else this.store.create(secret)
  }

  // A key as privateKey asks (cert-manager's default: RSA 2048), a CSR,
  // and the CA's signature with the Certificate's names and usages.
  private async sign (spec: Pick<CertificateSpec, 'commonName' | 'dnsNames' | 'ipAddresses' | 'usages' | 'duration' | 'privateKey'>, certFile: string, keyFile: string): Promise<void> {
    const algorithm = spec.privateKey?.algorithm ?? 'RSA'
    const keyArgs = algorithm === 'ECDSA'
      ? ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${spec.privateKey?.size === 384 ? 'secp384r1' : 'prime256v1'}`]
      : algorithm === 'Ed25519' ? ['-newkey', 'ed25519'] : ['-newkey', `rsa:${spec.privateKey?.size ?? 2048}`]
    const csr = `${certFile}.csr`
    await runOk('openssl', ['req', ...keyArgs, '-nodes', '-subj', `/CN=${spec.commonName ?? 'etcd'}`, '-keyout', keyFile, '-out', csr])
    const sans = [...(spec.dnsNames ?? []).map(n => `DNS:${n}`), ...(spec.ipAddresses ?? []).map(ip => `IP:${ip}`)]
    const usages = spec.usages ?? ['digital signature', 'key encipherment']
    const ext = [
      `keyUsage=critical,${usages.map(u => KEY_USAGE[u]).filter(Boolean).join(',')}`,
      `extendedKeyUsage=${usages.map(u => EKU[u]).filter(Boolean).join(',')}`,
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
    ].join('\n')
    const extFile = `${certFile}.ext`
    fs.writeFileSync(extFile, `${ext}\n`)
    const days = Math.max(1, Math.ceil(hours(spec.duration ?? '2160h') / 24))
    await runOk('openssl', ['x509', '-req', '-in', csr, '-CA', this.caCert, '-CAkey', this.caKey, '-CAcreateserial', '-days', String(days), '-out', certFile, '-extfile', extFile])
    fs.rmSync(csr, { force: true })
  }
}

interface CertificateSpec {
  secretName: string
  commonName?: string
  dnsNames?: string[]
  ipAddresses?: string[]
  usages?: string[]
  duration?: string
  privateKey?: { algorithm?: string, size?: number }
}

// Hours in a Go duration of h/m/s parts (enough for -days).
function hours (duration: string): number {
  let h = 0
  for (const [, n, unit] of duration.matchAll(/([0-9.]+)(h|m|s)/g)) h += Number(n) / (unit === 'h' ? 1 : unit === 'm' ? 60 : 3600)
  return h
}
