// The facade the end-to-end tests use: one World per test file (bridge,
// store, kubelet, services, client namespaces, optionally the hook server)
// and one Cluster per EtcdCluster (its Metacontroller loop and the
// assertions' helpers: steady-state detection, member lists, leader
// monitoring, a writer).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomUUID } from 'node:crypto'
import { Network, removeLeftovers, acquireMachineLock, runId, PREFIX, type Netns } from './network.js'
import { Store, POD, SERVICE, PVC, SECRET, type Obj, type PropagationPolicy } from './store.js'
import { Kubelet } from './kubelet.js'
import { Services, podReady } from './services.js'
import { HookServer, ensureHookBuilt, ROOT } from './hook.js'
import { Metacontroller, PARENT, BACKUP_PARENT, BACKUP_CONTROLLER, formatSync } from './metacontroller.js'
import { ApiServer, JOB } from './apiserver.js'
import { JobController, CRONJOB } from './jobs.js'
import { RUNNER_IMAGE } from './kubelet.js'
import { S3Store } from './s3.js'
import { memberList, memberStatus, put, rangePrefix, type Member, type EtcdTLS, type Via } from './etcd.js'
import { cleanEnv, errorText, run, sleep, waitFor, seconds, tail, type RunResult, type WaitOptions } from './util.js'

export { waitFor, sleep, seconds }

export interface WorldOptions {
  hook?: boolean
  log?: (s: string) => void
  clusterDomain?: string
  // How long to wait for another end-to-end run on this machine.
  lockTimeoutMs?: number
}

let handlersInstalled: World | undefined

// What a static-TLS cluster needs from its user: the three Secrets made
// from scripts/make-tls-certs.sh's files, the spec.TLS pointing at them,
// and a client certificate (the operator's) to reach the members with.
export interface StaticTLS {
  // spec.TLS (static here; certManager from harness/certmanager.ts)
  spec: Record<string, unknown>
  secrets: string[]
  // PEM text, for the harness's own https calls.
  client: EtcdTLS
  // Files, for etcdctl --cacert/--cert/--key.
  files: { cacert: string, cert: string, key: string }
  dir: string
}

export class World {
  readonly dir: string
  readonly store = new Store()
  kubelet!: Kubelet
  services!: Services
  network!: Network
  hook?: HookServer
  // The API server endpoint pods reach (the backup runner's Job PATCH).
  api!: ApiServer
  // kube-controller-manager's Job and CronJob controllers.
  jobs!: JobController
  private s3Store?: S3Store
  clientNs!: Netns
  externalNs!: Netns
  readonly clusters = new Map<string, Cluster>()
  readonly clusterDomain: string
  private releaseLock: () => void = () => {}
  private destroyed = false
  private readonly logLines: string[] = []
  readonly startedAt = Date.now()

  // Where the Metacontroller loops call the hook (it may restart elsewhere).
  hookURL (): string {
    if (!this.hook) throw new Error('no hook server in this world')
    return this.hook.url
  }

  private constructor (
    readonly opts: WorldOptions,
    dir: string,
  ) {
    this.dir = dir
    this.clusterDomain = opts.clusterDomain ?? 'cluster.local'
  }

  log = (s: string): void => {
    const line = `[${((Date.now() - this.startedAt) / 1000).toFixed(1).padStart(6)}s] ${s}`
    this.logLines.push(line)
    if (this.logLines.length > 3000) this.logLines.splice(0, 1000)
    fs.appendFileSync(path.join(this.dir, 'logs', 'harness.log'), line + '\n')
    this.opts.log?.(line)
  }

