// A stand-in for Metacontroller's CompositeController loop, for one parent:
// it calls the hook the way Metacontroller v4 does (v1 hook: children keyed
// `<Kind>.<apiVersion>` then by name, every declared type present). Before
// a sync it asks the customize hook (`POST /customize` with {controller,
// parent}, once per parent generation, as Metacontroller caches it) which
// related objects to send, and sends them in `related` (`Secret.v1` by
// name). It applies a 200 response the same way Metacontroller does:
// - desired children get the `controller-uid` label (generateSelector) and,
//   when created, the last-applied annotation and a controller
//   ownerReference;
// - observed children missing from the response are deleted (unless already
//   being deleted); the rest are created or, per the child type's update
//   strategy, updated with a kubectl-style 3-way merge (no update when the
//   merge changes nothing, none while the child is being deleted);
// - .status is replaced wholly, with observedGeneration set to the synced
//   parent's generation;
// - any non-200, timeout or unparsable body changes nothing and is retried
//   with backoff (1 s, then 2 s).
// It syncs again when resyncAfterSeconds passes, 250 ms after any owned
// child, related object or the parent changes (its informers), and at once
// on a new parent generation. One sync at a time, as Metacontroller's queue does per parent.
//
// Informer lag (`informerLag`, off by default): each sync request carries
// the children as they were at the start of the sync `syncs` syncs
// earlier, as a lagging informer cache would show them: a pod just created
// is missing, a deleted one still there. With `parentMs`, the parent (spec,
// generation, status) is the version the store held `parentMs` ago, and a
// change of it triggers a sync only once that time has passed: the
// informer that lags is the one whose events trigger the syncs, so the
// sync a change triggers sees at least that change (a status the last sync
// wrote is not hidden from the sync it triggers, which would make any
// status that depends on the previous one go round for ever). The response is applied to the real store all the same:
// creates of children that exist meanwhile get AlreadyExists (swallowed),
// deletes carry a UID precondition (a child re-made under the same name is
// not deleted), updates go only to the object observed (same uid).
//
// A parent being deleted (deletionTimestamp; our CompositeController has no
// finalize hook, so `finalizing` stays false): the hook is still called and
// the status written, but children are neither created, updated nor
// deleted (Metacontroller manages children only while the parent is not
// being deleted, or when it finalizes); what the response asked for is
// recorded in `ignored`. Children the garbage collector released (an
// orphaning delete removes their ownerReferences) stop appearing in
// `children` and are not adopted again while the parent is being deleted.
//
// The test can look at every sync (records), the updates the API server
// refused (rejectedUpdates: pod spec changes other than images must never be
// attempted) and contract violations (nulls, unknown child types, ...).
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { randomUUID } from 'node:crypto'
import { parseAllDocuments } from 'yaml'
import { ROOT } from './hook.js'
import { Store, POD, SERVICE, PVC, PDB, SECRET, ApiError, threeWayMerge, typeKey, diffPaths, type Obj, type WatchEvent } from './store.js'
import type { Network } from './network.js'
import { clone, deepEqual, errorText, isObject, nullPaths } from './util.js'

export const PARENT = 'EtcdCluster.etcd.database.coreos.com/v1beta2'
export const BACKUP_PARENT = 'EtcdBackup.etcd.database.coreos.com/v1beta2'
export const LAST_APPLIED = 'metacontroller.k8s.io/last-applied-configuration'
const EVENT_DELAY_MS = 250
const HOOK_TIMEOUT_MS = 10_000

