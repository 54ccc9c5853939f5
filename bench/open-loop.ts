// The open-loop load of the latency rows, in a process of its own: the
// parent has run autocannon and holds its results, and its collections
// (mark-compacts of 5-10 ms) would stall every request in flight and be
// counted against whichever server was being timed. Here the heap stays
// small: answers are counted, not kept, and bodies are drained unread.
//
// Task (JSON in argv[2]): { port, body, connections, rate, seconds }.
// Says { timing: true } when the timed part starts, then sends back
// { p50, p99, count, loaderDelayP99, loaderDelayMax } (ms).
import { Agent, request } from 'node:http'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { percentile } from './etcd-observe.js'

export interface OpenLoopTask { port: number, body: string, connections: number, rate: number, seconds: number }
export interface OpenLoopResult { p50: number, p99: number, count: number, loaderDelayP99: number, loaderDelayMax: number }
export type OpenLoopMessage = OpenLoopResult | { timing: true }

// Unrecorded lead-in at the same rate: connections and the server settle.
const LEAD_IN_MS = 2000

const task = JSON.parse(process.argv[2] ?? '{}') as OpenLoopTask
const agent = new Agent({ keepAlive: true, maxSockets: task.connections })
const length = Buffer.byteLength(task.body)

function post (): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: task.port, path: '/sync', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': length } }, res => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`))
      res.resume()
      res.on('end', resolve)
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(task.body)
  })
}

// Sends `rate` requests a second for `ms`, each timed from when it was due
// (not from when it went out), and waits for every answer.
async function run (ms: number, times: number[] | undefined): Promise<void> {
  const interval = 1000 / task.rate
  const start = performance.now()
  let sent = 0
  let open = 0
  let failure: Error | undefined
  let allAnswered: () => void = () => undefined
  const answered = new Promise<void>(resolve => { allAnswered = resolve })
  while (performance.now() - start < ms) {
    // Everything due by now goes out. Then poll again after any I/O
    // (setImmediate): a 1 ms timer would send up to a millisecond late,
    // and that lateness would be counted against the server.
    for (; sent * interval <= performance.now() - start; sent++) {
      const due = start + sent * interval
      open++
      post().then(() => {
        times?.push(performance.now() - due)
      }, (error: unknown) => {
        failure ??= error instanceof Error ? error : new Error(String(error))
      }).finally(() => {
        if (--open === 0 && performance.now() - start >= ms) allAnswered()
      })
    }
    await new Promise(resolve => setImmediate(resolve))
  }
  if (open > 0) await answered
  if (failure !== undefined) throw failure
}

// Open every connection first.
await Promise.all(Array.from({ length: task.connections }, post))
await run(LEAD_IN_MS, undefined)
const times: number[] = []
process.send?.({ timing: true } satisfies OpenLoopMessage)
const delay = monitorEventLoopDelay({ resolution: 1 })
delay.enable()
await run(task.seconds * 1000, times)
delay.disable()
agent.destroy()
times.sort((a, b) => a - b)
const result: OpenLoopResult = {
  p50: percentile(times, 0.5),
  p99: percentile(times, 0.99),
  count: times.length,
  // How late this process's own event loop ran: if it nears the server's
  // p99, the row measured the loader.
  loaderDelayP99: delay.percentile(99) / 1e6,
  loaderDelayMax: delay.max / 1e6,
}
process.send?.(result satisfies OpenLoopMessage, () => process.exit(0))
