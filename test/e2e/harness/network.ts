// The harness's network: one Linux bridge in the host namespace with a
// private /24, and one network namespace per pod / service / client, each
// joined to the bridge by a veth pair and given its own address. Namespaces
// have no default route, so nothing in them can reach beyond the bridge; the
// host reaches them only through the bridge (checked with `ip route get`
// before any address is used).
//
// Every name the harness creates starts with PREFIX and carries the owning
// process id (base 36), so a later run can tell leftovers of a crashed run
// from live ones and remove them.
import fs from 'node:fs'
import path from 'node:path'
import os from 'node:os'
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { runOk, run, runSyncQuiet, cleanEnv, sleep } from './util.js'

export const PREFIX = 'eoe2e'
const NETNS_DIR = '/etc/netns'
const LOCK_FILE = path.join(os.tmpdir(), `${PREFIX}.lock`)

// Private /24s tried in order; the first that overlaps no route or address
// of this machine is used. (Never 10.255.x.x: this host's resolver lives there.)
const CANDIDATE_SUBNETS = ['10.213.47', '10.213.48', '172.30.213', '192.168.213']

// Fixed width (pid_max is below 36^5), so names parse back to their owner.
export const runId = process.pid.toString(36).padStart(5, '0')

export interface Netns {
  name: string
  // Host side of the veth pair (on the bridge).
  veth: string
  ips: string[]
  // Whether this namespace gets the cluster's DNS names in its hosts file.
  clusterDns: boolean
  // Lines for the namespace's own names (a pod's hostname), before the table.
  ownHosts: string
  lastHosts?: string
  // Addresses this namespace is cut off from (partition()).
  partitionedFrom?: string[]
}

