// The hook server under test, run as in production (`node dist/server/main.js`,
// listening on $PORT on all addresses) inside a network namespace of its
// own whose hosts file carries the cluster DNS, so it reaches members by
// their DNS names.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import type { Network, Netns } from './network.js'
import { cleanEnv, run, sleep, tail, tcpOpens } from './util.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
export const SERVER_SOURCE = path.join(ROOT, 'hooks', 'server', 'main.ts')
export const SERVER_JS = path.join(ROOT, 'dist', 'server', 'main.js')
export const HOOK_PORT = 8080
// A different build of the hook to run instead of dist/server/main.js (for
// checking that a deliberately broken hook fails the scenarios); no build.
const OVERRIDE = process.env.ETCD_OPERATOR_E2E_HOOK
export const hookEntry = () => OVERRIDE ?? SERVER_JS

function newestMtime (dir: string): number {
  let newest = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs)
  }
  return newest
}

// Builds dist/ (tsc -p tsconfig.build.json) when it is missing or older
// than hooks/.
export async function ensureHookBuilt (log: (s: string) => void): Promise<void> {
  if (OVERRIDE) {
    log(`running the hook from ${OVERRIDE} (ETCD_OPERATOR_E2E_HOOK)`)
    return
  }
  const built = fs.existsSync(SERVER_JS) ? fs.statSync(SERVER_JS).mtimeMs : 0
  if (built >= newestMtime(path.join(ROOT, 'hooks'))) return
  log('building the hook (tsc -p tsconfig.build.json)')
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = await run(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { timeoutMs: 180_000 })
  if (r.code !== 0) throw new Error(`building the hook failed:\n${r.stdout}${r.stderr}`)
  if (!fs.existsSync(SERVER_JS)) throw new Error(`the build did not produce ${SERVER_JS}`)
}

export class HookServer {
  ns?: Netns
  ip?: string
  private proc?: ChildProcess
  starts = 0
  // Exits nobody asked for (a crash): counted, and the server is started
  // again a second later, as its Deployment would.
  crashes = 0
  private expectExit = false
  private stopped = false
  private readonly logPath: string

  constructor (
    private readonly network: Network,
    dir: string,
    private readonly env: Record<string, string> = {},
  ) {
    this.logPath = path.join(dir, 'logs', 'hook.log')
  }

  get url (): string {
    return `http://${this.ip}:${HOOK_PORT}/sync`
  }

  get running (): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null
  }

  async start (): Promise<void> {
    if (!this.ns) {
      this.ip = this.network.allocIp('infra')
      this.ns = await this.network.addNamespace('hook', [this.ip], { clusterDns: true })
    }
    await this.network.assertRoute(this.ip!)
    this.starts++
    fs.appendFileSync(this.logPath, `\n----- ${new Date().toISOString()} hook server start #${this.starts}\n`)
    const fd = fs.openSync(this.logPath, 'a')
    const proc = this.network.spawnIn(this.ns, process.execPath, [hookEntry()], {
      env: cleanEnv({ PORT: String(HOOK_PORT), NODE_ENV: 'production', ...this.env }),
      stdio: ['ignore', fd, fd],
      cwd: ROOT,
    })
    fs.closeSync(fd)
    this.proc = proc
    this.expectExit = false
    proc.on('exit', (code, signal) => {
      if (this.expectExit || this.stopped || this.proc !== proc) return
      this.crashes++
      fs.appendFileSync(this.logPath, `\n----- ${new Date().toISOString()} hook server CRASHED (${code ?? signal}); restarting in 1 s\n`)
      setTimeout(() => {
        if (!this.stopped && this.proc === proc) this.start().catch(() => {})
      }, 1000)
    })
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`the hook server exited at start:\n${this.logTail(30)}`)
      if (await this.listening()) return
      await sleep(100)
    }
    throw new Error(`the hook server did not listen on ${this.ip}:${HOOK_PORT} within 20 s:\n${this.logTail(30)}`)
  }

  private listening (): Promise<boolean> {
    return tcpOpens(this.ip!, HOOK_PORT, 1000)
  }

  // Kills the server (SIGKILL by default: no graceful shutdown).
  async kill (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc
    if (!proc || !this.running) return
    this.expectExit = true
    await new Promise<void>(resolve => {
      proc.once('exit', () => resolve())
      proc.kill(signal)
      setTimeout(() => proc.kill('SIGKILL'), 5000).unref()
    })
  }

  // The server's log lines (pino JSON) written at or after `sinceMs`, for
  // assertions on what it did; lines that are not JSON are skipped.
  logEntries (sinceMs = 0): Array<Record<string, unknown>> {
    let text: string
    try {
      text = fs.readFileSync(this.logPath, 'utf8')
    } catch {
      return []
    }
    const out: Array<Record<string, unknown>> = []
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue
      try {
        const entry = JSON.parse(line) as Record<string, unknown>
        if (typeof entry.time === 'number' && entry.time >= sinceMs) out.push(entry)
      } catch {
        /* a line cut short */
      }
    }
    return out
  }

  logTail (lines = 40): string {
    try {
      return tail(fs.readFileSync(this.logPath, 'utf8'), lines)
    } catch {
      return '(no hook log)'
    }
  }

  async stop (): Promise<void> {
    this.stopped = true
    await this.kill('SIGTERM')
    if (this.ns) await this.network.removeNamespace(this.ns)
    this.ns = undefined
  }

  killSync (): void {
    this.stopped = true
    try {
      this.proc?.kill('SIGKILL')
    } catch {
      /* gone */
    }
  }
}
