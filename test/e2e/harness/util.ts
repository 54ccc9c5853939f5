// Small helpers shared by the end-to-end harness: waiting, running commands
// with a bound, and comparing JSON values.
import { spawn, execFileSync } from 'node:child_process'
import net from 'node:net'

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

export class TimeoutError extends Error {}

export interface WaitOptions {
  timeoutMs: number
  what: string
  intervalMs?: number
  // Printed with the timeout error: what the world looked like.
  describe?: () => string | Promise<string>
}

// Polls `predicate` until it returns a truthy value (returned) or the bound
// passes (throws, saying what was awaited). A predicate that throws counts as
// "not yet".
export async function waitFor<T> (
  predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  const interval = opts.intervalMs ?? 250
  let lastError: unknown
  const pending = Symbol('pending')
  for (;;) {
    try {
      // A predicate that hangs cannot stretch the bound.
      let timer: NodeJS.Timeout | undefined
      const v = await Promise.race([
        Promise.resolve(predicate()),
        new Promise<typeof pending>(resolve => (timer = setTimeout(() => resolve(pending), Math.max(0, deadline - Date.now()) + 50))),
      ]).finally(() => clearTimeout(timer))
      if (v && v !== pending) return v
    } catch (e) {
      lastError = e
    }
    if (Date.now() >= deadline) {
      let detail: string
      try {
        detail = opts.describe ? '\n' + (await opts.describe()) : ''
      } catch (e) {
        detail = `\n(describe failed: ${String(e)})`
      }
      const err = lastError ? ` (last error: ${errorText(lastError)})` : ''
      throw new TimeoutError(`timed out after ${(opts.timeoutMs / 1000).toFixed(0)} s waiting for ${opts.what}${err}${detail}`)
    }
    await sleep(interval)
  }
}

export function errorText (e: unknown): string {
  if (e instanceof Error) return e.message
  return String(e)
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
}

// Runs a command with a hard time bound (SIGKILL when it passes).
export function run (
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number, env?: NodeJS.ProcessEnv, input?: string } = {},
): Promise<RunResult> {
  return new Promise(resolve => {
    const child = spawn(cmd, args, { env: opts.env ?? cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 20_000)
    child.on('error', e => {
      stderr += String(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, timedOut })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}

// Like run() but throws unless the command exits 0.
export async function runOk (cmd: string, args: string[], opts: { timeoutMs?: number, input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`}): ${r.stderr.trim() || r.stdout.trim()}`)
  }
  return r.stdout
}

// Synchronous variant for cleanup paths (process 'exit' handlers cannot wait).
export function runSyncQuiet (cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000, encoding: 'utf8' })
  } catch {
    return ''
  }
}

// The environment for processes the harness starts: nothing of the test
// runner's (tap sets NODE_OPTIONS and coverage variables; etcd reads ETCD_*).
export function cleanEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...extra }
}

// JSON with sorted keys, for comparing objects regardless of key order.
export function stableStringify (v: unknown): string {
  return JSON.stringify(sortKeys(v))
}
function sortKeys (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k])
    return out
  }
  return v
}

export const deepEqual = (a: unknown, b: unknown) => stableStringify(a) === stableStringify(b)

export const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T))

export function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

// Paths (a.b[2].c) of every null inside a value: Metacontroller children
// must never carry nulls (they make its 3-way merge loop forever).
export function nullPaths (v: unknown, path = ''): string[] {
  if (v === null) return [path || '.']
  if (Array.isArray(v)) return v.flatMap((x, i) => nullPaths(x, `${path}[${i}]`))
  if (isObject(v)) return Object.entries(v).flatMap(([k, x]) => nullPaths(x, path ? `${path}.${k}` : k))
  return []
}

export const seconds = (ms: number) => Math.round(ms / 100) / 10

export function tail (text: string, lines: number): string {
  const all = text.split('\n')
  return all.slice(Math.max(0, all.length - lines)).join('\n')
}

// Whether a TCP connection to host:port opens within timeoutMs (the caller
// has checked that the address is one of ours).
export function tcpOpens (host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise(resolve => {
    const s = net.connect({ host, port, timeout: timeoutMs })
    s.on('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.on('timeout', () => {
      s.destroy()
      resolve(false)
    })
    s.on('error', () => resolve(false))
  })
}
