// Stand-ins for the Service machinery: the API server's clusterIP
// allocation, the endpoints controller, kube-proxy, a cloud load balancer
// and cluster DNS.
//
// - A Service with a cluster IP gets a network namespace holding that IP
//   (and, for type LoadBalancer, an "external" address, reported in
//   status.loadBalancer.ingress), where proxy.mjs forwards every service
//   port to the ready pods the selector matches (targetPort by number or
//   by the container port's name).
// - DNS is a hosts table written into every namespace with cluster DNS:
//   `<svc>.<ns>.svc.<domain>` (and the shorter search-path forms) to the
//   cluster IP, or for a headless Service to its endpoints; and
//   `<hostname>.<subdomain>.<ns>.svc.<domain>` (and shorter forms) for pods
//   whose subdomain names a headless Service that selects them (ready ones,
//   or all with publishNotReadyAddresses).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import type { ChildProcess } from 'node:child_process'
import { Store, POD, SERVICE, type Obj, type WatchEvent } from './store.js'
import type { Network, Netns } from './network.js'
import { cleanEnv } from './util.js'

const PROXY_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'proxy.mjs')

interface Proxy {
  service: string
  uid: string
  ns: Netns
  externalIP?: string
  proc: ChildProcess
  seq: number
  acks: Map<number, () => void>
  lastRoutes?: string
}

export const selects = (selector: Record<string, string> | undefined, pod: Obj) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v)

export const podReady = (p: Obj): boolean => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')

const terminal = (p: Obj) => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded'

export class Services {
  private readonly proxies = new Map<string, Proxy>()
  private readonly allocated = new Map<string, string>() // service uid -> cluster IP
  private running = false
  private dirty = false
  private idle: Promise<void> = Promise.resolve()
  private stopped = false
  private readonly onEvent = (ev: WatchEvent) => {
    if (ev.key === POD || ev.key === SERVICE) this.kick()
  }

  constructor (
    private readonly store: Store,
    private readonly network: Network,
    private readonly dir: string,
    private readonly clusterDomain: string,
    private readonly log: (s: string) => void,
  ) {
    store.admitters.push(o => {
      if (o.kind !== 'Service') return
      o.spec ??= {}
      o.spec.type ??= 'ClusterIP'
      o.spec.sessionAffinity ??= 'None'
      if (o.spec.clusterIP !== 'None') {
        const ip = this.network.allocIp('service')
        o.spec.clusterIP = ip
        o.spec.clusterIPs = [ip]
        this.allocated.set(o.metadata.uid ?? '', ip)
      }
    })
    store.on('event', this.onEvent)
  }

  // Coalesces changes: one reconcile runs at a time, another follows if
  // anything changed meanwhile. The DNS table is rewritten synchronously,
  // so a pod's names exist before its containers start.
  kick (): void {
    if (this.stopped) return
    this.network.setClusterHosts(this.dnsTable())
    this.dirty = true
    if (this.running) return
    this.running = true
    this.idle = (async () => {
      while (this.dirty && !this.stopped) {
        this.dirty = false
        try {
          await this.reconcile()
        } catch (e) {
          this.log(`services: ${String(e)}`)
        }
      }
      this.running = false
    })()
  }

  async settled (): Promise<void> {
    while (this.running) await this.idle
  }

  private names (name: string): string {
    const ns = this.store.namespace
    return [`${name}.${ns}.svc.${this.clusterDomain}`, `${name}.${ns}.svc`, `${name}.${ns}`, name].join(' ')
  }

  // Pods' own names come first: a reverse lookup of a pod address through
  // the hosts file (glibc takes the first line that has it; Go collects all)
  // then answers the pod's name, as CoreDNS's PTR record for an endpoint
  // with a hostname does. etcd relies on that to match a peer's wildcard
  // certificate to the address it connects from.
  dnsTable (): string {
    const lines: string[] = []
    const services = this.store.list(SERVICE)
    const pods = this.store.list(POD).filter(p => p.status?.podIP && !terminal(p))
    for (const p of pods) {
      const sub = p.spec?.subdomain
      if (!sub) continue
      const svc = services.find(s => s.metadata.name === sub && s.spec?.clusterIP === 'None')
      if (!svc || !selects(svc.spec.selector, p) || !(podReady(p) || svc.spec.publishNotReadyAddresses)) continue
      const host = p.spec.hostname ?? p.metadata.name
      lines.push(`${p.status.podIP}\t${this.names(`${host}.${sub}`)}`)
    }
    for (const svc of services) {
      if (svc.spec?.clusterIP && svc.spec.clusterIP !== 'None') {
        lines.push(`${svc.spec.clusterIP}\t${this.names(svc.metadata.name)}`)
      } else if (svc.spec?.clusterIP === 'None') {
        for (const p of pods) {
          if (selects(svc.spec.selector, p) && (podReady(p) || svc.spec.publishNotReadyAddresses)) {
            lines.push(`${p.status.podIP}\t${this.names(svc.metadata.name)}`)
          }
        }
      }
    }
    return lines.join('\n')
  }