// The types the harness's store serves, by `<apiVersion>/<resource>`.
const RESOURCE_TYPES: Record<string, string> = {
  'v1/pods': POD,
  'v1/services': SERVICE,
  'v1/persistentvolumeclaims': PVC,
  'v1/secrets': SECRET,
  'v1/serviceaccounts': 'ServiceAccount.v1',
  'policy/v1/poddisruptionbudgets': PDB,
  'batch/v1/jobs': 'Job.batch/v1',
  'batch/v1/cronjobs': 'CronJob.batch/v1',
  'rbac.authorization.k8s.io/v1/roles': 'Role.rbac.authorization.k8s.io/v1',
  'rbac.authorization.k8s.io/v1/rolebindings': 'RoleBinding.rbac.authorization.k8s.io/v1',
  'etcd.database.coreos.com/v1beta2/etcdclusters': PARENT,
  'etcd.database.coreos.com/v1beta2/etcdbackups': BACKUP_PARENT,
}

// One CompositeController as the repository ships it (manifests/
// controller.yaml): the parent type, the child types with their update
// strategies, and the paths of its sync and customize hooks.
export interface ControllerDef {
  object: any
  parentKey: string
  childTypes: string[]
  strategies: Record<string, string>
  syncPath: string
  customizePath: string
}

function controllerDef (object: any): ControllerDef {
  const spec = object.spec
  const key = (r: { apiVersion: string, resource: string }) => {
    const k = RESOURCE_TYPES[`${r.apiVersion}/${r.resource}`]
    if (!k) throw new Error(`manifests/controller.yaml: the harness does not serve ${r.apiVersion}/${r.resource}`)
    return k
  }
  const childTypes = (spec.childResources as any[]).map(key)
  const strategies = Object.fromEntries((spec.childResources as any[]).map(r => [key(r), r.updateStrategy?.method ?? 'OnDelete']))
  return { object, parentKey: key(spec.parentResource), childTypes, strategies, syncPath: new URL(spec.hooks.sync.webhook.url).pathname, customizePath: new URL(spec.hooks.customize.webhook.url).pathname }
}

const SHIPPED = parseAllDocuments(fs.readFileSync(path.join(ROOT, 'manifests', 'controller.yaml'), 'utf8')).map(d => d.toJS())
const shipped = (parentResource: string) => {
  const o = SHIPPED.find(c => c?.spec?.parentResource?.resource === parentResource)
  if (!o) throw new Error(`manifests/controller.yaml has no CompositeController for ${parentResource}`)
  return controllerDef({ ...o, metadata: { ...o.metadata, uid: randomUUID(), generation: 1 } })
}
export const CLUSTER_CONTROLLER = shipped('etcdclusters')
export const BACKUP_CONTROLLER = shipped('etcdbackups')
export const CHILD_TYPES = CLUSTER_CONTROLLER.childTypes

// One more child type in the EtcdCluster controller's childResources (the
// chart's certManager.enabled declares cert-manager Certificates): call
// before the first sync.
export function declareChildType (key: string, apiVersion: string, resource: string, method: 'InPlace' | 'OnDelete'): void {
  if (CLUSTER_CONTROLLER.childTypes.includes(key)) return
  CLUSTER_CONTROLLER.childTypes.push(key)
  CLUSTER_CONTROLLER.strategies[key] = method
  CLUSTER_CONTROLLER.object.spec.childResources.push({ apiVersion, resource, updateStrategy: { method } })
}

export interface SyncRecord {
  n: number
  atMs: number
  ms: number
  generation: number
  httpStatus?: number
  error?: string
  dropped?: boolean
  // The synced parent had a deletionTimestamp: children were not managed.
  deleting?: boolean
  // Child changes the response asked for that were not made because the
  // parent is being deleted ("create Pod.v1/x", "delete Pod.v1/y").
  ignored: string[]
  creates: string[]
  updates: string[]
  deletes: string[]
  rejected: string[]
  statusChanged: boolean
  status?: any
  resyncAfterSeconds?: number
}

// One rule of a customize hook's answer: which objects of one type the
// sync requests carry in `related`.
export interface RelatedRule {
  apiVersion: string
  resource: string
  namespace?: string
  names?: string[]
  labelSelector?: { matchLabels?: Record<string, string> }
}

