// The result, recorded on the runner's own Job as annotations (the hook
// sees Jobs, not their pods): a JSON merge patch through the in-cluster
// API, with the pod's service account token and CA. Failing to record is
// logged, never a failed backup.
import { readFile } from 'node:fs/promises'
import { request } from 'node:https'
import { join } from 'node:path'
import { RunnerError, describe, errorCode, oneLine } from './errors.js'
import type { JobTarget } from './options.js'

// Shared with the hook, which reads them back (hooks/api/backup.ts).
export { BACKUP_ANNOTATION_PREFIX as ANNOTATION_PREFIX } from '../api/backup.js'
import { BACKUP_ANNOTATION_PREFIX as ANNOTATION_PREFIX } from '../api/backup.js'

export interface BackupRecord {
  object: string
  revision: number
  size: number
  sha256: string
  etcdVersion?: string
}

// A failed run's error, in the runner's own words (the store's message):
// the hook never sees the pod's log, only this Job. At most 1 KiB.
export interface BackupFailure {
  error: string
}

// The merge patch, pure. Annotation values are strings.
export function annotationsPatch (record: BackupRecord | BackupFailure): { metadata: { annotations: Record<string, string> } } {
  if ('error' in record) return { metadata: { annotations: { [`${ANNOTATION_PREFIX}error`]: record.error.slice(0, 1024) } } }
  const annotations: Record<string, string> = {
    [`${ANNOTATION_PREFIX}object`]: record.object,
    [`${ANNOTATION_PREFIX}revision`]: String(record.revision),
    [`${ANNOTATION_PREFIX}size`]: String(record.size),
    [`${ANNOTATION_PREFIX}sha256`]: record.sha256,
  }
  if (record.etcdVersion !== undefined) annotations[`${ANNOTATION_PREFIX}etcd-version`] = record.etcdVersion
  return { metadata: { annotations } }
}

// https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT unless given.
export function apiBase (target: JobTarget, env: NodeJS.ProcessEnv): string {
  if (target.apiBase !== undefined) return target.apiBase
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT ?? '443'
  if (host === undefined || host === '') throw new RunnerError('KUBERNETES_SERVICE_HOST is not set (not in a pod?) and no --kube-api given')
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`
}

// An answer of the API server other than 2xx.
export class ApiError extends RunnerError {
  override readonly name: string = 'ApiError'
  constructor (message: string, readonly status: number) {
    super(message)
  }
}

const ATTEMPTS = 3
const TIMEOUT_MS = 10_000
// Errors in transit that another attempt may not meet.
const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

interface Patch {
  job: string
  url: URL
  token: string
  ca: Buffer
  body: string
}

// Logs and returns false when the result could not be recorded.
export async function recordOnJob (target: JobTarget, record: BackupRecord | BackupFailure, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<boolean> {
  let patch: Patch
  try {
    patch = await preparePatch(target, record, env)
  } catch (error) {
    const job = `${target.namespace !== undefined ? `${target.namespace}/` : ''}${target.name}`
    log(`recording the result on Job ${job} failed: ${describe(error)}${'error' in record ? '' : '; the backup itself succeeded'}`)
    return false
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await sendPatch(patch)
      return true
    } catch (error) {
      const transient = error instanceof ApiError ? error.status >= 500 || error.status === 429 : TRANSIENT.has(errorCode(error) ?? '')
      const retry = transient && attempt < ATTEMPTS
      log(`recording the result on Job ${patch.job} failed (attempt ${attempt} of ${ATTEMPTS}): ${describe(error)}${retry || 'error' in record ? '' : '; the backup itself succeeded'}`)
      if (!retry) return false
      await new Promise(resolve => setTimeout(resolve, 500 * attempt))
    }
  }
}

async function preparePatch (target: JobTarget, record: BackupRecord | BackupFailure, env: NodeJS.ProcessEnv): Promise<Patch> {
  const dir = target.serviceAccountDir
  const [token, ca, namespace] = await Promise.all([
    readFile(join(dir, 'token'), 'utf8'),
    readFile(join(dir, 'ca.crt')),
    target.namespace ?? readFile(join(dir, 'namespace'), 'utf8'),
  ])
  const path = `/apis/batch/v1/namespaces/${encodeURIComponent(namespace.trim())}/jobs/${encodeURIComponent(target.name)}`
  const job = `${namespace.trim()}/${target.name}`
  return { job, url: new URL(path, apiBase(target, env)), token: token.trim(), ca, body: JSON.stringify(annotationsPatch(record)) }
}

async function sendPatch ({ url, token, ca, body }: Patch): Promise<void> {
  const headers = {
    'Authorization': `Bearer ${token}`,
    'Content-Type': 'application/merge-patch+json',
    'Accept': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  }
  const { status, text } = await send(url, { method: 'PATCH', ca, headers, timeout: TIMEOUT_MS }, body)
  if (status < 200 || status > 299) throw new ApiError(`PATCH ${url.pathname}: HTTP ${status}: ${oneLine(text).slice(0, 300)}`, status)
}

type RequestOptions = Parameters<typeof request>[1]

function send (url: URL, options: RequestOptions, body: string): Promise<{ status: number, text: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, options, response => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => { resolvePromise({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
      response.on('error', reject)
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })))
    req.on('error', reject)
    req.end(body)
  })
}
