// Checking a snapshot file with etcd's own tool: `etcdutl snapshot status
// --write-out=json FILE` (3.5+) or `etcdctl snapshot status ...` (3.4). It
// opens the bbolt file and reports the revision the name carries. The db
// file is never parsed here.
import { execFile, type ExecFileException } from 'node:child_process'
import { RunnerError, oneLine } from './errors.js'
import type { StatusTool } from './options.js'

export interface SnapshotStatus {
  hash: number
  revision: number
  totalKey: number
  totalSize: number
  // The storage version, from etcd 3.6 on (empty before).
  version?: string
}

// A whole database is read: allow for a large one on a slow disk.
const STATUS_TIMEOUT_MS = 30 * 60 * 1000

// The tool's JSON, pure. It is the last line that is a JSON object (a tool
// may print a deprecation notice first).
export function parseStatus (stdout: string, tool: string): SnapshotStatus {
  const line = stdout.split('\n').map(text => text.trim()).filter(text => text.startsWith('{')).at(-1)
  let value: unknown
  try {
    value = JSON.parse(line ?? '')
  } catch {
    throw new RunnerError(`snapshot check: ${tool} printed no JSON status (got '${oneLine(stdout).slice(0, 200)}')`)
  }
  const status = value as Partial<Record<keyof SnapshotStatus, unknown>>
  for (const field of ['hash', 'revision', 'totalKey', 'totalSize'] as const) {
    const number = status[field]
    if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
      throw new RunnerError(`snapshot check: ${tool}'s status has no valid ${field} (got ${oneLine(JSON.stringify(value)).slice(0, 200)})`)
    }
  }
  const { hash, revision, totalKey, totalSize, version } = status as SnapshotStatus
  return { hash, revision, totalKey, totalSize, ...(typeof version === 'string' && version !== '' ? { version } : {}) }
}

export async function checkSnapshot (file: string, tool: StatusTool): Promise<SnapshotStatus> {
  const { stdout } = await new Promise<{ stdout: string }>((resolvePromise, reject) => {
    // etcdctl 3.4 must speak v3; neither reads anything else of ours.
    const env = tool.kind === 'etcdctl' ? { ...process.env, ETCDCTL_API: '3' } : process.env
    execFile(tool.path, ['snapshot', 'status', '--write-out=json', file], { env, timeout: STATUS_TIMEOUT_MS, maxBuffer: 4 << 20 }, (error, out, err) => {
      if (error === null) {
        resolvePromise({ stdout: out })
        return
      }
      reject(statusFailure(error, tool, file, err))
    })
  })
  return parseStatus(stdout, `${tool.kind} snapshot status`)
}

function statusFailure (error: ExecFileException, tool: StatusTool, file: string, stderr: string): RunnerError {
  if (error.code === 'ENOENT') return new RunnerError(`snapshot check: --status-tool ${tool.path} not found`)
  const how = error.killed === true ? `was stopped after ${STATUS_TIMEOUT_MS / 1000} s` : `exited ${String(error.code)}`
  return new RunnerError(`snapshot check failed for ${file}: ${tool.kind} snapshot status ${how}: ${firstComplaint(stderr) ?? oneLine(error.message)}`)
}

// The line that says what is wrong: `Error: ...`, or the head of a Go
// panic (`unexpected fault address ...`, `panic: ...`), not its stack.
export function firstComplaint (stderr: string): string | undefined {
  const lines = stderr.split('\n').map(line => line.trim()).filter(line => line !== '' && !line.startsWith('{"level"'))
  const complaint = lines.find(line => /^(Error:|panic:|fatal error:|unexpected fault)/.test(line)) ?? lines[0]
  return complaint === undefined ? undefined : oneLine(complaint).slice(0, 300)
}
