// A stand-in kubelet: every Pod in the store runs as real processes in a
// network namespace of its own, with its own address on the harness bridge.
//
// - Image: any `*etcd:*` image runs the local etcd (the image's version is
//   not what runs: every version is Debian's 3.4 binary). A command whose
//   basename is `etcd` / `etcdctl` maps to /usr/bin/etcd / /usr/bin/etcdctl;
//   no command means the image's entrypoint, etcd.
// - Volumes: an emptyDir is a per-pod directory (gone with the pod); a
//   persistentVolumeClaim is the PVC's directory (gone with the PVC); a
//   secret is a per-pod directory holding the Secret's decoded data, one
//   file per key (the pod waits in ContainerCreating until the Secret
//   exists; files follow later changes of the Secret); a downwardAPI volume
//   holds its items' fieldRef values (labels, annotations, name, ...). Each volumeMount's
//   mountPath is rewritten to that directory wherever it starts a path in
//   the command, args or env values.
// - Probes (httpGet, tcpSocket, exec of etcd/etcdctl), sent from the host
//   through the bridge like the kubelet's. To save time, probe periods are
//   capped at 1 s, initial delays at 2 s and timeouts at 2 s; thresholds
//   are the pod's own.
// - restartPolicy Always/OnFailure: an exited container restarts after a
//   short backoff (0.5 s doubling to 4 s, where the kubelet starts at 10 s)
//   and restartCount counts it. A new image on an existing pod restarts the
//   container with its volumes kept. Deletion is graceful: SIGTERM, then
//   SIGKILL after the grace period (capped at 5 s), then the pod is gone.
// - Status as the kubelet writes it: phase, podIP, conditions (PodScheduled,
//   Initialized, ContainersReady, Ready) and containerStatuses.
// - Init containers run in order, each to completion, before the
//   containers; a failed one is restarted with the same backoff (the pod
//   stays Pending, Initialized False) or, with restartPolicy Never, fails
//   the pod. Termination messages: each run gets an empty file standing for
//   its terminationMessagePath (default /dev/termination-log; the path is
//   rewritten to it in the arguments like a mount); what the container wrote
//   there, else with FallbackToLogsOnError the tail of a failed run's output.
// - A Never/OnFailure pod whose containers all exited is Succeeded (all 0)
//   or Failed.
// - The operator image (RUNNER_IMAGE) runs `node` on this repository's
//   dist/ (its /app), and its /usr/local/bin/etcdutl is a shim: etcd 3.4
//   has no etcdutl, so `etcdutl snapshot status|restore` runs as `etcdctl
//   snapshot status|restore`. The etcd image's `etcdutl` is the same shim.
//   Its processes get the pod's service account token (token, ca.crt,
//   namespace) at /var/run/secrets/kubernetes.io/serviceaccount in a mount
//   namespace of their own (a tmpfs over /run: nothing on the host
//   changes), and KUBERNETES_SERVICE_HOST/PORT name the harness's API
//   server endpoint (apiserver.ts). Downward API: metadata.labels['k'] and
//   annotations['k'] too; $(VAR) in command, args and env is expanded.
// Test hooks: failPod (kill hard + phase Failed, like an eviction),
// nodeDown/nodeUp (the pod's node stops: processes killed, link down,
// Ready=False after a node grace period; then back with the pod restarted),
// unschedulable/schedulable (pods of that name stay Pending, PodScheduled
// False/Unschedulable, as with a node selector no node matches).
import fs from 'node:fs'
import path from 'node:path'
import http from 'node:http'
import { createHash } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import { Store, POD, PVC, SECRET, type Obj, type WatchEvent } from './store.js'
import type { Network, Netns } from './network.js'
import { cleanEnv, deepEqual, sleep, tcpOpens } from './util.js'
import { ROOT } from './hook.js'

const PERIOD_CAP_S = 1
const INITIAL_DELAY_CAP_S = 2
const TIMEOUT_CAP_S = 2
const GRACE_CAP_S = 5
const BACKOFF_START_MS = 500
const BACKOFF_MAX_MS = 4000
// The node lifecycle controller's grace before it marks pods of a silent
// node not ready (40 s in Kubernetes).
const NODE_GRACE_MS = 2000

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z')

// $(VAR) references to defined variables, $$ as a literal $ (the kubelet's
// expansion of command, args and env values).
function expandVars (value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) => name === undefined ? '$' : env[name] ?? all)
}

// Runs `bin argv` with the service account volume at its real path, in a
// mount namespace of its own (`ip netns exec` already made one, slave to
// the host's: nothing mounted here reaches the host).
function withServiceAccount (dir: string, bin: string, argv: string[]): [string, string[]] {
  const script = `mount -t tmpfs -o size=1m,mode=755 tmpfs /run && mkdir -p ${SERVICE_ACCOUNT_DIR} && mount --bind "$0" ${SERVICE_ACCOUNT_DIR} && exec "$@"`
  return ['/bin/sh', ['-c', script, dir, bin, ...argv]]
}

const terminationPath = (c: ContainerRt): string => String(c.spec.terminationMessagePath ?? '/dev/termination-log')

// A Never/OnFailure pod: Running while a container runs, then Succeeded
// (every container exited 0) or Failed.
function podPhase (rt: { containers: Array<{ proc?: unknown, state: any }> }): 'Running' | 'Succeeded' | 'Failed' {
  if (rt.containers.some(c => c.proc !== undefined || !c.state.terminated)) return 'Running'
  return rt.containers.every(c => c.state.terminated.exitCode === 0) ? 'Succeeded' : 'Failed'
}