  static async start (opts: WorldOptions = {}): Promise<World> {
    const releaseLock = await acquireMachineLock(opts.lockTimeoutMs ?? 40 * 60_000, s => opts.log?.(s))
    let w: World | undefined
    try {
      removeLeftovers(s => opts.log?.(s))
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-${runId}-`))
      fs.mkdirSync(path.join(dir, 'logs'), { recursive: true })
      w = new World(opts, dir)
      w.releaseLock = releaseLock
      w.installHandlers()
      w.network = await Network.create()
      w.log(`network: bridge ${w.network.bridge}, ${w.network.subnet}.0/24; files in ${dir}`)
      w.kubelet = new Kubelet(w.store, w.network, dir, w.clusterDomain, w.log)
      w.services = new Services(w.store, w.network, dir, w.clusterDomain, w.log)
      w.api = new ApiServer(w.store, w.network.gateway, dir, w.log)
      await w.api.start()
      w.kubelet.api = { host: w.network.gateway, port: w.api.port, ca: w.api.ca, tokenFor: (ns, sa) => w!.api.tokenFor(ns, sa) }
      w.jobs = new JobController(w.store, w.log)
      w.clientNs = await w.network.addNamespace('client', [w.network.allocIp('infra')], { clusterDns: true })
      w.externalNs = await w.network.addNamespace('ext', [w.network.allocIp('infra')], { clusterDns: false })
      if (opts.hook) {
        await ensureHookBuilt(w.log)
        w.hook = new HookServer(w.network, dir, { RUNNER_IMAGE })
        await w.hook.start()
        w.log(`hook server listening at ${w.hook.url}`)
      }
      return w
    } catch (e) {
      if (w) await w.destroy()
      else releaseLock()
      throw e
    }
  }

  private readonly onExit = () => this.destroySync()
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.destroySync()
    process.exit(sig === 'SIGINT' ? 130 : 143)
  }

  private installHandlers (): void {
    if (handlersInstalled) throw new Error('one World at a time')
    // The one World whose exit and signal handlers are installed.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    handlersInstalled = this
    process.on('exit', this.onExit)
    process.on('SIGINT', this.onSignal)
    process.on('SIGTERM', this.onSignal)
    process.on('SIGHUP', this.onSignal)
  }

  private removeHandlers (): void {
    if (handlersInstalled !== this) return
    handlersInstalled = undefined
    process.off('exit', this.onExit)
    process.off('SIGINT', this.onSignal)
    process.off('SIGTERM', this.onSignal)
    process.off('SIGHUP', this.onSignal)
  }

  // Orderly teardown: loops, pods, proxies, hook, network, files, lock.
  async destroy (): Promise<void> {
    if (this.destroyed) return
    try {
      for (const c of this.clusters.values()) await c.mc.stop()
      this.jobs?.stop()
      await this.s3Store?.stop()
      await this.api?.stop()
      await this.kubelet?.stopAll()
      await this.services?.stopAll()
      await this.hook?.stop()
    } catch (e) {
      this.log(`teardown: ${errorText(e)}`)
    }
    this.destroySync()
  }

  // Synchronous teardown for exit/signal handlers (idempotent).
  destroySync (): void {
    if (this.destroyed) return
    this.destroyed = true
    this.kubelet?.killAllSync()
    this.services?.killAllSync()
    this.hook?.killSync()
    this.s3Store?.killSync()
    this.network?.destroySync()
    const keep = process.env.ETCD_OPERATOR_E2E_KEEP_LOGS
    if (keep) {
      try {
        fs.mkdirSync(keep, { recursive: true })
        fs.cpSync(path.join(this.dir, 'logs'), path.join(keep, `e2e-${runId}`), { recursive: true })
      } catch {
        /* best effort */
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true })
    this.releaseLock()
    this.removeHandlers()
  }

  // ---- clients ----

  // The address a name has in the cluster DNS table.
  resolve (name: string): string | undefined {
    for (const line of this.services.dnsTable().split('\n')) {
      const [ip, ...names] = line.split(/\s+/)
      if (ip && names.includes(name)) return ip
    }
    return /^\d+\.\d+\.\d+\.\d+$/.test(name) ? name : undefined
  }

  // etcdctl (v3) run in the in-cluster client namespace (or the external
  // one), after checking that every endpoint's address is the harness's
  // and routed through that namespace's own veth.
  async etcdctl (args: string[], opts: { endpoints: string | string[], from?: 'client' | 'external', timeoutMs?: number }): Promise<RunResult> {
    const ns = opts.from === 'external' ? this.externalNs : this.clientNs
    const endpoints = Array.isArray(opts.endpoints) ? opts.endpoints : [opts.endpoints]
    for (const ep of endpoints) {
      const host = new URL(ep).hostname
      const ip = opts.from === 'external' ? (/^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : undefined) : this.resolve(host)
      if (!ip) throw new Error(`etcdctl: ${host} does not resolve in the ${opts.from ?? 'client'} namespace`)
      await this.network.assertRoute(ip, ns)
    }
    return this.network.runIn(ns, '/usr/bin/etcdctl', [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=2s', '--command-timeout=5s', ...args], {
      env: cleanEnv({ ETCDCTL_API: '3' }),
      timeoutMs: opts.timeoutMs ?? 15_000,
    })
  }

  // etcdctl, retried until it exits 0 (bounded).
  async etcdctlOk (args: string[], opts: { endpoints: string | string[], from?: 'client' | 'external', timeoutMs?: number, what?: string }): Promise<string> {
    let last: RunResult | undefined
    const r = await waitFor(
      async () => {
        last = await this.etcdctl(args, { ...opts, timeoutMs: 15_000 })
        return last.code === 0 ? { out: last.stdout || last.stderr } : undefined
      },
      { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 500, what: opts.what ?? `etcdctl ${args.join(' ')} to succeed`, describe: () => `last: exit ${last?.code}: ${last?.stderr.trim() ?? ''}` },
    )
    // (stdout; commands such as `endpoint health` print to stderr)
    return r.out
  }

  // `kubectl create secret generic NAME --from-file=DIR`: one key per
  // regular file in DIR, base64 in `data`.
  createSecretFromDir (name: string, dir: string): Obj {
    const data: Record<string, string> = {}
    for (const f of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, f)
      if (fs.statSync(p).isFile()) data[f] = fs.readFileSync(p).toString('base64')
    }
    return this.store.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: this.store.namespace }, type: 'Opaque', data })
  }

  // Certificates for cluster `name` from the repository's own
  // scripts/make-tls-certs.sh, and the three Secrets its output is meant for
  // (`<name>-peer-tls`, `<name>-server-tls`, `<name>-operator-tls`).
  async staticTLS (name: string): Promise<StaticTLS> {
    const dir = path.join(this.dir, 'certs', name)
    const script = path.join(ROOT, 'scripts', 'make-tls-certs.sh')
    const r = await run('bash', [script, name, this.store.namespace, dir, `.${this.clusterDomain}`], { timeoutMs: 60_000 })
    if (r.code !== 0) throw new Error(`${script} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`)
    const secrets = { peer: `${name}-peer-tls`, server: `${name}-server-tls`, operator: `${name}-operator-tls` }
    for (const [kind, secret] of Object.entries(secrets)) this.createSecretFromDir(secret, path.join(dir, kind))
    const files = { cacert: path.join(dir, 'operator', 'etcd-client-ca.crt'), cert: path.join(dir, 'operator', 'etcd-client.crt'), key: path.join(dir, 'operator', 'etcd-client.key') }
    this.log(`certificates for ${name} in ${dir}; Secrets ${Object.values(secrets).join(', ')}`)
    return {
      spec: { static: { member: { peerSecret: secrets.peer, serverSecret: secrets.server }, operatorSecret: secrets.operator } },
      secrets: Object.values(secrets),
      client: { ca: fs.readFileSync(files.cacert, 'utf8'), cert: fs.readFileSync(files.cert, 'utf8'), key: fs.readFileSync(files.key, 'utf8') },
      files,
      dir,
    }
  }

  // s3rver with one bucket, started on first use (one per World).
  async s3 (bucket = 'etcd-backups'): Promise<S3Store> {
    if (!this.s3Store) {
      this.s3Store = new S3Store(this.network, this.dir, bucket)
      await this.s3Store.start()
      this.log(`s3rver at ${this.s3Store.endpoint}, bucket ${bucket}`)
    }
    return this.s3Store
  }

  // An EtcdBackup (`kubectl apply`), synced by the second CompositeController.
  createBackup (name: string, spec: Record<string, unknown>): EtcdBackupRun {
    const b = new EtcdBackupRun(this, name)
    this.store.create({ apiVersion: 'etcd.database.coreos.com/v1beta2', kind: 'EtcdBackup', metadata: { name, namespace: this.store.namespace, generation: 1 }, spec })
    b.mc.start()
    return b
  }

  async createCluster (name: string, spec: Record<string, unknown>, opts: { tls?: StaticTLS } = {}): Promise<Cluster> {
    const c = new Cluster(this, name)
    c.tls = opts.tls
    c.uid = this.store.create({
      apiVersion: 'etcd.database.coreos.com/v1beta2',
      kind: 'EtcdCluster',
      metadata: { name, namespace: this.store.namespace, generation: 1 },
      spec,
    }).metadata.uid ?? ''
    this.clusters.set(name, c)
    c.mc.start()
    return c
  }

  harnessLog (lines = 60): string {
    return this.logLines.slice(-lines).join('\n')
  }
}

export interface SteadyOptions {
  timeoutMs: number
  what?: string
  // When the change was made (for the convergence time); default: now.
  sinceMs?: number
}

export class Cluster {
  readonly mc: Metacontroller
  // Client TLS material when the cluster's members serve https.
  tls?: StaticTLS
  // The EtcdCluster's uid (kept: the object may be gone).
  uid = ''

  constructor (
    readonly world: World,
    readonly name: string,
  ) {
    this.mc = new Metacontroller(world.store, name, world.network, () => world.hookURL(), world.log)
  }

  get parent (): Obj {
    const p = this.world.store.get(PARENT, this.name)
    if (!p) throw new Error(`no EtcdCluster ${this.name}`)
    return p
  }

  get status (): any {
    return this.parent.status ?? {}
  }

  get spec (): any {
    return this.parent.spec
  }

  condition (type: string): any {
    return (this.status.conditions ?? []).find((c: any) => c.type === type)
  }

  // Changes the spec like `kubectl edit` (the generation moves on). Returns
  // the time of the change.
  updateSpec (mutate: (spec: any) => void): number {
    const p = structuredClone(this.parent)
    mutate(p.spec)
    this.world.store.update(p)
    this.world.log(`spec of ${this.name} changed (generation ${this.parent.metadata.generation}): ${JSON.stringify(this.parent.spec)}`)
    return Date.now()
  }

  private ownedBy (o: Obj): boolean {
    return (o.metadata.ownerReferences ?? []).some(r => r.uid === this.uid)
  }

  // Made for this cluster: owned, or released by it (its controller-uid
  // label stays on a child an orphaning delete released).
  private madeFor (o: Obj): boolean {
    return this.ownedBy(o) || o.metadata.labels?.['controller-uid'] === this.uid
  }

  // Pods made for this cluster, owned or released.
  podsMadeFor (): Obj[] {
    return this.world.store.list(POD).filter(o => this.madeFor(o))
  }

  // `kubectl delete etcdcluster NAME [--cascade=orphan]`: the API server's
  // DELETE (the loop goes on while the object stays: finalizers). Returns
  // the time of the deletion.
  deleteParent (propagationPolicy: PropagationPolicy = 'Background'): number {
    this.world.store.delete(PARENT, this.name, { propagationPolicy })
    this.world.log(`EtcdCluster ${this.name} deleted (propagation ${propagationPolicy})`)
    return Date.now()
  }

  // Adds (or removes) a finalizer of the test's own on the EtcdCluster: it
  // then stays, being deleted, until the finalizer goes.
  setFinalizer (name: string, present: boolean): void {
    const p = structuredClone(this.parent)
    const rest = (p.metadata.finalizers ?? []).filter(f => f !== name)
    p.metadata.finalizers = present ? [...rest, name] : rest
    this.world.store.update(p)
  }

  children (key: string): Obj[] {
    return this.world.store.list(key).filter(o => this.ownedBy(o))
  }

  pods (): Obj[] {
    return this.children(POD)
  }

  livePods (): Obj[] {
    return this.pods().filter(p => !p.metadata.deletionTimestamp)
  }

  pod (name: string): Obj | undefined {
    return this.pods().find(p => p.metadata.name === name)
  }

  podIP (name: string): string | undefined {
    return this.pod(name)?.status?.podIP
  }

  service (name: string): Obj | undefined {
    return this.children(SERVICE).find(s => s.metadata.name === name)
  }

  get clientIP (): string | undefined {
    return this.service(`${this.name}-client`)?.spec?.clusterIP
  }

  // How the harness reaches a member (by its pod name) or, without one,
  // the client Service: https with the client certificate when the cluster
  // has client TLS, checking the name the member's certificate carries.
  via (pod?: string): Via {
    if (!this.tls) return {}
    return { tls: this.tls.client, servername: pod ? `${pod}.${this.name}.${this.world.store.namespace}.svc` : `${this.name}-client` }
  }

  // http or https, as the members serve clients.
  get scheme (): 'http' | 'https' {
    return this.tls ? 'https' : 'http'
  }

  // etcdctl flags for this cluster's client TLS (none without it).
  etcdctlTLS (): string[] {
    return this.tls ? [`--cacert=${this.tls.files.cacert}`, `--cert=${this.tls.files.cert}`, `--key=${this.tls.files.key}`] : []
  }

  expectedImage (spec = this.spec): string {
    const repo = spec.repository ?? 'quay.io/coreos/etcd'
    return `${repo}:v${String(spec.version).replace(/^v/, '')}`
  }

  // The member list as a ready member sees it (asked of the pods made for
  // this cluster: also those an orphaning delete released).
  async members (): Promise<{ clusterId: string, members: Member[] } | undefined> {
    const live = this.podsMadeFor().filter(p => !p.metadata.deletionTimestamp)
    const ready = live.filter(podReady)
    for (const p of ready.length ? ready : live) {
      if (!p.status?.podIP) continue
      try {
        return await memberList(this.world.network, p.status.podIP, 2000, this.via(p.metadata.name))
      } catch {
        /* try the next */
      }
    }
    return undefined
  }

  // The pod whose member says it leads (asked of every live pod).
  async leader (): Promise<string | undefined> {
    const found = await Promise.all(
      this.livePods().map(async p => {
        if (!p.status?.podIP) return undefined
        try {
          const s = await memberStatus(this.world.network, p.status.podIP, 800, this.via(p.metadata.name))
          return s.memberId === s.leader && s.leader !== '0' ? p.metadata.name : undefined
        } catch {
          return undefined
        }
      }),
    )
    return found.find(x => x)
  }

  // Why the cluster is not steady yet (undefined when it is): status
  // current and Available with nothing in progress (no Scaling, Upgrading,
  // Recovering, no status.members.outdated), `size` ready pods of the
  // expected image and nothing terminating, etcd's member list equal to the
  // pods (all started, no learner), and a fresh sync of this world that
  // changes nothing (no child write, same status).
  // With `upgradeBlocked`, an Upgrading condition whose reason is
  // UpgradeBlocked is allowed (pods then run the cluster's version, `image`).
  async notSteady (expect: { size?: number, image?: string, upgradeBlocked?: boolean } = {}): Promise<string | undefined> {
    const p = this.parent
    const st = p.status
    if (!st) return 'no status yet'
    if (st.observedGeneration !== p.metadata.generation) return `observedGeneration ${st.observedGeneration} != generation ${p.metadata.generation}`
    const avail = this.condition('Available')
    if (avail?.status !== 'True') return `Available is ${avail?.status ?? 'missing'} (${avail?.reason ?? ''}: ${avail?.message ?? ''})`
    for (const t of ['Scaling', 'Upgrading', 'Recovering']) {
      const cond = this.condition(t)
      if (cond?.status === 'True' && !(t === 'Upgrading' && expect.upgradeBlocked && cond.reason === 'UpgradeBlocked')) return `${t} is True (${cond.reason ?? ''})`
    }
    // A pod-policy rollout shows only here (no condition says it).
    if ((st.members?.outdated ?? []).length > 0) return `members made from an old pod policy: ${st.members.outdated.join(', ')}`
    const size = expect.size ?? p.spec.size
    const image = expect.image ?? this.expectedImage()
    const pods = this.pods()
    if (pods.some(x => x.metadata.deletionTimestamp)) return 'a pod is terminating'
    if (pods.length !== size) return `${pods.length} pods, want ${size}`
    for (const x of pods) {
      if (x.status?.phase !== 'Running' || !podReady(x)) return `pod ${x.metadata.name} is ${x.status?.phase}${podReady(x) ? '' : ', not ready'}`
      const img = x.spec?.containers?.[0]?.image
      const running = x.status?.containerStatuses?.[0]?.image
      if (img !== image || running !== image) return `pod ${x.metadata.name} runs ${running} (spec ${img}), want ${image}`
    }
    const ml = await this.members()
    if (!ml) return 'member list unreachable'
    const names = ml.members.map(m => m.name).sort()
    const podNames = pods.map(x => x.metadata.name).sort()
    if (ml.members.some(m => m.isLearner)) return `learner(s) in the member list: ${ml.members.filter(m => m.isLearner).map(m => m.name || m.peerURLs.join()).join(', ')}`
    if (names.join() !== podNames.join()) return `members [${names.join(', ')}] != pods [${podNames.join(', ')}]`
    if ((st.members?.ready ?? []).length !== size) return `status.members.ready has ${(st.members?.ready ?? []).length}, want ${size}`
    if (this.mc.busy) return 'a sync is running'
    // A sync of a lagging parent sees an older status and may write one
    // that differs from the newest for that reason alone (conditions'
    // lastTransitionTime, lastAction): "one more sync changes nothing" is
    // asked of a sync that sees the parent as it is.
    if (!this.mc.parentCaughtUp()) return 'the parent informer lags behind the store'
    const rec = await this.mc.nextSync()
    if (rec.error) return `sync #${rec.n} failed: ${rec.error}`
    if (rec.creates.length + rec.updates.length + rec.deletes.length) return `sync #${rec.n} still changed children: ${[...rec.creates, ...rec.updates, ...rec.deletes].join(', ')}`
    if (rec.statusChanged) return `sync #${rec.n} changed the status`
    return undefined
  }

  // Waits for a steady cluster; returns the convergence time in seconds
  // (from `sinceMs` to the first moment everything above held).
  async waitSteady (opts: SteadyOptions & { size?: number, image?: string, upgradeBlocked?: boolean }): Promise<number> {
    const since = opts.sinceMs ?? Date.now()
    let reason: string | undefined = 'not checked yet'
    let steadyAt = 0
    await waitFor(
      async () => {
        const checkStart = Date.now()
        const why = await this.notSteady(opts)
        if (why !== reason) this.world.log(`${this.name}: ${why ? `not steady: ${why}` : 'steady'}`)
        reason = why
        if (reason) return false
        steadyAt = checkStart
        return true
      },
      { timeoutMs: opts.timeoutMs, intervalMs: 300, what: opts.what ?? `cluster ${this.name} to be steady`, describe: () => `not steady because: ${reason}\n${this.describe()}` },
    )
    return seconds(steadyAt - since)
  }

  waitFor<T> (predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>, opts: WaitOptions): Promise<T> {
    return waitFor(predicate, { describe: () => this.describe(), ...opts })
  }

  // Everything a failing assertion should print.
  describe (): string {
    const out: string[] = []
    const p = this.world.store.get(PARENT, this.name)
    out.push(`EtcdCluster ${this.name} generation ${p?.metadata.generation}: spec ${JSON.stringify(p?.spec)}`)
    out.push(`status: ${JSON.stringify(p?.status)}`)
    for (const x of this.pods()) {
      const cs = x.status?.containerStatuses?.[0]
      out.push(
        `pod ${x.metadata.name}: ${x.status?.phase}${podReady(x) ? ' Ready' : ' NotReady'}${x.metadata.deletionTimestamp ? ' Terminating' : ''} ip=${x.status?.podIP ?? '-'} image=${cs?.image ?? x.spec?.containers?.[0]?.image} restarts=${cs?.restartCount ?? 0} state=${JSON.stringify(cs?.state ?? {})}`,
      )
    }
    for (const key of this.mc.def.childTypes.filter(k => k !== POD)) for (const o of this.children(key)) out.push(`${key} ${o.metadata.name}${o.metadata.deletionTimestamp ? ' (deleting)' : ''}`)
    for (const cj of this.children(CRONJOB)) out.push(...describeJobs(this.world, this.world.jobs.jobsOf(cj)))
    out.push('last syncs:')
    for (const r of this.mc.records.slice(-15)) out.push('  ' + formatRecord(r))
    if (this.mc.violations.length) out.push(`contract violations: ${this.mc.violations.slice(-10).join(' | ')}`)
    if (this.mc.rejectedUpdates.length) out.push(`rejected updates: ${this.mc.rejectedUpdates.slice(-10).join(' | ')}`)
    if (this.world.hook) out.push(`hook log (tail):\n${this.world.hook.logTail(25)}`)
    out.push(`harness log (tail):\n${this.world.harnessLog(25)}`)
    return out.join('\n')
  }

  // The etcd log of a pod (tail).
  podLog (name: string, lines = 30): string {
    const dir = path.join(this.world.dir, 'logs')
    const files = fs.readdirSync(dir).filter(f => f.startsWith(`${name}-`))
    return files.map(f => `== ${f}\n${tail(fs.readFileSync(path.join(dir, f), 'utf8'), lines)}`).join('\n')
  }

  // Deletes the EtcdCluster: its loop stops and the garbage collector
  // removes its children (pods terminate), and whatever an orphaning
  // delete released of them.
  async delete (): Promise<void> {
    await this.mc.stop()
    const store = this.world.store
    for (const key of this.mc.def.childTypes) {
      for (const o of store.list(key).filter(x => this.madeFor(x))) {
        try {
          store.delete(key, o.metadata.name)
        } catch {
          /* gone */
        }
      }
    }
    store.remove(PARENT, this.name)
    this.world.clusters.delete(this.name)
    await waitFor(() => store.list(POD).filter(p => this.madeFor(p) || (p.metadata.ownerReferences ?? []).some(r => r.name === this.name)).length === 0, { timeoutMs: 30_000, what: `pods of ${this.name} to go` })
    for (const key of [PVC]) for (const o of store.list(key)) if (this.madeFor(o) || (o.metadata.ownerReferences ?? []).some(r => r.name === this.name)) store.remove(key, o.metadata.name)
    // The user's Secrets (not owned by the cluster) go with the test.
    for (const name of this.tls?.secrets ?? []) store.remove(SECRET, name)
    await this.world.services.settled()
  }

  // ---- activity helpers ----

  leaderMonitor (intervalMs = 250): LeaderMonitor {
    return new LeaderMonitor(this, intervalMs)
  }

  writer (prefix: string): Writer {
    return new Writer(this, prefix)
  }

  membershipMonitor (intervalMs = 200): MembershipMonitor {
    return new MembershipMonitor(this, intervalMs)
  }

  // Every key under `prefix`, from each live member's own store (released
  // pods included).
  async readEveryMember (prefix: string): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>()
    for (const p of this.podsMadeFor().filter(x => !x.metadata.deletionTimestamp)) {
      if (!p.status?.podIP) throw new Error(`pod ${p.metadata.name} has no address`)
      out.set(p.metadata.name, await rangePrefix(this.world.network, p.status.podIP, prefix, { serializable: true, via: this.via(p.metadata.name) }))
    }
    return out
  }
}