  // Ready, running, not terminating pods the Service selects, per service
  // port: "ip:targetPort".
  routes (svc: Obj): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    const pods = this.store
      .list(POD)
      .filter(p => p.status?.podIP !== undefined && p.status.podIP !== '' && p.status.phase === 'Running' && !p.metadata.deletionTimestamp && selects(svc.spec?.selector, p))
      .filter(p => podReady(p) || svc.spec?.publishNotReadyAddresses === true)
    for (const port of svc.spec?.ports ?? []) {
      const target = port.targetPort ?? port.port
      out[String(port.port)] = pods.flatMap(p => {
        let n: number | undefined = typeof target === 'number' ? target : /^\d+$/.test(String(target)) ? Number(target) : undefined
        if (n === undefined) {
          for (const c of p.spec?.containers ?? []) {
            const cp = (c.ports ?? []).find((x: any) => x.name === target)
            if (cp) n = cp.containerPort
          }
        }
        return n === undefined ? [] : [`${p.status.podIP}:${n}`]
      })
    }
    return out
  }

  private async reconcile (): Promise<void> {
    const services = this.store.list(SERVICE)
    // Gone, or changed so its addresses differ: remove the proxy.
    for (const [name, px] of [...this.proxies]) {
      const svc = services.find(s => s.metadata.name === name)
      const wantLB = svc?.spec?.type === 'LoadBalancer'
      if (svc?.metadata.uid !== px.uid || wantLB !== !!px.externalIP) {
        this.proxies.delete(name)
        px.proc.stdin?.end()
        px.proc.kill('SIGKILL')
        await this.network.removeNamespace(px.ns)
        if (svc?.metadata.uid !== px.uid) this.allocated.delete(px.uid)
      }
    }
    // Cluster IPs of deleted Services that never got a proxy.
    for (const [uid, ip] of [...this.allocated]) {
      if (!services.some(s => s.metadata.uid === uid) && ![...this.proxies.values()].some(p => p.uid === uid)) {
        this.allocated.delete(uid)
        this.network.releaseIp(ip)
      }
    }
    for (const svc of services) {
      const ip = svc.spec?.clusterIP
      if (!ip || ip === 'None') continue
      let px = this.proxies.get(svc.metadata.name)
      if (!px) {
        px = await this.startProxy(svc, ip)
        if (!px) continue
      }
      const routes = this.routes(svc)
      for (const eps of Object.values(routes)) for (const ep of eps) await this.network.assertRoute(ep.split(':')[0] ?? '', px.ns)
      const key = JSON.stringify(routes)
      if (key !== px.lastRoutes) {
        await this.configure(px, routes)
        px.lastRoutes = key
      }
      if (px.externalIP) {
        const cur = this.store.get(SERVICE, svc.metadata.name)
        if (cur?.metadata.uid === px.uid) {
          this.store.updateStatus(SERVICE, svc.metadata.name, { ...(cur.status ?? {}), loadBalancer: { ingress: [{ ip: px.externalIP, ipMode: 'VIP' }] } })
        }
      }
    }
  }

  private async startProxy (svc: Obj, clusterIP: string): Promise<Proxy | undefined> {
    const ips = [clusterIP]
    let externalIP: string | undefined
    if (svc.spec?.type === 'LoadBalancer') {
      externalIP = this.network.allocIp('lb')
      ips.push(externalIP)
    }
    const ns = await this.network.addNamespace('svc', ips, { clusterDns: true })
    const logFd = fs.openSync(path.join(this.dir, 'logs', `proxy-${svc.metadata.name}.log`), 'a')
    const proc = this.network.spawnIn(ns, process.execPath, [PROXY_SCRIPT], { env: cleanEnv(), stdio: ['pipe', 'pipe', logFd] })
    fs.closeSync(logFd)
    const px: Proxy = { service: svc.metadata.name, uid: svc.metadata.uid ?? '', ns, proc, seq: 0, acks: new Map(), ...(externalIP ? { externalIP } : {}) }
    createInterface({ input: proc.stdout! }).on('line', line => {
      try {
        const m = JSON.parse(line) as { seq: number, error?: string }
        if (m.error) this.log(`proxy ${px.service}: ${m.error}`)
        px.acks.get(m.seq)?.()
        px.acks.delete(m.seq)
      } catch {
        /* not ours */
      }
    })
    proc.stdin?.on('error', () => {})
    proc.on('exit', (code, sig) => {
      if (!this.stopped && this.proxies.get(px.service) === px) this.log(`proxy ${px.service} exited (${code ?? sig})`)
    })
    this.proxies.set(svc.metadata.name, px)
    return px
  }

  private configure (px: Proxy, routes: Record<string, string[]>): Promise<void> {
    const seq = ++px.seq
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        px.acks.delete(seq)
        reject(new Error(`proxy ${px.service} did not acknowledge its configuration`))
      }, 10_000)
      px.acks.set(seq, () => {
        clearTimeout(timer)
        resolve()
      })
      px.proc.stdin?.write(JSON.stringify({ seq, ports: routes }) + '\n')
    })
  }

  externalIP (service: string): string | undefined {
    return this.proxies.get(service)?.externalIP
  }

  proxyNamespace (service: string): Netns | undefined {
    return this.proxies.get(service)?.ns
  }

  async stopAll (): Promise<void> {
    this.stopped = true
    this.store.off('event', this.onEvent)
    for (const px of this.proxies.values()) {
      px.proc.stdin?.end()
      px.proc.kill('SIGKILL')
      await this.network.removeNamespace(px.ns)
    }
    this.proxies.clear()
  }

  killAllSync (): void {
    this.stopped = true
    for (const px of this.proxies.values()) {
      try {
        px.proc.kill('SIGKILL')
      } catch {
        /* gone */
      }
    }
  }
}