export const BINARIES: Record<string, string> = { etcd: '/usr/bin/etcd', etcdctl: '/usr/bin/etcdctl' }
// The operator image the hook renders for backup and restore containers
// (the hook server runs with RUNNER_IMAGE set to it).
export const RUNNER_IMAGE = 'ghcr.io/etcd-operator/etcd-operator-hook:e2e'
// Where the operator image keeps etcdutl (Dockerfile) and the repository.
const IMAGE_ETCDUTL = '/usr/local/bin/etcdutl'
const IMAGE_APP = '/app'
// Where a pod's service account token is mounted.
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'
// What a container's termination message holds at most (as the kubelet).
const TERMINATION_MESSAGE_BYTES = 4096
const FALLBACK_LOG_LINES = 80

// The API server as pods see it (KUBERNETES_SERVICE_HOST/PORT, the CA and
// a token per service account).
export interface PodApiAccess {
  host: string
  port: number
  ca: string
  tokenFor: (namespace: string, serviceAccount: string) => string
}

// How a container of an image runs here: the binary, and the image's own
// paths mapped to this machine's (applied to every argument).
interface Resolved {
  bin: string
  argv: string[]
  paths: Array<[string, string]>
  // Runs in a mount namespace with the pod's service account token at its
  // real path (the runner reads it from there).
  serviceAccount: boolean
}

interface ProbeState {
  timer?: NodeJS.Timeout
  successes: number
  failures: number
}

interface ContainerRt {
  name: string
  init: boolean
  logPath: string
  // Where this run's output starts in logPath (its termination message).
  logOffset: number
  spec: any
  image: string
  proc?: ChildProcess
  // Increments on every start; async callbacks of older runs are ignored.
  run: number
  state: any
  lastState?: any
  restartCount: number
  ready: boolean
  started: boolean
  backoffMs: number
  startedAtMs: number
  restartTimer?: NodeJS.Timeout
  readiness: ProbeState
  liveness: ProbeState
  // Set while the kubelet itself stops the container (image change, liveness).
  stopping?: Promise<void>
  killReason?: string
}

interface PodRt {
  name: string
  uid: string
  ns?: Netns
  ip?: string
  dir: string
  volumes: Map<string, string>
  secretVolumes: Map<string, { secretName: string, items?: Array<{ key: string, path: string, mode?: number }>, defaultMode?: number, dir: string }>
  // Why the volumes cannot be set up yet (a missing Secret).
  mountError?: string
  containers: ContainerRt[]
  // Run in order, each to completion, before the containers.
  initContainers: ContainerRt[]
  // How many init containers have completed.
  initDone: number
  // The service account token volume (token, ca.crt, namespace).
  serviceAccountDir?: string
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed'
  reason?: string
  message?: string
  scheduled: boolean
  scheduleMessage?: string
  deleting: boolean
  failed: boolean
  nodeDown: boolean
  nodeNotReady: boolean
  nodeTimer?: NodeJS.Timeout
  startTime?: string
  transitions: Record<string, string>
  gone: boolean
  starting?: Promise<void>
  // Readiness history for assertions: [timeMs, ready].
  readyLog: Array<[number, boolean]>
}

export interface ImageChange {
  pod: string
  from: string
  to: string
  atMs: number
}

export class Kubelet {
  private readonly pods = new Map<string, PodRt>()
  readonly imageChanges: ImageChange[] = []
  private stopped = false
  // Pod names no node will take (unschedulable), with the scheduler's message.
  private readonly unschedulableNames = new Map<string, string>()
  private readonly onEvent = (ev: WatchEvent) => this.handle(ev)
  // Set by the World when pods can reach the API server.
  api?: PodApiAccess
  // etcdutl of 3.5+ images: 3.4 has none, so `etcdutl snapshot
  // status|restore` runs as `etcdctl snapshot status|restore` (same flags).
  readonly etcdutlShim: string

  constructor (
    private readonly store: Store,
    private readonly network: Network,
    private readonly dir: string,
    private readonly clusterDomain: string,
    private readonly log: (s: string) => void,
  ) {
    fs.mkdirSync(path.join(dir, 'pods'), { recursive: true })
    fs.mkdirSync(path.join(dir, 'pvcs'), { recursive: true })
    fs.mkdirSync(path.join(dir, 'logs'), { recursive: true })
    this.etcdutlShim = path.join(dir, 'bin', 'etcdutl')
    fs.mkdirSync(path.dirname(this.etcdutlShim), { recursive: true })
    fs.writeFileSync(this.etcdutlShim, [
      '#!/bin/sh',
      '# etcd 3.4 has no etcdutl: its `snapshot status|restore` are etcdctl\'s.',
      'case "$1 $2" in',
      '  "snapshot status"|"snapshot restore") ETCDCTL_API=3 exec /usr/bin/etcdctl "$@" ;;',
      'esac',
      'echo "etcdutl (harness shim over etcd 3.4\'s etcdctl): only snapshot status|restore: got $*" >&2',
      'exit 64',
      '',
    ].join('\n'), { mode: 0o755 })
    store.on('event', this.onEvent)
  }

  private handle (ev: WatchEvent): void {
    if (this.stopped) return
    if (ev.key === PVC) {
      this.pvcEvent(ev)
      return
    }
    if (ev.key === SECRET) {
      this.secretEvent(ev)
      return
    }
    if (ev.key !== POD) return
    const name = ev.obj.metadata.name
    if (ev.type === 'added') {
      const rt = this.newRuntime(ev.obj)
      this.pods.set(name, rt)
      rt.starting = this.startPod(rt).catch(e => this.log(`kubelet: pod ${name}: ${String(e)}`))
      return
    }
    const rt = this.pods.get(name)
    if (!rt || rt.uid !== ev.obj.metadata.uid) return
    if (ev.type === 'deleted') {
      void this.teardown(rt)
      return
    }
    if (ev.obj.metadata.deletionTimestamp && !rt.deleting) {
      rt.deleting = true
      void this.terminate(rt, ev.obj)
      return
    }
    if (ev.old && !deepEqual(ev.old.spec, ev.obj.spec)) this.specChanged(rt, ev.obj)
  }