// The related resource types the harness's store can serve.
const RELATED_TYPES = RESOURCE_TYPES

export interface SyncResponse {
  status?: any
  children?: any[]
  resyncAfterSeconds?: number
  [k: string]: unknown
}

// Decides, before a 200 response is applied, whether to apply it or to
// behave as if it never arrived (the hook died before answering).
export type Interceptor = (request: any, response: SyncResponse) => 'apply' | 'drop' | Promise<'apply' | 'drop'>

// Informer lag: requests built from what was observed `syncs` syncs ago.
export interface InformerLag {
  syncs: number
  // The parent (spec, status, generation) lags this long, and so do the
  // syncs its changes trigger.
  parentMs?: number
}

interface Observed {
  parent: Obj
  children: Record<string, Record<string, Obj>>
}

export class Metacontroller {
  readonly records: SyncRecord[] = []
  readonly rejectedUpdates: string[] = []
  readonly violations: string[] = []
  intercept?: Interceptor
  // Off (no lag) unless a test sets it.
  informerLag: InformerLag = { syncs: 0 }
  // What each sync observed, newest last (kept for the lag).
  private history: Observed[] = []
  // Versions of the parent with when they were written (for parentMs).
  private parentVersions: Array<{ atMs: number, obj: Obj }> = []
  private nextAt = Infinity
  private wake?: () => void
  private stopped = false
  private loopDone?: Promise<void>
  private consecutiveErrors = 0
  private syncing = false
  private waiters: Array<{ after: number, resolve: (r: SyncRecord) => void }> = []
  // The customize hook's last answer for this parent, by uid and generation
  // (Metacontroller caches it the same way): which objects are related.
  private customized?: { uid: string, generation: number, rules: RelatedRule[] }
  customizeCalls = 0
  private readonly onEvent = (ev: WatchEvent) => this.handle(ev)

  constructor (
    private readonly store: Store,
    readonly parentName: string,
    private readonly network: Network,
    private readonly hookUrl: () => string,
    private readonly log: (s: string) => void,
    readonly def: ControllerDef = CLUSTER_CONTROLLER,
  ) {
    store.on('event', this.onEvent)
  }

  private parent (): Obj | undefined {
    return this.store.get(this.def.parentKey, this.parentName)
  }

  private owned (o: Obj, uid = this.parent()?.metadata.uid): boolean {
    return !!uid && (o.metadata.ownerReferences ?? []).some(r => r.controller && r.uid === uid)
  }

  private handle (ev: WatchEvent): void {
    if (this.stopped) return
    if (ev.key === this.def.parentKey) {
      if (ev.obj.metadata.name !== this.parentName) return
      const newGen = ev.obj.metadata.generation !== ev.old?.metadata.generation
      const lagMs = this.informerLag.parentMs ?? 0
      this.parentVersions.push({ atMs: Date.now(), obj: clone(ev.obj) })
      if (this.parentVersions.length > 200) this.parentVersions.splice(0, 100)
      this.requestSync((newGen ? 0 : EVENT_DELAY_MS) + lagMs)
      return
    }
    // (An update that released a child from this parent counts too.)
    if (this.def.childTypes.includes(ev.key) && (this.owned(ev.obj) || (ev.old !== undefined && this.owned(ev.old)))) this.requestSync(EVENT_DELAY_MS)
    // A related object changed (or appeared, or went): sync the parent too.
    if (Object.values(RELATED_TYPES).includes(ev.key) && this.isRelated(ev.key, ev.obj)) this.requestSync(EVENT_DELAY_MS)
  }

  private isRelated (key: string, o: Obj): boolean {
    const parent = this.parent()
    if (!parent || !this.customized) return false
    return this.customized.rules.some(r => ruleMatches(r, key, o, parent.metadata.namespace ?? this.store.namespace))
  }