export const formatRecord = formatSync

// Polls every member's status and records who leads when, and the longest
// stretch during which no member claimed leadership.
// Calls poll() every intervalMs until stopped (the first call once the
// subclass is constructed).
abstract class Poller {
  private stopped = false
  private readonly done: Promise<void>

  constructor (
    protected readonly cluster: Cluster,
    private readonly intervalMs: number,
  ) {
    this.done = Promise.resolve().then(() => this.loop())
  }

  protected abstract poll (): Promise<void>

  private async loop (): Promise<void> {
    while (!this.stopped) {
      const t0 = Date.now()
      await this.poll()
      await sleep(Math.max(0, this.intervalMs - (Date.now() - t0)))
    }
  }

  async stop (): Promise<void> {
    this.stopped = true
    await this.done
  }
}

export class LeaderMonitor extends Poller {
  readonly timeline: Array<{ atMs: number, leader: string | undefined }> = []
  private lastLeaderAt = Date.now()
  maxGapMs = 0

  protected async poll (): Promise<void> {
    const leader = await this.cluster.leader()
    const now = Date.now()
    const prev = this.timeline[this.timeline.length - 1]
    if (!prev || prev.leader !== leader) this.timeline.push({ atMs: now, leader })
    this.maxGapMs = Math.max(this.maxGapMs, now - this.lastLeaderAt)
    if (leader) this.lastLeaderAt = now
  }