  private newRuntime (pod: Obj): PodRt {
    const uid = pod.metadata.uid ?? ''
    const base = `${pod.metadata.name}-${uid.slice(0, 8)}`
    const hasInit = (pod.spec?.initContainers ?? []).length > 0
    const container = (c: any, init: boolean, i: number): ContainerRt => ({
      name: c.name,
      init,
      // The first container's log keeps the pod's name (podLog).
      logPath: path.join(this.dir, 'logs', !init && i === 0 && !hasInit ? `${base}.log` : `${base}-${c.name}.log`),
      logOffset: 0,
      spec: c,
      image: c.image,
      run: 0,
      state: { waiting: { reason: 'ContainerCreating' } },
      restartCount: 0,
      ready: false,
      started: false,
      backoffMs: BACKOFF_START_MS,
      startedAtMs: 0,
      readiness: { successes: 0, failures: 0 },
      liveness: { successes: 0, failures: 0 },
    })
    const rt: PodRt = {
      name: pod.metadata.name,
      uid,
      dir: path.join(this.dir, 'pods', base),
      volumes: new Map(),
      secretVolumes: new Map(),
      containers: (pod.spec?.containers ?? []).map((c: any, i: number) => container(c, false, i)),
      initContainers: (pod.spec?.initContainers ?? []).map((c: any, i: number) => container(c, true, i)),
      initDone: 0,
      phase: 'Pending',
      scheduled: true,
      deleting: false,
      failed: false,
      nodeDown: false,
      nodeNotReady: false,
      transitions: {},
      gone: false,
      readyLog: [],
    }
    return rt
  }

  private current (rt: PodRt): Obj | undefined {
    const o = this.store.get(POD, rt.name)
    return o?.metadata.uid === rt.uid ? o : undefined
  }

  // Volumes, then the sandbox (namespace + address), then the containers.
  private async startPod (rt: PodRt): Promise<void> {
    const pod = this.current(rt)
    if (!pod) return
    const unschedulable = this.unschedulableNames.get(rt.name)
    if (unschedulable !== undefined) {
      rt.scheduled = false
      rt.scheduleMessage = unschedulable
      this.log(`kubelet: ${rt.name}: Unschedulable: ${unschedulable}`)
      this.writeStatus(rt)
      return
    }
    for (const v of pod.spec?.volumes ?? []) {
      if (v.emptyDir) {
        const d = path.join(rt.dir, 'volumes', v.name)
        fs.mkdirSync(d, { recursive: true })
        rt.volumes.set(v.name, d)
      } else if (v.persistentVolumeClaim) {
        const claim = v.persistentVolumeClaim.claimName
        const pvc = this.store.get(PVC, claim)
        if (!pvc || pvc.metadata.deletionTimestamp) {
          // Unschedulable until the claim exists (retried on PVC events).
          rt.scheduled = false
          rt.scheduleMessage = `persistentvolumeclaim "${claim}" not found`
          this.writeStatus(rt)
          return
        }
        rt.volumes.set(v.name, this.pvcDir(pvc))
      } else if (v.secret) {
        // The Secret's data, decoded, one file per key (or per `items`
        // entry); the pod waits in ContainerCreating until the Secret exists.
        const d = path.join(rt.dir, 'volumes', v.name)
        const secretName = String(v.secret.secretName ?? '')
        const secret = this.store.get(SECRET, secretName)
        if (!secret && v.secret.optional !== true) {
          rt.scheduled = true
          rt.mountError = `MountVolume.SetUp failed for volume "${v.name}" : secret "${secretName}" not found`
          this.log(`kubelet: ${rt.name}: ${rt.mountError}`)
          this.writeStatus(rt)
          return
        }
        rt.secretVolumes.set(v.name, { secretName, items: v.secret.items, defaultMode: v.secret.defaultMode, dir: d })
        this.projectSecret(d, secret, v.secret.items, v.secret.defaultMode)
        rt.volumes.set(v.name, d)
      } else if (v.downwardAPI) {
        // The pod's own fields, one file per item (metadata only here).
        const d = path.join(rt.dir, 'volumes', v.name)
        fs.mkdirSync(d, { recursive: true })
        for (const item of v.downwardAPI.items ?? []) {
          const value = item.fieldRef ? this.fieldRef(rt, pod, String(item.fieldRef.fieldPath)) : undefined
          const file = path.join(d, String(item.path))
          if (value === undefined || !file.startsWith(d + path.sep)) continue
          fs.mkdirSync(path.dirname(file), { recursive: true })
          fs.writeFileSync(file, value)
        }
        rt.volumes.set(v.name, d)
      } else {
        // Other volume kinds (configMaps, ...): an empty directory.
        const d = path.join(rt.dir, 'volumes', v.name)
        fs.mkdirSync(d, { recursive: true })
        rt.volumes.set(v.name, d)
      }
    }
    rt.scheduled = true
    rt.scheduleMessage = undefined
    rt.mountError = undefined
    fs.mkdirSync(rt.dir, { recursive: true })
    const ip = this.network.allocIp('pod')
    const hostname = pod.spec?.hostname ?? pod.metadata.name
    const fqdn = pod.spec?.subdomain ? `${hostname}.${pod.spec.subdomain}.${this.store.namespace}.svc.${this.clusterDomain}` : ''
    try {
      rt.ns = await this.network.addNamespace('pod', [ip], { clusterDns: true, ownHosts: `${ip}\t${fqdn ? fqdn + ' ' : ''}${hostname}` })
    } catch (e) {
      this.network.releaseIp(ip)
      throw e
    }
    if (rt.deleting || rt.gone || !this.current(rt)) {
      await this.network.removeNamespace(rt.ns)
      return
    }
    rt.ip = ip
    rt.startTime = now()
    this.mountServiceAccount(rt, pod)
    // The address is in the status (and so in DNS) before any container runs.
    this.writeStatus(rt)
    this.startNext(rt)
  }