function pidAlive (pid: number): boolean {
  if (!Number.isFinite(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node')
  } catch {
    return false
  }
}

// The run a harness name belongs to, or undefined for names not ours.
function ownerPid (name: string): number | undefined {
  const m = /^eoe2e-?([0-9a-z]{5})/.exec(name)
  if (!m?.[1]) return undefined
  return parseInt(m[1], 36)
}

function ipToInt (ip: string): number {
  const p = ip.split('.').map(Number)
  return (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0
}

function cidrOverlaps (a: string, b: string): boolean {
  const [aip = '', alen = '32'] = a.split('/')
  const [bip = '', blen = '32'] = b.split('/')
  const len = Math.min(Number(alen), Number(blen))
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
  return ((ipToInt(aip) & mask) >>> 0) === ((ipToInt(bip) & mask) >>> 0)
}

// Removes everything an earlier, no longer running harness left behind:
// processes in its namespaces, the namespaces, links, /etc/netns dirs,
// temp dirs and a stale lock.
export function removeLeftovers (log: (s: string) => void = () => {}): void {
  const dead = (name: string) => {
    const pid = ownerPid(name)
    return pid !== undefined && pid !== process.pid && !pidAlive(pid)
  }
  const namespaces = runSyncQuiet('ip', ['netns', 'list'])
    .split('\n')
    .map(l => l.split(' ')[0] ?? '')
    .filter(n => n.startsWith(`${PREFIX}-`))
  for (const ns of namespaces.filter(dead)) {
    log(`removing leftover namespace ${ns}`)
    killNamespacePidsSync(ns)
    runSyncQuiet('ip', ['netns', 'del', ns])
  }
  const links = runSyncQuiet('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map(l => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '')
    .filter(n => n.startsWith(PREFIX))
  for (const link of links.filter(dead)) {
    log(`removing leftover link ${link}`)
    runSyncQuiet('ip', ['link', 'del', link])
  }
  if (fs.existsSync(NETNS_DIR)) {
    for (const d of fs.readdirSync(NETNS_DIR).filter(n => n.startsWith(`${PREFIX}-`)).filter(dead)) {
      fs.rmSync(path.join(NETNS_DIR, d), { recursive: true, force: true })
    }
  }
  for (const d of fs.readdirSync(os.tmpdir()).filter(n => n.startsWith(`${PREFIX}-`)).filter(dead)) {
    fs.rmSync(path.join(os.tmpdir(), d), { recursive: true, force: true })
  }
}

function killNamespacePidsSync (ns: string): void {
  for (const p of runSyncQuiet('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(p), 'SIGKILL')
    } catch {
      /* gone */
    }
  }
}

// One end-to-end run at a time on this machine (tap runs test files in
// parallel; two runs would share CPU and trip over each other's timing).
export async function acquireMachineLock (timeoutMs: number, log: (s: string) => void): Promise<() => void> {
  const deadline = Date.now() + timeoutMs
  let said = false
  for (;;) {
    try {
      fs.writeFileSync(LOCK_FILE, String(process.pid), { flag: 'wx' })
      const release = () => {
        try {
          if (fs.readFileSync(LOCK_FILE, 'utf8') === String(process.pid)) fs.unlinkSync(LOCK_FILE)
        } catch {
          /* already gone */
        }
      }
      return release
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    let holder: number
    try {
      holder = Number(fs.readFileSync(LOCK_FILE, 'utf8'))
    } catch {
      continue
    }
    if (!pidAlive(holder)) {
      fs.rmSync(LOCK_FILE, { force: true })
      continue
    }
    if (!said) {
      log(`waiting for another end-to-end run (pid ${holder}) to finish`)
      said = true
    }
    if (Date.now() > deadline) throw new Error(`another end-to-end run (pid ${holder}) holds ${LOCK_FILE}`)
    await sleep(1000)
  }
}

function pickSubnet (): string {
  const used: string[] = []
  for (const l of runSyncQuiet('ip', ['-o', '-4', 'route', 'show', 'table', 'all']).split('\n')) {
    const dst = l.split(' ')[0] ?? ''
    if (/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(dst)) used.push(dst.includes('/') ? dst : `${dst}/32`)
  }
  for (const l of runSyncQuiet('ip', ['-o', '-4', 'addr', 'show']).split('\n')) {
    const m = / inet (\d+\.\d+\.\d+\.\d+\/\d+)/.exec(l)
    if (m?.[1]) used.push(m[1])
  }
  used.push('10.255.0.0/16')
  for (const c of CANDIDATE_SUBNETS) {
    if (!used.some(u => cidrOverlaps(u, `${c}.0/24`))) return c
  }
  throw new Error(`no free private /24 among ${CANDIDATE_SUBNETS.join(', ')}`)
}

export class Network {
  readonly bridge = `${PREFIX}${runId}b`
  readonly subnet: string
  readonly gateway: string
  private seq = 0
  private readonly namespaces = new Map<string, Netns>()
  private readonly usedIps = new Set<string>()
  // Next address to try per range: addresses are handed out round robin,
  // so a new namespace rarely gets an address that neighbours still have
  // cached for a removed one (and released addresses are flushed anyway).
  private readonly nextIp: Record<string, number> = {}
  private readonly routeOk = new Set<string>()
  private clusterHosts = ''
  private destroyed = false

  private constructor (subnet: string) {
    this.subnet = subnet
    this.gateway = `${subnet}.1`
  }

  static async create (): Promise<Network> {
    const net = new Network(pickSubnet())
    // A fixed MAC address: a bridge otherwise takes the lowest of its ports'
    // and changes it as veths come and go, leaving every namespace with a
    // stale ARP entry for the gateway (replies to the host get lost).
    const mac = `02:e2:${(process.pid & 0xffffffff).toString(16).padStart(8, '0').replace(/(..)(?!$)/g, '$1:')}`
    await runOk('ip', ['link', 'add', net.bridge, 'address', mac, 'type', 'bridge'])
    await runOk('ip', ['addr', 'add', `${net.gateway}/24`, 'dev', net.bridge])
    await runOk('ip', ['link', 'set', net.bridge, 'up'])
    return net
  }

  // Address plan of the /24: .1 bridge, .2-.9 infrastructure, .10-.199
  // pods, .200-.229 service cluster IPs, .230-.249 load balancers.
  allocIp (kind: 'infra' | 'pod' | 'service' | 'lb'): string {
    const ranges = { infra: [2, 9], pod: [10, 199], service: [200, 229], lb: [230, 249] } as const
    const [lo, hi] = ranges[kind]
    const size = hi - lo + 1
    const start = this.nextIp[kind] ?? lo
    for (let i = 0; i < size; i++) {
      const n = lo + ((start - lo + i) % size)
      const ip = `${this.subnet}.${n}`
      if (!this.usedIps.has(ip)) {
        this.usedIps.add(ip)
        this.nextIp[kind] = n + 1
        return ip
      }
    }
    throw new Error(`no free ${kind} address`)
  }

  // Frees an address and forgets its neighbour (ARP) entries everywhere, so
  // whoever gets it next is found at its own MAC address.
  releaseIp (ip: string): void {
    if (!this.usedIps.delete(ip)) return
    runSyncQuiet('ip', ['neigh', 'flush', 'to', ip])
    for (const ns of this.namespaces.values()) runSyncQuiet('ip', ['-n', ns.name, 'neigh', 'flush', 'to', ip])
  }

  inSubnet (ip: string): boolean {
    return ip.startsWith(`${this.subnet}.`) && ip !== this.gateway
  }

  // A namespace joined to the bridge with the given addresses. Its
  // /etc/netns files exist before anything runs in it: resolv.conf points at
  // the namespace's own loopback (nothing listens there: names not in the
  // hosts file fail at once and no query leaves the machine).
  async addNamespace (role: string, ips: string[], opts: { clusterDns: boolean, ownHosts?: string }): Promise<Netns> {
    const id = (this.seq++).toString(36)
    const ns: Netns = {
      name: `${PREFIX}-${runId}-${role}-${id}`,
      veth: `${PREFIX}${runId}v${id}`,
      ips,
      clusterDns: opts.clusterDns,
      ownHosts: opts.ownHosts ?? '',
    }
    if (ns.veth.length > 15) throw new Error(`interface name too long: ${ns.veth}`)
    this.namespaces.set(ns.name, ns)
    const dir = path.join(NETNS_DIR, ns.name)
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n')
    this.writeHosts(ns)
    await runOk('ip', ['netns', 'add', ns.name])
    await runOk('ip', ['link', 'add', ns.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name])
    await runOk('ip', ['link', 'set', ns.veth, 'master', this.bridge, 'up'])
    for (const ip of ips) await runOk('ip', ['-n', ns.name, 'addr', 'add', `${ip}/24`, 'dev', 'eth0'])
    await runOk('ip', ['-n', ns.name, 'link', 'set', 'eth0', 'up'])
    await runOk('ip', ['-n', ns.name, 'link', 'set', 'lo', 'up'])
    return ns
  }

  // Detaches (down) or re-attaches (up) a namespace's link to the bridge.
  async setLink (ns: Netns, up: boolean): Promise<void> {
    await runOk('ip', ['link', 'set', ns.veth, up ? 'up' : 'down'])
  }

  // A network partition between pods: `ns` is cut off from `peers` by
  // blackhole routes inside it, so nothing it sends them leaves and what
  // they send it gets no answer (TCP fails both ways: its SYN-ACKs and ACKs
  // are dropped too). The host (the kubelet's probes, the hook) and the
  // Services' proxies still reach it, as across a partition between nodes.
  async partition (ns: Netns, peers: string[]): Promise<void> {
    if (!this.namespaces.has(ns.name)) throw new Error(`partition: ${ns.name} is not a namespace of this harness`)
    for (const ip of peers) {
      if (!this.inSubnet(ip)) throw new Error(`partition: ${ip} is not in the harness subnet ${this.subnet}.0/24`)
      await runOk('ip', ['-n', ns.name, 'route', 'replace', 'blackhole', `${ip}/32`])
    }
    ns.partitionedFrom = [...new Set([...(ns.partitionedFrom ?? []), ...peers])]
  }

  // Ends partition(): the blackhole routes go.
  async heal (ns: Netns): Promise<void> {
    for (const ip of ns.partitionedFrom ?? []) await runOk('ip', ['-n', ns.name, 'route', 'del', 'blackhole', `${ip}/32`])
    ns.partitionedFrom = []
  }

  async removeNamespace (ns: Netns): Promise<void> {
    if (!this.namespaces.has(ns.name)) return
    this.namespaces.delete(ns.name)
    for (const ip of ns.ips) {
      this.releaseIp(ip)
      for (const k of [...this.routeOk]) if (k.endsWith(`|${ip}`)) this.routeOk.delete(k)
    }
    const pids = (await run('ip', ['netns', 'pids', ns.name])).stdout.split(/\s+/).filter(Boolean)
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    await run('ip', ['link', 'del', ns.veth])
    await run('ip', ['netns', 'del', ns.name])
    fs.rmSync(path.join(NETNS_DIR, ns.name), { recursive: true, force: true })
  }

  // The cluster DNS table (hosts-file lines), written into every namespace
  // that has cluster DNS. Written in place (same inode): `ip netns exec`
  // bind-mounts the file, so a rename would go unseen by running processes.
  setClusterHosts (table: string): void {
    if (table === this.clusterHosts) return
    this.clusterHosts = table
    for (const ns of this.namespaces.values()) this.writeHosts(ns)
  }

  private writeHosts (ns: Netns): void {
    const content = [
      '# written by the etcd-operator end-to-end harness',
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      ns.ownHosts,
      ns.clusterDns ? this.clusterHosts : '',
      '',
    ]
      .filter((l, i, a) => l !== '' || i === a.length - 1)
      .join('\n')
    if (content === ns.lastHosts) return
    ns.lastHosts = content
    const file = path.join(NETNS_DIR, ns.name, 'hosts')
    try {
      fs.writeFileSync(file, content)
    } catch {
      /* namespace being removed */
    }
  }

  // Throws unless `ip` is one of the harness's addresses and the route to it
  // goes through the harness's own device: the bridge from the host, the
  // namespace's own veth (eth0) from inside a namespace.
  async assertRoute (ip: string, fromNs?: Netns): Promise<void> {
    const key = `${fromNs?.name ?? ''}|${ip}`
    if (this.routeOk.has(key)) return
    if (!this.inSubnet(ip)) throw new Error(`refusing to send to ${ip}: not in the harness subnet ${this.subnet}.0/24`)
    const args = fromNs ? ['-n', fromNs.name, 'route', 'get', ip] : ['route', 'get', ip]
    const out = await runOk('ip', args)
    const dev = fromNs ? 'eth0' : this.bridge
    if (!new RegExp(`\\bdev ${dev}\\b`).test(out) || out.includes(' via ')) {
      throw new Error(`refusing to send to ${ip}: route is "${out.trim()}", not via ${dev}`)
    }
    this.routeOk.add(key)
  }

  // Runs a command inside a namespace (the child's pid is the command's own:
  // `ip netns exec` execs it).
  spawnIn (ns: Netns, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv, stdio?: StdioOptions, cwd?: string } = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', ns.name, cmd, ...args], {
      env: opts.env ?? cleanEnv(),
      stdio: opts.stdio ?? 'ignore',
      cwd: opts.cwd,
    })
  }

  async runIn (ns: Netns, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}) {
    return run('ip', ['netns', 'exec', ns.name, cmd, ...args], { env: opts.env ?? cleanEnv(), timeoutMs: opts.timeoutMs ?? 20_000 })
  }

  get allNamespaces (): Netns[] {
    return [...this.namespaces.values()]
  }

  // Synchronous, idempotent teardown of everything this network made; safe
  // in a process 'exit' handler.
  destroySync (): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const ns of this.namespaces.values()) killNamespacePidsSync(ns.name)
    for (const ns of this.namespaces.values()) {
      runSyncQuiet('ip', ['link', 'del', ns.veth])
      runSyncQuiet('ip', ['netns', 'del', ns.name])
      fs.rmSync(path.join(NETNS_DIR, ns.name), { recursive: true, force: true })
    }
    this.namespaces.clear()
    runSyncQuiet('ip', ['link', 'del', this.bridge])
    try {
      if (fs.readdirSync(NETNS_DIR).length === 0) fs.rmdirSync(NETNS_DIR)
    } catch {
      /* not there or not empty */
    }
  }
}
