// The API server's HTTPS endpoint as a pod sees it (KUBERNETES_SERVICE_HOST
// and _PORT, the service account token and CA the kubelet mounts), for the
// one call pods of ours make: the backup runner's JSON merge patch of its own
// Job's annotations (hooks/runner/job.ts). It listens on the bridge's own
// address (the host side of the harness bridge: pods reach it on-link) with
// a certificate from a CA made for this run. Each request is
// authenticated (a token the kubelet mounted: which service account) and
// authorized against the Roles and RoleBindings in the store, as RBAC does
// (the hook's Role must allow `patch` on `jobs` in the pod's namespace);
// only then the patch is applied to the stored Job, whose watchers
// (Metacontroller) see the new annotations. Everything else is refused.
import fs from 'node:fs'
import https from 'node:https'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiError, type Obj, type Store } from './store.js'
import { runOk } from './util.js'

export const JOB = 'Job.batch/v1'
export const ROLE = 'Role.rbac.authorization.k8s.io/v1'
export const ROLEBINDING = 'RoleBinding.rbac.authorization.k8s.io/v1'
export const SERVICEACCOUNT = 'ServiceAccount.v1'
const PORT = 6443

export interface ApiRequest {
  method: string
  path: string
  user: string
  code: number
  message: string
}

interface Rule { apiGroups?: string[], resources?: string[], verbs?: string[] }

export class ApiServer {
  readonly requests: ApiRequest[] = []
  private server?: https.Server
  private readonly tokens = new Map<string, { namespace: string, name: string }>()
  ca = ''

  constructor (
    private readonly store: Store,
    readonly host: string,
    private readonly dir: string,
    private readonly log: (s: string) => void,
  ) {}

  get port (): number {
    return PORT
  }

  async start (): Promise<void> {
    const d = path.join(this.dir, 'apiserver')
    fs.mkdirSync(d, { recursive: true })
    const f = (n: string) => path.join(d, n)
    await runOk('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=e2e-kubernetes-ca'])
    await runOk('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=kube-apiserver'])
    fs.writeFileSync(f('ext.cnf'), `subjectAltName=IP:${this.host},DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n`)
    await runOk('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '1', '-extfile', f('ext.cnf')])
    this.ca = fs.readFileSync(f('ca.crt'), 'utf8')
    this.server = https.createServer({ key: fs.readFileSync(f('server.key')), cert: fs.readFileSync(f('server.crt')) }, (req, res) => this.handle(req, res))
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(PORT, this.host, () => resolve())
    })
    this.log(`api server endpoint https://${this.host}:${PORT}`)
  }

  async stop (): Promise<void> {
    const s = this.server
    if (!s) return
    s.closeAllConnections()
    await new Promise<void>(resolve => s.close(() => resolve()))
  }

  // The token the kubelet mounts for a pod running as this service account.
  tokenFor (namespace: string, name: string): string {
    for (const [token, sa] of this.tokens) if (sa.namespace === namespace && sa.name === name) return token
    const token = randomBytes(24).toString('hex')
    this.tokens.set(token, { namespace, name })
    return token
  }

  private handle (req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const { code, message, user } = this.answer(req, Buffer.concat(chunks).toString('utf8'))
      this.requests.push({ method: req.method ?? '', path: req.url ?? '', user, code, message })
      this.log(`api server: ${req.method} ${req.url} by ${user}: ${code}${code < 300 ? '' : ` ${message}`}`)
      const body = code < 300 ? message : JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code })
      res.writeHead(code, { 'Content-Type': 'application/json' }).end(body)
    })
  }

  private answer (req: IncomingMessage, body: string): { code: number, message: string, user: string } {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const sa = token ? this.tokens.get(token) : undefined
    if (!sa) return { code: 401, message: 'Unauthorized', user: 'system:anonymous' }
    const user = `system:serviceaccount:${sa.namespace}:${sa.name}`
    const m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs\/([^/?]+)$/.exec(req.url ?? '')
    if (!m || req.method !== 'PATCH') return { code: 404, message: `the harness's API server serves only PATCH of jobs (got ${req.method} ${req.url})`, user }
    const [namespace, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)]
    if (!this.allowed(sa, namespace, 'batch', 'jobs', 'patch')) {
      return { code: 403, message: `jobs.batch "${name}" is forbidden: User "${user}" cannot patch resource "jobs" in API group "batch" in the namespace "${namespace}"`, user }
    }
    if (req.headers['content-type'] !== 'application/merge-patch+json') return { code: 415, message: `unsupported patch type ${req.headers['content-type']}`, user }
    try {
      return { code: 200, message: JSON.stringify(this.patchJob(namespace, name, JSON.parse(body))), user }
    } catch (e) {
      if (e instanceof ApiError) return { code: e.code, message: e.message, user }
      return { code: 400, message: String(e), user }
    }
  }

  // RBAC: a RoleBinding in `namespace` with this service account as a
  // subject, whose Role has a rule for the group, resource and verb.
  private allowed (sa: { namespace: string, name: string }, namespace: string, group: string, resource: string, verb: string): boolean {
    const has = (list: string[] | undefined, v: string) => (list ?? []).includes(v) || (list ?? []).includes('*')
    return this.store.list(ROLEBINDING).filter(b => b.metadata.namespace === namespace).some(b => {
      const subjects = (b as any).subjects as Array<{ kind: string, name: string, namespace?: string }> | undefined
      if (!(subjects ?? []).some(s => s.kind === 'ServiceAccount' && s.name === sa.name && (s.namespace ?? namespace) === sa.namespace)) return false
      const ref = (b as any).roleRef as { kind: string, name: string } | undefined
      const role = ref?.kind === 'Role' ? this.store.get(ROLE, ref.name) : undefined
      const rules = ((role as any)?.rules ?? []) as Rule[]
      return rules.some(r => has(r.apiGroups, group) && has(r.resources, resource) && has(r.verbs, verb))
    })
  }

  // A JSON merge patch (RFC 7386) of the Job's labels and annotations.
  private patchJob (namespace: string, name: string, patch: any): Obj {
    const job = this.store.get(JOB, name)
    if (job?.metadata.namespace !== namespace || !job) throw new ApiError(404, `jobs.batch "${name}" not found`)
    const extra = Object.keys(patch ?? {}).filter(k => k !== 'metadata').concat(Object.keys(patch?.metadata ?? {}).filter(k => k !== 'annotations' && k !== 'labels').map(k => `metadata.${k}`))
    if (extra.length) throw new ApiError(422, `the harness patches only metadata.labels and metadata.annotations, not ${extra.join(', ')}`)
    const next = structuredClone(job)
    for (const field of ['annotations', 'labels'] as const) {
      const p = patch.metadata?.[field]
      if (p === undefined) continue
      const merged: Record<string, string> = { ...(next.metadata[field] ?? {}) }
      for (const [k, v] of Object.entries(p as Record<string, unknown>)) {
        if (v === null) delete merged[k]
        else if (typeof v === 'string') merged[k] = v
        else throw new ApiError(400, `metadata.${field}.${k}: a string or null, got ${JSON.stringify(v)}`)
      }
      next.metadata[field] = merged
    }
    return this.store.update(next)
  }
}
