// `upload`: a snapshot that `etcdctl snapshot save` wrote into the Job's
// shared emptyDir -> checked -> streamed to the store (size and sha256 taken
// on the way, etcd's appended hash verified) -> only then old backups
// beyond --max-backups deleted -> the result printed and recorded on the Job.
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { pipeline } from 'node:stream'
import { Digest } from './digest.js'
import { RunnerError, describe } from './errors.js'
import { recordOnJob, type BackupRecord } from './job.js'
import { backupName, keyUnder } from './naming.js'
import { openStore } from './open-store.js'
import type { UploadOptions } from './options.js'
import { expiredBackups } from './retention.js'
import { checkSnapshot } from './snapshot.js'
import type { Store } from './store.js'

export interface UploadResult extends BackupRecord {
  // Older backups that retention deleted (URIs), when it ran.
  deleted?: string[]
  // Why retention did not finish; the backup itself is stored.
  retentionError?: string
}

export interface Context {
  env: NodeJS.ProcessEnv
  log: (line: string) => void
  // Tests pass a store of their own (a client with a spy, small parts).
  store?: Store
}

export async function upload (options: UploadOptions, context: Context): Promise<UploadResult> {
  try {
    return await uploadOnce(options, context)
  } catch (error) {
    // The Job's Failed condition only says the pod failed; the reason goes
    // on the Job too. Older backups were not touched on the way here.
    if (options.job !== undefined) await recordOnJob(options.job, { error: describe(error) }, context.env, context.log)
    throw error
  }
}

async function uploadOnce (options: UploadOptions, context: Context): Promise<UploadResult> {
  const info = await stat(options.snapshot).catch((error: unknown) => {
    throw new RunnerError(`--snapshot ${options.snapshot}: ${describe(error)}`)
  })
  const status = await checkSnapshot(options.snapshot, options.statusTool)
  const { key, name } = targetKey(options, info.mtime, status.revision)
  const store = context.store ?? await openStore(options.location.store)
  context.log(`snapshot ${options.snapshot}: revision ${status.revision}, ${status.totalKey} keys, ${info.size} bytes; storing as ${store.uri(key)}`)
  const digest = await storeSnapshot(store, key, options.snapshot, info.size)
  const record: UploadResult = {
    object: store.uri(key),
    revision: status.revision,
    size: digest.bytes,
    sha256: digest.sha256,
    ...(status.version !== undefined ? { etcdVersion: status.version } : {}),
  }
  const place = options.location.place
  if ('prefix' in place && name !== undefined && options.maxBackups > 0) {
    Object.assign(record, await applyRetention(store, place.prefix, options.cluster ?? '', options.maxBackups, name, context.log))
  }
  if (options.job !== undefined) await recordOnJob(options.job, record, context.env, context.log)
  return record
}

// The exact object, or a generated name under the prefix. The file's time
// is the snapshot's: a rerun of this container gives the same name, and so
// overwrites rather than adds.
function targetKey (options: UploadOptions, mtime: Date, revision: number): { key: string, name?: string } {
  const place = options.location.place
  if ('exact' in place) return { key: place.exact }
  const name = backupName(options.cluster ?? '', mtime, revision)
  return { key: keyUnder(place.prefix, name), name }
}

async function storeSnapshot (store: Store, key: string, file: string, size: number): Promise<Digest> {
  const digest = new Digest(file, true, size)
  // An error of the file stream fails the digest, and so the store's put.
  pipeline(createReadStream(file), digest, () => undefined)
  await store.put(key, digest, size)
  return digest
}

// After a stored backup only. A failure here is reported, not fatal: the
// backup exists, and the next one retries.
async function applyRetention (store: Store, prefix: string, cluster: string, keep: number, justWritten: string, log: (line: string) => void): Promise<Pick<UploadResult, 'deleted' | 'retentionError'>> {
  const deleted: string[] = []
  try {
    const expired = expiredBackups(await store.list(prefix), cluster, keep, justWritten)
    for (const name of expired) {
      await store.remove(keyUnder(prefix, name))
      deleted.push(store.uri(keyUnder(prefix, name)))
    }
    log(`retention: kept the newest ${keep} backups of ${cluster}, deleted ${deleted.length}`)
    return { deleted }
  } catch (error) {
    const message = describe(error)
    log(`retention failed after deleting ${deleted.length}: ${message}; the new backup is stored`)
    return { deleted, retentionError: message }
  }
}