  leaderAt (ms: number): string | undefined {
    let cur: string | undefined
    for (const e of this.timeline) {
      if (e.atMs > ms) break
      cur = e.leader
    }
    return cur
  }
}

// Polls etcd's member list and records every change of it: how many
// voters and learners, and the fewest voters / most members ever seen.
export class MembershipMonitor extends Poller {
  readonly timeline: Array<{ atMs: number, voters: string[], learners: string[] }> = []
  minVoters = Infinity
  maxMembers = 0
  polls = 0
  // Polls that found a learner's pod behind the client Service (a client
  // sent there gets "rpc not supported for learner"), and which pods.
  learnerRoutes = 0
  readonly learnersRouted = new Set<string>()

  protected async poll (): Promise<void> {
    const ml = await this.cluster.members()
    if (!ml) return
    this.polls++
    const label = (m: Member) => m.name || `(unstarted ${m.peerURLs.join()})`
    const voters = ml.members.filter(m => !m.isLearner).map(label).sort()
    const learners = ml.members.filter(m => m.isLearner).map(label).sort()
    this.minVoters = Math.min(this.minVoters, voters.length)
    this.maxMembers = Math.max(this.maxMembers, ml.members.length)
    const prev = this.timeline[this.timeline.length - 1]
    if (prev?.voters.join() !== voters.join() || prev.learners.join() !== learners.join()) this.timeline.push({ atMs: Date.now(), voters, learners })
    const client = this.cluster.world.store.get(SERVICE, `${this.cluster.name}-client`)
    const routed = client ? Object.values(this.cluster.world.services.routes(client)).flat() : []
    const behind = ml.members.filter(m => m.isLearner && m.name).map(m => m.name).filter(name => {
      const ip = this.cluster.podIP(name)
      return ip !== undefined && routed.some(r => r.startsWith(`${ip}:`))
    })
    if (behind.length > 0) {
      this.learnerRoutes++
      for (const name of behind) this.learnersRouted.add(name)
    }
  }