  // The next init container, or once they all completed, the containers.
  private startNext (rt: PodRt): void {
    const next = rt.initContainers[rt.initDone]
    if (next) this.startContainer(rt, next)
    else for (const c of rt.containers) this.startContainer(rt, c)
  }

  // The service account volume, as the kubelet projects it, unless the pod
  // (or else its service account) turns automounting off.
  private mountServiceAccount (rt: PodRt, pod: Obj): void {
    if (!this.api) return
    const saName = pod.spec?.serviceAccountName ?? 'default'
    const sa = this.store.get('ServiceAccount.v1', saName) as any
    const automount = pod.spec?.automountServiceAccountToken ?? sa?.automountServiceAccountToken ?? true
    if (automount !== true) return
    const d = path.join(rt.dir, 'serviceaccount')
    fs.mkdirSync(d, { recursive: true })
    fs.writeFileSync(path.join(d, 'token'), this.api.tokenFor(this.store.namespace, saName))
    fs.writeFileSync(path.join(d, 'ca.crt'), this.api.ca)
    fs.writeFileSync(path.join(d, 'namespace'), this.store.namespace)
    rt.serviceAccountDir = d
  }

  // An image's container as a local binary: an etcd image's etcd, etcdctl
  // or etcdutl (the shim), and the operator image's node with this
  // repository's dist/ for /app and the shim for its etcdutl.
  private resolve (image: string, cmd: string[], args: string[]): Resolved | { reason: string, message: string } {
    const argv = cmd.length ? [...cmd.slice(1), ...args] : args
    if (/(^|\/)[^/:]*etcd[^/]*:[^/]+$/.test(image) && image !== RUNNER_IMAGE) {
      const bins: Record<string, string> = { ...BINARIES, etcdutl: this.etcdutlShim }
      const bin = cmd.length ? bins[path.basename(cmd[0] ?? '')] : BINARIES.etcd
      if (!bin) return { reason: 'RunContainerError', message: `exec: "${cmd[0]}": executable file not found in $PATH` }
      return { bin, argv, paths: [], serviceAccount: false }
    }
    if (image === RUNNER_IMAGE) {
      // The image has no ENTRYPOINT the hook may rely on: a command is needed.
      if (path.basename(cmd[0] ?? '') !== 'node') return { reason: 'RunContainerError', message: `the operator image runs node; command ${JSON.stringify(cmd)}` }
      return { bin: process.execPath, argv, paths: [[IMAGE_ETCDUTL, this.etcdutlShim], [IMAGE_APP, ROOT]], serviceAccount: true }
    }
    return { reason: 'ErrImagePull', message: `image ${image} is neither an etcd image nor the operator image (${RUNNER_IMAGE})` }
  }

