// The harness's kube-proxy for one Service: runs inside the Service's own
// network namespace (which holds its cluster IP, and for a LoadBalancer its
// "external" address too) and forwards each TCP connection on a service port
// to one of that port's endpoints, round robin, without retrying (a refused
// upstream closes the client's connection, as with kube-proxy).
//
// Configuration arrives as JSON lines on stdin:
//   {"seq": 3, "ports": {"2379": ["10.0.0.12:2379", ...]}}
// and is acknowledged with {"seq": 3} on stdout once every port listens.
// The proxy exits when stdin closes (its harness is gone).
import net from 'node:net'
import readline from 'node:readline'

const servers = new Map() // port -> net.Server
let routes = {} // port -> ["ip:port"]
const next = new Map() // port -> round-robin counter

function forward (port, client) {
  const eps = routes[port] ?? []
  if (eps.length === 0) {
    client.destroy()
    return
  }
  const i = next.get(port) ?? 0
  next.set(port, i + 1)
  const target = eps[i % eps.length]
  const sep = target.lastIndexOf(':')
  const upstream = net.connect({ host: target.slice(0, sep), port: Number(target.slice(sep + 1)) })
  upstream.setNoDelay(true)
  client.setNoDelay(true)
  client.pipe(upstream)
  upstream.pipe(client)
  const close = () => {
    client.destroy()
    upstream.destroy()
  }
  client.on('error', close)
  upstream.on('error', close)
  client.on('close', close)
  upstream.on('close', close)
}

async function listen (port) {
  if (servers.has(port)) return
  const server = net.createServer(c => forward(port, c))
  servers.set(port, server)
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(Number(port), '0.0.0.0', resolve)
  })
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', async line => {
  let msg
  try {
    msg = JSON.parse(line)
  } catch {
    return
  }
  routes = msg.ports ?? {}
  try {
    for (const port of Object.keys(routes)) await listen(port)
    for (const [port, server] of servers) {
      if (!(port in routes)) {
        server.close()
        servers.delete(port)
      }
    }
    process.stdout.write(JSON.stringify({ seq: msg.seq }) + '\n')
  } catch (e) {
    process.stdout.write(JSON.stringify({ seq: msg.seq, error: String(e) }) + '\n')
  }
})
rl.on('close', () => process.exit(0))
