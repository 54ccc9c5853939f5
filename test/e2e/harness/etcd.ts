// Direct talk to etcd's v3 JSON gateway from the test process (through the
// bridge, after the route check): member lists, per-member status, writes
// and reads for the assertions. uint64 IDs stay strings. Members with client
// TLS are reached over https with a client certificate; the server's
// certificate is checked against `servername` (a DNS name it must carry),
// not the address connected to.
import http from 'node:http'
import https from 'node:https'
import type { Network } from './network.js'

// PEM text of a client certificate, its key and the CA that signed the
// server's certificate.
export interface EtcdTLS {
  ca: string
  cert: string
  key: string
}

// How to reach one endpoint: plain http (nothing), or https with a client
// certificate and the name the server's certificate must match.
export interface Via {
  tls?: EtcdTLS
  servername?: string
}

export const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')
export const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8')

export async function etcdPost (network: Network, ip: string, path: string, body: unknown, timeoutMs = 3000, via: Via = {}): Promise<any> {
  await network.assertRoute(ip)
  const data = JSON.stringify(body)
  const port = 2379
  const send = via.tls ? https.request : http.request
  const tlsOptions = via.tls ? { ca: via.tls.ca, cert: via.tls.cert, key: via.tls.key, ...(via.servername ? { servername: via.servername } : {}) } : {}
  return new Promise((resolve, reject) => {
    const req = send(
      { host: ip, port, path, method: 'POST', agent: false, timeout: timeoutMs, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) }, ...tlsOptions },
      res => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (text += d))
        res.on('end', () => {
          let parsed: any
          try {
            parsed = JSON.parse(text)
          } catch {
            reject(new Error(`etcd ${ip}${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`))
            return
          }
          if (res.statusCode !== 200 || parsed.error || parsed.code) {
            reject(new Error(`etcd ${ip}${path}: HTTP ${res.statusCode}: ${parsed.error ?? parsed.message ?? text.slice(0, 200)}`))
            return
          }
          resolve(parsed)
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`etcd ${ip}${path}: timeout`)))
    req.on('error', reject)
    req.end(data)
  })
}

export interface Member {
  id: string
  name: string
  peerURLs: string[]
  clientURLs: string[]
  isLearner: boolean
}

export async function memberList (network: Network, ip: string, timeoutMs = 3000, via: Via = {}): Promise<{ clusterId: string, memberId: string, members: Member[] }> {
  const r = await etcdPost(network, ip, '/v3/cluster/member/list', {}, timeoutMs, via)
  return {
    clusterId: String(r.header?.cluster_id ?? ''),
    memberId: String(r.header?.member_id ?? ''),
    members: (r.members ?? []).map((m: any) => ({
      id: String(m.ID ?? ''),
      name: m.name ?? '',
      peerURLs: m.peerURLs ?? [],
      clientURLs: m.clientURLs ?? [],
      isLearner: !!m.isLearner,
    })),
  }
}

export async function memberStatus (network: Network, ip: string, timeoutMs = 1000, via: Via = {}): Promise<{ memberId: string, leader: string, isLearner: boolean, raftIndex: string, version: string }> {
  const r = await etcdPost(network, ip, '/v3/maintenance/status', {}, timeoutMs, via)
  return { memberId: String(r.header?.member_id ?? ''), leader: String(r.leader ?? '0'), isLearner: !!r.isLearner, raftIndex: String(r.raftIndex ?? ''), version: r.version ?? '' }
}

export async function put (network: Network, ip: string, key: string, value: string, timeoutMs = 3000, via: Via = {}): Promise<string> {
  const r = await etcdPost(network, ip, '/v3/kv/put', { key: b64(key), value: b64(value) }, timeoutMs, via)
  if (!r.header?.revision) throw new Error(`put ${key}: no revision in ${JSON.stringify(r)}`)
  return String(r.header.revision)
}

function prefixEnd (prefix: string): string {
  const buf = Buffer.from(prefix, 'utf8')
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i]! < 0xff) {
      buf[i]!++
      return buf.subarray(0, i + 1).toString('base64')
    }
  }
  return b64('\0')
}

// Keys (and values) under a prefix, from this member's own store when
// serializable (proves the data reached that member).
export async function rangePrefix (network: Network, ip: string, prefix: string, opts: { serializable?: boolean, timeoutMs?: number, via?: Via } = {}): Promise<Map<string, string>> {
  const r = await etcdPost(network, ip, '/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix), serializable: opts.serializable ?? true }, opts.timeoutMs ?? 5000, opts.via)
  const out = new Map<string, string>()
  for (const kv of r.kvs ?? []) out.set(unb64(kv.key), kv.value ? unb64(kv.value) : '')
  return out
}