  // One line per change: "voters a,b,c + learners d".
  describe (sinceMs = 0): string {
    return this.timeline
      .map(e => `+${((e.atMs - sinceMs) / 1000).toFixed(1)}s ${e.voters.length} voters [${e.voters.join(', ')}]${e.learners.length ? ` + learner [${e.learners.join(', ')}]` : ''}`)
      .join('\n')
  }
}

// Writes keys one after another through the client Service's cluster IP
// (the v3 JSON gateway) and remembers which writes etcd acknowledged.
export class Writer {
  readonly acked: string[] = []
  failures = 0
  private seq = 0
  private stopped = false
  private done?: Promise<void>
  lastError = ''
  maxAckGapMs = 0

  constructor (
    private readonly cluster: Cluster,
    private readonly prefix: string,
  ) {}

  start (): this {
    this.done = this.loop()
    return this
  }

  private async loop (): Promise<void> {
    let lastAck = Date.now()
    while (!this.stopped) {
      const ip = this.cluster.clientIP
      if (!ip) {
        await sleep(200)
        continue
      }
      const key = `${this.prefix}${String(this.seq++).padStart(6, '0')}`
      try {
        await put(this.cluster.world.network, ip, key, `value-${randomUUID()}`, 3000, this.cluster.via())
        this.acked.push(key)
        this.maxAckGapMs = Math.max(this.maxAckGapMs, Date.now() - lastAck)
        lastAck = Date.now()
      } catch (e) {
        this.failures++
        this.lastError = errorText(e)
        await sleep(100)
      }
      await sleep(30)
    }
  }