  // `related` for a sync request: every object the customize rules select,
  // keyed `<Kind>.<apiVersion>` then by name (v1 hooks).
  private related (parent: Obj, rules: RelatedRule[]): Record<string, Record<string, Obj>> {
    const out: Record<string, Record<string, Obj>> = {}
    const namespace = parent.metadata.namespace ?? this.store.namespace
    for (const rule of rules) {
      const key = RELATED_TYPES[`${rule.apiVersion}/${rule.resource}`]
      if (!key) continue
      const group = (out[key] ??= {})
      for (const o of this.store.list(key)) if (ruleMatches(rule, key, o, namespace)) group[o.metadata.name] = clone(o)
    }
    return out
  }

  requestSync (delayMs: number): void {
    const at = Date.now() + delayMs
    if (at < this.nextAt) {
      this.nextAt = at
      this.wake?.()
    }
  }

  start (): void {
    this.requestSync(0)
    this.loopDone = this.loop()
  }

  private async loop (): Promise<void> {
    while (!this.stopped) {
      const delay = this.nextAt - Date.now()
      if (delay > 0) {
        await new Promise<void>(resolve => {
          const timer = setTimeout(done, Math.min(delay, 1000))
          function done () {
            clearTimeout(timer)
            resolve()
          }
          this.wake = done
        })
        this.wake = undefined
        continue
      }
      this.nextAt = Infinity
      try {
        await this.syncOnce()
      } catch (e) {
        this.log(`metacontroller: ${errorText(e)}`)
        this.requestSync(1000)
      }
    }
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.store.off('event', this.onEvent)
    this.wake?.()
    await this.loopDone
  }