  // Writes a Secret's decoded data into a volume directory (replacing what
  // was there), files mode defaultMode (0644 by default), as the kubelet's
  // atomic writer leaves them.
  private projectSecret (dir: string, secret: Obj | undefined, items: Array<{ key: string, path: string, mode?: number }> | undefined, defaultMode: number | undefined): void {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    const data = (secret?.data as Record<string, string> | undefined) ?? {}
    const files: Array<{ key: string, path: string, mode?: number }> = items ?? Object.keys(data).map(key => ({ key, path: key }))
    for (const item of files) {
      const value = data[item.key]
      if (value === undefined) continue
      const file = path.join(dir, item.path)
      if (!file.startsWith(dir + path.sep)) continue
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, Buffer.from(value, 'base64'), { mode: item.mode ?? defaultMode ?? 0o644 })
    }
  }

  private secretEvent (ev: WatchEvent): void {
    const name = ev.obj.metadata.name
    for (const rt of this.pods.values()) {
      if (rt.gone || rt.deleting) continue
      if (ev.type === 'added' && rt.mountError) {
        rt.starting = this.startPod(rt).catch(e => this.log(`kubelet: pod ${rt.name}: ${String(e)}`))
        continue
      }
      // A running pod's secret volumes follow the Secret (the kubelet syncs
      // them within a minute; here at once). A deleted Secret leaves them.
      if (ev.type !== 'modified') continue
      for (const sv of rt.secretVolumes.values()) if (sv.secretName === name) this.projectSecret(sv.dir, ev.obj, sv.items, sv.defaultMode)
    }
  }

  pvcDir (pvc: Obj): string {
    const d = path.join(this.dir, 'pvcs', `${pvc.metadata.name}-${(pvc.metadata.uid ?? '').slice(0, 8)}`)
    fs.mkdirSync(d, { recursive: true })
    return d
  }

  private pvcEvent (ev: WatchEvent): void {
    if (ev.type === 'deleted') {
      fs.rmSync(path.join(this.dir, 'pvcs', `${ev.obj.metadata.name}-${(ev.obj.metadata.uid ?? '').slice(0, 8)}`), { recursive: true, force: true })
      return
    }
    if (ev.type === 'added') {
      this.pvcDir(ev.obj)
      for (const rt of this.pods.values()) {
        if (!rt.scheduled && !rt.deleting) rt.starting = this.startPod(rt).catch(e => this.log(`kubelet: pod ${rt.name}: ${String(e)}`))
      }
    }
  }

  private rewrite (value: string, mounts: Array<[string, string]>): string {
    let v = value
    for (const [mountPath, dir] of mounts) {
      const esc = mountPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      v = v.replace(new RegExp(`(^|[=,:\\s])${esc}(?=$|[/,:\\s])`, 'g'), `$1${dir}`)
    }
    return v
  }

  private mounts (rt: PodRt, c: ContainerRt): Array<[string, string]> {
    const out: Array<[string, string]> = []
    for (const m of c.spec.volumeMounts ?? []) {
      const d = rt.volumes.get(m.name)
      if (!d) continue
      const dir = m.subPath ? path.join(d, m.subPath) : d
      fs.mkdirSync(dir, { recursive: true })
      out.push([String(m.mountPath).replace(/\/+$/, '') || '/', dir])
    }
    return out.sort((a, b) => b[0].length - a[0].length)
  }

  private startContainer (rt: PodRt, c: ContainerRt): void {
    const pod = this.current(rt)
    if (!pod || rt.deleting || rt.failed || rt.nodeDown || !rt.ns || rt.gone) return
    const setWaiting = (reason: string, message: string) => {
      c.state = { waiting: { reason, message } }
      this.log(`kubelet: ${rt.name}/${c.name}: ${reason}: ${message}`)
      this.writeStatus(rt)
    }
    const resolved = this.resolve(c.image, c.spec.command ?? [], c.spec.args ?? [])
    if (!('bin' in resolved)) {
      setWaiting(resolved.reason, resolved.message)
      return
    }
    const termination = this.terminationFile(rt, c)
    fs.writeFileSync(termination, '')
    const mounts = [...this.mounts(rt, c), ...resolved.paths, [terminationPath(c), termination] as [string, string]].sort((a, b) => b[0].length - a[0].length)
    const env = this.containerEnv(rt, c, pod, mounts)
    if (typeof env === 'string') {
      setWaiting('CreateContainerConfigError', env)
      return
    }
    // $(VAR) in command and args, as the kubelet expands them.
    const finalArgs = resolved.argv.map(a => this.rewrite(expandVars(a, env), mounts))
    c.run++
    const runNo = c.run
    fs.appendFileSync(c.logPath, `\n----- ${new Date().toISOString()} start #${runNo} of ${c.name} (${c.image}): ${resolved.bin} ${finalArgs.join(' ')}\n`)
    c.logOffset = fs.statSync(c.logPath).size
    const fd = fs.openSync(c.logPath, 'a')
    const [bin, argv] = resolved.serviceAccount && rt.serviceAccountDir ? withServiceAccount(rt.serviceAccountDir, resolved.bin, finalArgs) : [resolved.bin, finalArgs]
    const proc = this.network.spawnIn(rt.ns, bin, argv, { env: cleanEnv(env), stdio: ['ignore', fd, fd], cwd: rt.dir })
    fs.closeSync(fd)
    c.proc = proc
    c.startedAtMs = Date.now()
    c.state = { running: { startedAt: now() } }
    c.started = true
    c.ready = false
    c.readiness = { successes: 0, failures: 0 }
    c.liveness = { successes: 0, failures: 0 }
    if (!c.init) rt.phase = 'Running'
    proc.on('error', e => {
      this.log(`kubelet: ${rt.name}/${c.name}: spawn: ${String(e)}`)
      // Never started: handled like a container that exited at once.
      if (proc.pid === undefined) this.exited(rt, c, runNo, 128, null)
    })
    proc.on('exit', (code, signal) => this.exited(rt, c, runNo, code, signal))
    this.writeStatus(rt)
    if (!c.init) this.startProbes(rt, c, runNo)
  }

  // The container's environment: HOSTNAME, the API server's address when
  // pods can reach it, then the spec's (values, downward API fields, with
  // $(VAR) of earlier ones expanded). A string says what is unsupported.
  private containerEnv (rt: PodRt, c: ContainerRt, pod: Obj, mounts: Array<[string, string]>): Record<string, string> | string {
    const env: Record<string, string> = { HOSTNAME: pod.spec?.hostname ?? rt.name }
    if (this.api) Object.assign(env, { KUBERNETES_SERVICE_HOST: this.api.host, KUBERNETES_SERVICE_PORT: String(this.api.port) })
    for (const e of c.spec.env ?? []) {
      if (e.value !== undefined) env[e.name] = this.rewrite(expandVars(String(e.value), env), mounts)
      else if (e.valueFrom?.fieldRef) {
        const v = this.fieldRef(rt, pod, String(e.valueFrom.fieldRef.fieldPath))
        if (v === undefined) return `unsupported fieldRef ${e.valueFrom.fieldRef.fieldPath}`
        env[e.name] = v
      } else if (e.valueFrom) return `unsupported env source for ${e.name}`
      else env[e.name] = ''
    }
    return env
  }

  // The downward API's fields (a missing label or annotation is "").
  private fieldRef (rt: PodRt, pod: Obj, f: string): string | undefined {
    const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(f)
    if (m) return pod.metadata[m[1] as 'labels' | 'annotations']?.[m[2]!] ?? ''
    return ({ 'metadata.name': rt.name, 'metadata.namespace': this.store.namespace, 'metadata.uid': rt.uid, 'status.podIP': rt.ip, 'status.hostIP': this.network.gateway, 'spec.nodeName': 'e2e-node', 'spec.serviceAccountName': pod.spec?.serviceAccountName ?? 'default' } as Record<string, string | undefined>)[f]
  }

  private terminationFile (rt: PodRt, c: ContainerRt): string {
    const d = path.join(rt.dir, 'termination')
    fs.mkdirSync(d, { recursive: true })
    return path.join(d, c.name)
  }

  // What the container left as its termination message: what it wrote to
  // its terminationMessagePath, else (with FallbackToLogsOnError and a
  // failure) the tail of this run's output.
  private terminationMessage (rt: PodRt, c: ContainerRt, exitCode: number): string | undefined {
    const file = this.terminationFile(rt, c)
    const written = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').slice(0, TERMINATION_MESSAGE_BYTES) : ''
    if (written !== '') return written
    if (exitCode === 0 || c.spec.terminationMessagePolicy !== 'FallbackToLogsOnError') return undefined
    let out: string
    try {
      const fd = fs.openSync(c.logPath, 'r')
      const size = fs.fstatSync(fd).size
      const buf = Buffer.alloc(Math.max(0, size - c.logOffset))
      fs.readSync(fd, buf, 0, buf.length, c.logOffset)
      fs.closeSync(fd)
      out = buf.toString('utf8')
    } catch {
      return undefined
    }
    const text = out.split('\n').slice(-FALLBACK_LOG_LINES - 1).join('\n').trim()
    return text === '' ? undefined : text.slice(-TERMINATION_MESSAGE_BYTES)
  }

  private exited (rt: PodRt, c: ContainerRt, runNo: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (c.run !== runNo) return
    this.stopProbes(c)
    c.proc = undefined
    const exitCode = code ?? (signal === 'SIGKILL' ? 137 : signal === 'SIGTERM' ? 143 : 1)
    const message = this.terminationMessage(rt, c, exitCode)
    const terminated = { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', ...(message !== undefined ? { message } : {}), startedAt: c.state.running?.startedAt ?? now(), finishedAt: now() } }
    c.ready = false
    c.started = false
    if (rt.nodeDown) return // the kubelet is down with its node: nothing is reported
    c.state = terminated
    c.lastState = terminated
    if (rt.deleting || rt.failed || rt.gone || c.stopping) {
      this.writeStatus(rt)
      return
    }
    this.log(`kubelet: ${rt.name}/${c.name} exited (${code ?? signal})`)
    const policy = this.current(rt)?.spec?.restartPolicy ?? 'Always'
    if (c.init && exitCode === 0) {
      rt.initDone++
      this.writeStatus(rt)
      this.startNext(rt)
      return
    }
    if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) {
      // A failed init container fails the pod; otherwise the pod is done
      // once every container is.
      rt.phase = c.init ? 'Failed' : podPhase(rt)
      this.writeStatus(rt)
      return
    }
    // A container that ran for a while restarts quickly again.
    if (Date.now() - c.startedAtMs > 10_000) c.backoffMs = BACKOFF_START_MS
    const delay = c.backoffMs
    c.backoffMs = Math.min(c.backoffMs * 2, BACKOFF_MAX_MS)
    c.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${delay} ms restarting failed container=${c.name} pod=${rt.name}` } }
    this.writeStatus(rt)
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined
      if (c.run !== runNo || c.proc) return
      c.restartCount++
      this.startContainer(rt, c)
    }, delay)
  }

  // Stops a container: SIGTERM, SIGKILL after the grace period.
  private stopContainer (rt: PodRt, c: ContainerRt, graceS: number): Promise<void> {
    if (c.restartTimer) clearTimeout(c.restartTimer)
    c.restartTimer = undefined
    this.stopProbes(c)
    const proc = c.proc
    if (proc?.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
    return new Promise<void>(resolve => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), Math.min(graceS, GRACE_CAP_S) * 1000)
      proc.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      proc.kill('SIGTERM')
    })
  }

  // An image change restarts the container with its volumes kept; anything
  // else in the spec cannot change (the store refuses such updates).
  private specChanged (rt: PodRt, pod: Obj): void {
    for (const spec of pod.spec?.containers ?? []) {
      const c = rt.containers.find(x => x.name === spec.name)
      if (!c || c.image === spec.image) continue
      this.imageChanges.push({ pod: rt.name, from: c.image, to: spec.image, atMs: Date.now() })
      this.log(`kubelet: ${rt.name}/${c.name}: image ${c.image} -> ${spec.image}: restarting container`)
      c.spec = spec
      c.image = spec.image
      if (!rt.ns || rt.failed || rt.deleting) continue
      const grace = pod.spec?.terminationGracePeriodSeconds ?? 30
      const stopping = this.stopContainer(rt, c, grace).then(() => {
        if (c.stopping !== stopping) return
        c.stopping = undefined
        c.restartCount++
        c.backoffMs = BACKOFF_START_MS
        this.startContainer(rt, c)
      })
      c.stopping = stopping
    }
  }

  private async terminate (rt: PodRt, pod: Obj): Promise<void> {
    await rt.starting
    const grace = pod.spec?.terminationGracePeriodSeconds ?? 30
    await Promise.all([...rt.initContainers, ...rt.containers].map(c => this.stopContainer(rt, c, rt.nodeDown ? 0 : grace)))
    this.store.remove(POD, rt.name)
  }

  private async teardown (rt: PodRt): Promise<void> {
    if (rt.gone) return
    rt.gone = true
    if (rt.nodeTimer) clearTimeout(rt.nodeTimer)
    for (const c of [...rt.initContainers, ...rt.containers]) {
      this.stopProbes(c)
      if (c.restartTimer) clearTimeout(c.restartTimer)
      c.proc?.kill('SIGKILL')
    }
    await rt.starting
    if (this.pods.get(rt.name) === rt) this.pods.delete(rt.name)
    if (rt.ns) await this.network.removeNamespace(rt.ns)
    fs.rmSync(rt.dir, { recursive: true, force: true })
  }

  // ---- probes ----

  private startProbes (rt: PodRt, c: ContainerRt, runNo: number): void {
    const schedule = (kind: 'readiness' | 'liveness') => {
      const probe = kind === 'readiness' ? c.spec.readinessProbe : c.spec.livenessProbe
      const st = c[kind]
      if (!probe) {
        if (kind === 'readiness') {
          c.ready = true
          this.writeStatus(rt)
        }
        return
      }
      const period = Math.min(probe.periodSeconds ?? 10, PERIOD_CAP_S) * 1000
      const timeout = Math.min(probe.timeoutSeconds ?? 1, TIMEOUT_CAP_S) * 1000
      const failureThreshold = probe.failureThreshold ?? 3
      const successThreshold = probe.successThreshold ?? 1
      const tick = async () => {
        if (c.run !== runNo || !c.proc || rt.gone || rt.nodeDown) return
        const ok = await this.probe(rt, c, probe, timeout)
        if (c.run !== runNo || !c.proc || rt.gone || rt.nodeDown) return
        if (ok) {
          st.successes++
          st.failures = 0
        } else {
          st.failures++
          st.successes = 0
        }
        if (kind === 'readiness') {
          if (ok && !c.ready && st.successes >= successThreshold) {
            c.ready = true
            this.writeStatus(rt)
          } else if (!ok && c.ready && st.failures >= failureThreshold) {
            c.ready = false
            this.writeStatus(rt)
          }
        } else if (!ok && st.failures >= failureThreshold) {
          this.log(`kubelet: ${rt.name}/${c.name}: liveness probe failed ${st.failures} times: killing container`)
          c.killReason = 'liveness'
          const grace = this.current(rt)?.spec?.terminationGracePeriodSeconds ?? 30
          // The exit handler restarts it (restartPolicy).
          void this.stopContainer(rt, c, Math.min(grace, 2))
          return
        }
        st.timer = setTimeout(() => void tick(), period)
      }
      st.timer = setTimeout(() => void tick(), Math.min(probe.initialDelaySeconds ?? 0, INITIAL_DELAY_CAP_S) * 1000)
    }
    schedule('readiness')
    schedule('liveness')
  }

  private stopProbes (c: ContainerRt): void {
    if (c.readiness.timer) clearTimeout(c.readiness.timer)
    if (c.liveness.timer) clearTimeout(c.liveness.timer)
    c.readiness.timer = undefined
    c.liveness.timer = undefined
  }

  private resolvePort (c: ContainerRt, port: unknown): number | undefined {
    if (typeof port === 'number') return port
    if (typeof port === 'string' && /^\d+$/.test(port)) return Number(port)
    const p = (c.spec.ports ?? []).find((x: any) => x.name === port)
    return p?.containerPort
  }

  private async probe (rt: PodRt, c: ContainerRt, probe: any, timeoutMs: number): Promise<boolean> {
    const ip = rt.ip
    if (!ip || !rt.ns) return false
    try {
      if (probe.httpGet) {
        const port = this.resolvePort(c, probe.httpGet.port)
        if (!port) return false
        const host = probe.httpGet.host ?? ip
        await this.network.assertRoute(host)
        return await new Promise<boolean>(resolve => {
          const req = http.get({ host, port, path: probe.httpGet.path ?? '/', timeout: timeoutMs, agent: false, headers: { 'User-Agent': 'kube-probe/1.30' } }, res => {
            res.resume()
            resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400)
          })
          req.on('timeout', () => req.destroy())
          req.on('error', () => resolve(false))
        })
      }
      if (probe.tcpSocket) {
        const port = this.resolvePort(c, probe.tcpSocket.port)
        if (!port) return false
        const host = probe.tcpSocket.host ?? ip
        await this.network.assertRoute(host)
        return await tcpOpens(host, port, timeoutMs)
      }
      if (probe.exec) {
        const [cmd, ...args] = probe.exec.command ?? []
        const bin = BINARIES[path.basename(cmd ?? '')]
        if (!bin) return false
        const r = await this.network.runIn(rt.ns, bin, args, { timeoutMs })
        return r.code === 0
      }
    } catch (e) {
      this.log(`kubelet: probe of ${rt.name}: ${String(e)}`)
    }
    return false
  }

  // ---- status ----

  private writeStatus (rt: PodRt): void {
    if (rt.gone) return
    const pod = this.current(rt)
    if (!pod) return
    const allReady = rt.containers.length > 0 && rt.containers.every(c => c.ready) && !rt.failed
    const ready = allReady && !rt.nodeNotReady
    const cond = (type: string, status: boolean, reason?: string, message?: string) => {
      const s = status ? 'True' : 'False'
      const key = `${type}=${s}`
      if (!rt.transitions[key]) {
        rt.transitions[key] = now()
        delete rt.transitions[`${type}=${status ? 'False' : 'True'}`]
      }
      return { type, status: s, lastProbeTime: undefined, lastTransitionTime: rt.transitions[key], ...(reason ? { reason } : {}), ...(message ? { message } : {}) }
    }
    const notReadyMsg = (kind: string) => {
      const names = rt.containers.filter(c => !c.ready).map(c => c.name)
      return names.length ? `containers with ${kind} status: [${names.join(' ')}]` : undefined
    }
    const initialized = rt.initDone >= rt.initContainers.length
    const pending = rt.initContainers.slice(rt.initDone).map(c => c.name)
    const conditions = rt.scheduled
      ? [
          initialized ? cond('Initialized', true) : cond('Initialized', false, 'ContainersNotInitialized', `containers with incomplete status: [${pending.join(' ')}]`),
          rt.nodeNotReady ? cond('Ready', false, 'NodeNotReady') : cond('Ready', ready, ready ? undefined : 'ContainersNotReady', ready ? undefined : notReadyMsg('unready')),
          cond('ContainersReady', allReady, allReady ? undefined : 'ContainersNotReady', allReady ? undefined : notReadyMsg('unready')),
          cond('PodScheduled', true),
        ]
      : [cond('PodScheduled', false, 'Unschedulable', rt.scheduleMessage)]
    const status: any = {
      phase: rt.phase,
      conditions: conditions.map(c => JSON.parse(JSON.stringify(c))),
      qosClass: 'BestEffort',
    }
    if (rt.reason) status.reason = rt.reason
    if (rt.message) status.message = rt.message
    if (rt.ip) {
      status.hostIP = this.network.gateway
      status.hostIPs = [{ ip: this.network.gateway }]
      status.podIP = rt.ip
      status.podIPs = [{ ip: rt.ip }]
    }
    if (rt.startTime) status.startTime = rt.startTime
    if (rt.scheduled && rt.ns) {
      const statusOf = (c: ContainerRt) => ({
        name: c.name,
        ready: c.ready && !rt.failed,
        started: c.started,
        restartCount: c.restartCount,
        image: c.image,
        imageID: `docker-pullable://${c.image.split(':')[0]}@sha256:${createHash('sha256').update(c.image).digest('hex')}`,
        containerID: `containerd://${createHash('sha256').update(`${rt.uid}/${c.name}/${c.run}`).digest('hex')}`,
        // Containers (and later init containers) wait for the init
        // containers before them (PodInitializing).
        state: c.run === 0 && (!c.init || rt.initContainers.indexOf(c) > rt.initDone) ? { waiting: { reason: 'PodInitializing' } } : c.state,
        ...(c.lastState ? { lastState: c.lastState } : { lastState: {} }),
      })
      status.containerStatuses = rt.containers.map(statusOf)
      if (rt.initContainers.length) status.initContainerStatuses = rt.initContainers.map(statusOf)
    }
    const prev = rt.readyLog[rt.readyLog.length - 1]
    if (prev?.[1] !== ready) rt.readyLog.push([Date.now(), ready])
    this.store.updateStatus(POD, rt.name, status)
  }

  // ---- test controls ----

  private rt (name: string): PodRt {
    const rt = this.pods.get(name)
    if (!rt) throw new Error(`no running pod ${name}`)
    return rt
  }

  // The container's process id (for kill -9 from a test).
  pid (name: string, container?: string): number | undefined {
    const rt = this.pods.get(name)
    const c = container ? rt?.containers.find(x => x.name === container) : rt?.containers[0]
    return c?.proc?.pid
  }

  namespaceOf (name: string): Netns | undefined {
    return this.pods.get(name)?.ns
  }

  readyLog (name: string): Array<[number, boolean]> {
    return this.pods.get(name)?.readyLog ?? []
  }

  // Kill the container's process (it restarts per restartPolicy).
  killContainer (name: string, signal: NodeJS.Signals = 'SIGKILL'): void {
    const rt = this.rt(name)
    for (const c of rt.containers) c.proc?.kill(signal)
  }

  // The process dies hard and the pod is Failed (as after an eviction); it
  // is not restarted and stays until deleted.
  failPod (name: string, reason = 'Evicted', message = 'The node was low on resource: memory.'): void {
    const rt = this.rt(name)
    rt.failed = true
    rt.phase = 'Failed'
    rt.reason = reason
    rt.message = message
    for (const c of [...rt.initContainers, ...rt.containers]) {
      if (c.restartTimer) clearTimeout(c.restartTimer)
      this.stopProbes(c)
      c.ready = false
      c.proc?.kill('SIGKILL')
    }
    this.writeStatus(rt)
  }

  // The pod's node goes away: its processes die, its link goes down, nothing
  // is restarted or reported; after the node grace period the pod is marked
  // not ready (by the node lifecycle controller), nothing else changes.
  async nodeDown (name: string): Promise<void> {
    const rt = this.rt(name)
    rt.nodeDown = true
    for (const c of rt.containers) {
      if (c.restartTimer) clearTimeout(c.restartTimer)
      this.stopProbes(c)
      c.proc?.kill('SIGKILL')
    }
    if (rt.ns) await this.network.setLink(rt.ns, false)
    rt.nodeTimer = setTimeout(() => {
      rt.nodeNotReady = true
      this.writeStatus(rt)
    }, NODE_GRACE_MS)
  }

  // The node is back: the kubelet finds the containers dead and starts the
  // pod again in a new sandbox: init containers first, as after a reboot.
  async nodeUp (name: string): Promise<void> {
    const rt = this.rt(name)
    if (rt.nodeTimer) clearTimeout(rt.nodeTimer)
    if (rt.ns) await this.network.setLink(rt.ns, true)
    rt.nodeDown = false
    rt.nodeNotReady = false
    for (const c of [...rt.initContainers, ...rt.containers]) while (c.proc) await sleep(50)
    for (const c of rt.containers) {
      c.state = { terminated: { exitCode: 137, reason: 'Error', finishedAt: now() } }
      c.lastState = c.state
      c.ready = false
      if (!rt.deleting) c.restartCount++
    }
    if (rt.deleting) {
      this.store.remove(POD, rt.name)
      return
    }
    // A new pod sandbox: the init containers run again first (volumes kept).
    for (const c of rt.initContainers) c.restartCount++
    rt.initDone = 0
    this.writeStatus(rt)
    this.startNext(rt)
  }

  // Pods named `name` (now or later) stay Pending: no node takes them
  // (PodScheduled False, Unschedulable), as with a node selector nothing
  // matches. Nothing runs, so the member never starts.
  unschedulable (name: string, message = '0/1 nodes are available: 1 node(s) didn\'t match Pod\'s node affinity/selector.'): void {
    this.unschedulableNames.set(name, message)
  }

  // Undoes unschedulable(name); a Pending pod of that name starts now.
  schedulable (name: string): void {
    if (!this.unschedulableNames.delete(name)) return
    const rt = this.pods.get(name)
    if (rt && !rt.scheduled && !rt.deleting && !rt.gone) rt.starting = this.startPod(rt).catch(e => this.log(`kubelet: pod ${rt.name}: ${String(e)}`))
  }

  // Stops everything at once (end of a run).
  async stopAll (): Promise<void> {
    this.stopped = true
    this.store.off('event', this.onEvent)
    await Promise.all([...this.pods.values()].map(rt => this.teardown(rt)))
  }

  killAllSync (): void {
    this.stopped = true
    for (const rt of this.pods.values()) {
      for (const c of [...rt.initContainers, ...rt.containers]) {
        this.stopProbes(c)
        if (c.restartTimer) clearTimeout(c.restartTimer)
        try {
          c.proc?.kill('SIGKILL')
        } catch {
          /* gone */
        }
      }
    }
  }
}