  async stop (): Promise<void> {
    this.stopped = true
    await this.done
  }
}

// Each Job with its status and annotations, and its pod's containers.
export function describeJobs (world: World, jobs: Obj[]): string[] {
  const out: string[] = []
  for (const j of jobs) {
    out.push(`Job ${j.metadata.name}: status ${JSON.stringify(j.status ?? {})} annotations ${JSON.stringify(j.metadata.annotations ?? {})}`)
    for (const p of world.store.list(POD).filter(x => (x.metadata.ownerReferences ?? []).some(r => r.uid === j.metadata.uid))) {
      const states = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].map((c: any) => `${c.name}=${JSON.stringify(c.state)}`)
      out.push(`  pod ${p.metadata.name}: ${p.status?.phase} ${states.join(' ')}`)
    }
  }
  return out
}

// An EtcdBackup and its Metacontroller loop (the second CompositeController).
export class EtcdBackupRun {
  readonly mc: Metacontroller

  constructor (
    readonly world: World,
    readonly name: string,
  ) {
    this.mc = new Metacontroller(world.store, name, world.network, () => world.hookURL(), world.log, BACKUP_CONTROLLER)
  }

  get parent (): Obj | undefined {
    return this.world.store.get(BACKUP_PARENT, this.name)
  }

  get status (): any {
    return this.parent?.status ?? {}
  }