  // Resolves with the first sync that starts after this call (rejects if
  // none finishes within the bound).
  nextSync (timeoutMs = 30_000): Promise<SyncRecord> {
    const after = Date.now()
    this.requestSync(0)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no sync of ${this.parentName} finished within ${timeoutMs} ms`)), timeoutMs)
      this.waiters.push({
        after,
        resolve: r => {
          clearTimeout(timer)
          resolve(r)
        },
      })
    })
  }

  get lastRecord (): SyncRecord | undefined {
    return this.records[this.records.length - 1]
  }

  get busy (): boolean {
    return this.syncing
  }

  // The parent and its children as the store holds them now.
  private observeNow (parent: Obj): Observed {
    const children: Record<string, Record<string, Obj>> = {}
    for (const type of this.def.childTypes) {
      children[type] = {}
      for (const o of this.store.list(type)) if (this.owned(o, parent.metadata.uid)) children[type][o.metadata.name] = clone(o)
    }
    return { parent: clone(parent), children }
  }

  // What this sync's request shows: now, or `informerLag.syncs` syncs ago
  // (the oldest kept while fewer syncs have run).
  private observe (live: Obj): Observed {
    const now = this.observeNow(live)
    const lag = Math.max(0, Math.floor(this.informerLag.syncs))
    this.history.push(now)
    if (this.history.length > lag + 1) this.history.splice(0, this.history.length - lag - 1)
    const parent = this.laggedParent(live)
    if (lag === 0) return { parent, children: now.children }
    const old = this.history[0]!
    // A parent of another uid (deleted and re-made) is not this one's past.
    if (old.parent.metadata.uid !== live.metadata.uid) return { parent, children: now.children }
    return { parent, children: clone(old.children) }
  }

  // The parent as a cache `parentMs` behind shows it: the newest version
  // written at least that long ago (the live one without such a lag).
  private laggedParent (live: Obj): Obj {
    const lagMs = this.informerLag.parentMs ?? 0
    if (lagMs <= 0) return clone(live)
    const before = Date.now() - lagMs
    const versions = this.parentVersions.filter(v => v.obj.metadata.uid === live.metadata.uid)
    const seen = versions.filter(v => v.atMs <= before)
    return clone(seen[seen.length - 1]?.obj ?? versions[0]?.obj ?? live)
  }

  // Whether a sync now would see the parent as the store holds it (no
  // parentMs lag, or the parent unchanged for longer than it).
  parentCaughtUp (): boolean {
    const live = this.parent()
    return !live || this.laggedParent(live).metadata.resourceVersion === live.metadata.resourceVersion
  }

  private buildRequest (observed: Observed, rules: RelatedRule[]): any {
    return { controller: clone(this.def.object), parent: clone(observed.parent), children: clone(observed.children), related: this.related(observed.parent, rules), finalizing: false }
  }

  // The customize hook's rules for this parent: asked once per parent
  // generation (Metacontroller caches the answer likewise). Throws what
  // makes the sync fail: no answer, a non-200, or an unusable body.
  private async relatedRules (parent: Obj, rec: SyncRecord): Promise<RelatedRule[]> {
    const uid = parent.metadata.uid ?? ''
    const generation = parent.metadata.generation ?? 0
    if (this.customized?.uid === uid && this.customized.generation === generation) return this.customized.rules
    const url = new URL(this.hookUrl())
    url.pathname = this.def.customizePath
    this.customizeCalls++
    const result = await this.post(url, { controller: clone(this.def.object), parent: clone(parent) })
    if ('error' in result) throw new Error(`customize hook: ${result.error}`)
    if (result.status !== 200) throw new Error(`customize hook answered ${result.status}: ${result.text.slice(0, 300)}`)
    let parsed: unknown
    try {
      parsed = JSON.parse(result.text)
    } catch {
      throw new Error(`customize hook answered 200 with a body that is not JSON: ${result.text.slice(0, 200)}`)
    }
    const rules = isObject(parsed) ? parsed.relatedResources : undefined
    if (!Array.isArray(rules) || !rules.every(r => isObject(r) && typeof r.apiVersion === 'string' && typeof r.resource === 'string')) {
      throw new Error(`customize hook answered 200 without a usable relatedResources list: ${result.text.slice(0, 200)}`)
    }
    for (const r of rules as RelatedRule[]) {
      const nulls = nullPaths(r)
      if (nulls.length) this.violation(rec, `customize rule with null fields: ${nulls.join(', ')}`)
      if (!RELATED_TYPES[`${r.apiVersion}/${r.resource}`]) this.violation(rec, `customize asked for ${r.apiVersion}/${r.resource}, which the harness does not serve`)
      if (r.namespace !== undefined && r.namespace !== (parent.metadata.namespace ?? this.store.namespace)) this.violation(rec, `customize asked for objects in namespace ${r.namespace}, not the parent's`)
    }
    this.customized = { uid, generation, rules: rules as RelatedRule[] }
    this.log(`${this.parentName}: customize (generation ${generation}): ${JSON.stringify(rules)}`)
    return this.customized.rules
  }

  private async syncOnce (): Promise<void> {
    const live = this.parent()
    if (!live) return
    const observed = this.observe(live)
    const parent = observed.parent
    this.syncing = true
    const rec: SyncRecord = {
      n: this.records.length + 1,
      atMs: Date.now(),
      ms: 0,
      generation: parent.metadata.generation ?? 0,
      creates: [],
      updates: [],
      deletes: [],
      rejected: [],
      ignored: [],
      statusChanged: false,
      ...(parent.metadata.deletionTimestamp ? { deleting: true } : {}),
    }
    try {
      let rules: RelatedRule[] | undefined
      try {
        rules = await this.relatedRules(parent, rec)
      } catch (e) {
        rec.error = errorText(e)
      }
      const request = rules ? this.buildRequest(observed, rules) : undefined
      const response = request ? await this.call(request, rec) : undefined
      if (response && !this.stopped) {
        if ((await this.intercept?.(request, response)) === 'drop') {
          rec.dropped = true
          rec.error = 'response dropped by the test (the hook died before answering)'
        } else {
          this.apply(parent, request, response, rec)
        }
      }
    } finally {
      rec.ms = Date.now() - rec.atMs
      this.records.push(rec)
      this.log(`${this.parentName}: sync ${formatSync(rec)}`)
      if (this.records.length > 2000) this.records.splice(0, 500)
      this.syncing = false
      if (rec.error) {
        this.consecutiveErrors++
        this.requestSync(Math.min(1000 * 2 ** (this.consecutiveErrors - 1), 2000))
      } else {
        this.consecutiveErrors = 0
      }
      const ready = this.waiters.filter(w => w.after <= rec.atMs)
      this.waiters = this.waiters.filter(w => w.after > rec.atMs)
      for (const w of ready) w.resolve(rec)
    }
  }

  private async post (url: URL, payload: unknown): Promise<{ status: number, text: string } | { error: string }> {
    await this.network.assertRoute(url.hostname)
    const body = JSON.stringify(payload)
    return new Promise<{ status: number, text: string } | { error: string }>(resolve => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: false, timeout: HOOK_TIMEOUT_MS, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
        res => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => (text += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
          res.on('error', e => resolve({ error: errorText(e) }))
        },
      )
      req.on('timeout', () => req.destroy(new Error(`timeout after ${HOOK_TIMEOUT_MS} ms`)))
      req.on('error', e => resolve({ error: errorText(e) }))
      req.end(body)
    })
  }

  private async call (request: any, rec: SyncRecord): Promise<SyncResponse | undefined> {
    const url = new URL(this.hookUrl())
    url.pathname = this.def.syncPath
    let result: { status: number, text: string } | { error: string }
    try {
      result = await this.post(url, request)
    } catch (e) {
      rec.error = errorText(e)
      return undefined
    }
    if ('error' in result) {
      rec.error = `sync hook: ${result.error}`
      return undefined
    }
    rec.httpStatus = result.status
    if (result.status !== 200) {
      rec.error = `sync hook answered ${result.status}: ${result.text.slice(0, 500)}`
      return undefined
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(result.text)
    } catch {
      rec.error = `sync hook answered 200 with a body that is not JSON: ${result.text.slice(0, 200)}`
      return undefined
    }
    if (!isObject(parsed) || (parsed.children !== undefined && !Array.isArray(parsed.children)) || (parsed.status !== undefined && parsed.status !== null && !isObject(parsed.status))) {
      rec.error = `sync hook answered 200 with an unusable body: ${result.text.slice(0, 200)}`
      return undefined
    }
    return parsed
  }

  private violation (rec: SyncRecord, what: string): void {
    this.violations.push(`sync #${rec.n}: ${what}`)
    this.log(`metacontroller: VIOLATION sync #${rec.n}: ${what}`)
  }

  private apply (parent: Obj, request: any, response: SyncResponse, rec: SyncRecord): void {
    const uid = parent.metadata.uid ?? ''
    if (typeof response.resyncAfterSeconds === 'number') rec.resyncAfterSeconds = response.resyncAfterSeconds
    for (const k of Object.keys(response)) {
      if (!['status', 'children', 'resyncAfterSeconds'].includes(k)) this.violation(rec, `unexpected top-level key "${k}" in the response`)
    }
    const errors: string[] = []
    // Desired children, validated as Metacontroller does.
    const desired = new Map<string, Map<string, Obj>>()
    for (const raw of response.children ?? []) {
      if (!isObject(raw) || typeof raw.apiVersion !== 'string' || typeof raw.kind !== 'string' || !isObject(raw.metadata) || typeof raw.metadata.name !== 'string') {
        this.violation(rec, `child without apiVersion/kind/metadata.name: ${JSON.stringify(raw).slice(0, 200)}`)
        errors.push('invalid child')
        continue
      }
      const o = clone(raw) as Obj
      const key = typeKey(o)
      const nulls = nullPaths(o)
      if (nulls.length) this.violation(rec, `${key} ${o.metadata.name} has null fields: ${nulls.join(', ')}`)
      if (!this.def.childTypes.includes(key)) {
        this.violation(rec, `child of undeclared type ${key} (${o.metadata.name})`)
        errors.push(`undeclared child type ${key}`)
        continue
      }
      if (o.metadata.namespace && o.metadata.namespace !== parent.metadata.namespace) {
        this.violation(rec, `${key} ${o.metadata.name} in namespace ${o.metadata.namespace}, not the parent's`)
      }
      let group = desired.get(key)
      if (!group) desired.set(key, (group = new Map()))
      if (group.has(o.metadata.name)) this.violation(rec, `${key} ${o.metadata.name} listed twice`)
      delete o.status
      o.metadata.namespace = parent.metadata.namespace ?? this.store.namespace
      o.metadata.labels = { ...(o.metadata.labels ?? {}), 'controller-uid': o.metadata.labels?.['controller-uid'] ?? uid }
      if (o.metadata.labels['controller-uid'] !== uid) {
        errors.push(`labels on desired child ${key} ${o.metadata.name} don't match parent selector`)
        continue
      }
      group.set(o.metadata.name, o)
    }
    if (typeof response.resyncAfterSeconds === 'number' && response.resyncAfterSeconds > 0) this.requestSync(response.resyncAfterSeconds * 1000)
    if (errors.length) {
      // Metacontroller stops here: no child is touched, the status is not written.
      rec.error = `invalid response: ${errors.join('; ')}`
      return
    }
    if (parent.metadata.deletionTimestamp) {
      // Being deleted, no finalize hook: children are left alone.
      for (const type of this.def.childTypes) {
        for (const name of Object.keys(request.children[type] ?? {})) if (!desired.get(type)?.has(name)) rec.ignored.push(`delete ${type}/${name}`)
      }
      for (const [type, group] of desired) for (const name of group.keys()) if (!request.children[type]?.[name]) rec.ignored.push(`create ${type}/${name}`)
    } else {
      // Deletes: observed, owned, not desired, not already being deleted
      // (with a UID precondition: only the object observed).
      for (const type of this.def.childTypes) {
        for (const name of Object.keys(request.children[type] ?? {})) {
          const cur = this.store.get(type, name)
          if (!cur || cur.metadata.deletionTimestamp || desired.get(type)?.has(name)) continue
          if (cur.metadata.uid !== request.children[type][name].metadata.uid) continue
          try {
            this.store.delete(type, name)
            rec.deletes.push(`${type}/${name}`)
          } catch (e) {
            if (!(e instanceof ApiError && e.code === 404)) errors.push(errorText(e))
          }
        }
      }
      // Creates and updates.
      for (const [type, group] of desired) {
        for (const [name, o] of group) {
          const observed: Obj | undefined = request.children[type]?.[name]
          if (!observed) {
            const create = clone(o)
            create.metadata.annotations = { ...(create.metadata.annotations ?? {}), [LAST_APPLIED]: JSON.stringify(o) }
            create.metadata.ownerReferences = [
              ...(create.metadata.ownerReferences ?? []),
              { apiVersion: parent.apiVersion, kind: parent.kind, name: parent.metadata.name, uid, controller: true, blockOwnerDeletion: true },
            ]
            try {
              this.store.create(create)
              rec.creates.push(`${type}/${name}`)
            } catch (e) {
              // AlreadyExists is swallowed (e.g. a not-owned object of that name).
              if (!(e instanceof ApiError && e.code === 409)) errors.push(errorText(e))
            }
            continue
          }
          const cur = this.store.get(type, name)
          if (!cur || cur.metadata.uid !== observed.metadata.uid) continue
          let lastApplied: unknown = {}
          try {
            lastApplied = JSON.parse(cur.metadata.annotations?.[LAST_APPLIED] ?? '{}')
          } catch {
            /* treat as empty */
          }
          const base = clone(cur)
          const curStatus = base.status
          delete base.status
          const merged = threeWayMerge(base, lastApplied, o) as Obj
          merged.metadata.annotations = { ...(merged.metadata.annotations ?? {}), [LAST_APPLIED]: JSON.stringify(o) }
          for (const f of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp'] as const) {
            if (base.metadata[f] === undefined) delete merged.metadata[f]
            else (merged.metadata as Record<string, unknown>)[f] = base.metadata[f]
          }
          if (deepEqual(merged, base)) continue
          if (cur.metadata.deletionTimestamp) continue
          if (this.def.strategies[type] !== 'InPlace') continue
          const changed = diffPaths(base, merged).filter(p => !p.includes(LAST_APPLIED))
          merged.status = curStatus
          try {
            this.store.update(merged)
            rec.updates.push(`${type}/${name} (${changed.join(', ')})`)
          } catch (e) {
            const msg = `${type}/${name}: ${errorText(e)}`
            if (e instanceof ApiError && e.code === 422) {
              rec.rejected.push(msg)
              this.rejectedUpdates.push(`sync #${rec.n}: ${msg}`)
              this.log(`metacontroller: UPDATE REJECTED sync #${rec.n}: ${msg}`)
            }
            errors.push(msg)
          }
        }
      }
    }
    // Status: replaced wholly, with observedGeneration.
    const status = { ...(isObject(response.status) ? clone(response.status) : {}), observedGeneration: parent.metadata.generation }
    rec.status = status
    const before = this.parent()
    if (before?.metadata.uid === uid) {
      rec.statusChanged = !deepEqual(before.status, status)
      this.store.updateStatus(this.def.parentKey, this.parentName, status)
    }
    if (errors.length) rec.error = `can't reconcile children: ${errors.join('; ')}`
  }
}