  job (): Obj | undefined {
    const uid = this.parent?.metadata.uid
    return this.world.store.list(JOB).find(j => (j.metadata.ownerReferences ?? []).some(r => r.uid === uid))
  }

  describe (): string {
    const job = this.job()
    return [
      `EtcdBackup ${this.name}: spec ${JSON.stringify(this.parent?.spec)}`,
      `status: ${JSON.stringify(this.status)}`,
      ...describeJobs(this.world, job ? [job] : []),
      'last syncs:',
      ...this.mc.records.slice(-10).map(r => '  ' + formatSync(r)),
      `harness log (tail):\n${this.world.harnessLog(25)}`,
    ].join('\n')
  }

  // `kubectl delete etcdbackup`: its children go with it.
  async delete (): Promise<void> {
    await this.mc.stop()
    const uid = this.parent?.metadata.uid
    this.world.store.remove(BACKUP_PARENT, this.name)
    await waitFor(() => !this.world.store.list(POD).some(p => this.world.store.list(JOB).some(j => (j.metadata.ownerReferences ?? []).some(r => r.uid === uid) && (p.metadata.ownerReferences ?? []).some(r => r.uid === j.metadata.uid))), { timeoutMs: 30_000, what: `pods of EtcdBackup ${this.name} to go` })
  }
}