// Whether a customize rule selects this object (type, namespace, names,
// matchLabels).
function ruleMatches (rule: RelatedRule, key: string, o: Obj, parentNamespace: string): boolean {
  if (RELATED_TYPES[`${rule.apiVersion}/${rule.resource}`] !== key) return false
  if ((o.metadata.namespace ?? parentNamespace) !== (rule.namespace ?? parentNamespace)) return false
  if (rule.names !== undefined && !rule.names.includes(o.metadata.name)) return false
  for (const [k, v] of Object.entries(rule.labelSelector?.matchLabels ?? {})) if (o.metadata.labels?.[k] !== v) return false
  return true
}

// One line per sync, for logs and failure reports.
export function formatSync (r: SyncRecord): string {
  const parts = [`#${r.n} +${r.ms}ms gen=${r.generation}`]
  if (r.httpStatus) parts.push(`http=${r.httpStatus}`)
  if (r.error) parts.push(`ERROR ${r.error.slice(0, 300)}`)
  if (r.deleting) parts.push('parent-deleting')
  if (r.creates.length) parts.push(`create ${r.creates.join(' ')}`)
  if (r.updates.length) parts.push(`update ${r.updates.join(' ')}`)
  if (r.deletes.length) parts.push(`delete ${r.deletes.join(' ')}`)
  if (r.rejected.length) parts.push(`REJECTED ${r.rejected.join(' ')}`)
  if (r.ignored.length) parts.push(`ignored (parent deleting) ${r.ignored.join(' ')}`)
  if (r.status) {
    const conds = (r.status.conditions ?? []).filter((c: any) => c.status === 'True').map((c: any) => c.type)
    parts.push(`phase=${r.status.phase} [${conds.join(',')}] ready=${(r.status.members?.ready ?? []).length} leader=${r.status.leader ?? '-'} action="${r.status.lastAction ?? ''}"`)
  }
  if (r.resyncAfterSeconds !== undefined) parts.push(`resync=${r.resyncAfterSeconds}s`)
  return parts.join(' ')
}
