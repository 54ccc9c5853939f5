// Restore, around the etcd image's `etcdutl snapshot restore` (which the
// hook's init container runs between the two):
//   fetch:  the backup -> a local file, whole or not at all;
//   commit: the restored staging dir -> the data dir, only where no data is.
// Data in the data dir is never deleted or overwritten.
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream'
import { Digest } from './digest.js'
import { RunnerError, describe, errorCode } from './errors.js'
import { exists, fsyncPath, writeAtomically } from './files.js'
import { keyUnder } from './naming.js'
import { openStore } from './open-store.js'
import type { CommitOptions, FetchOptions } from './options.js'
import { latestBackup } from './retention.js'
import { checkSnapshot } from './snapshot.js'
import type { Store } from './store.js'

export interface FetchResult {
  object: string
  size: number
  sha256: string
  // With --status-tool: the revision etcd's tool reports for the file.
  revision?: number
}

export async function fetchBackup (options: FetchOptions): Promise<FetchResult> {
  if (options.clear !== undefined) await clearStaging(options.clear.staging)
  const source = await openStore(options.location.store)
  const key = await chooseKey(source, options)
  const { body, size } = await source.get(key)
  // etcd's appended hash is checked here too: a bad download fails now,
  // not halfway through a restore.
  const digest = new Digest(source.uri(key), true, size)
  pipeline(body, digest, () => undefined)
  await writeAtomically(options.to, digest).catch((error: unknown) => {
    if (error instanceof RunnerError) throw error
    throw new RunnerError(`fetch of ${source.uri(key)} into --to ${options.to} failed: ${describe(error)}`)
  })
  const result: FetchResult = { object: source.uri(key), size: digest.bytes, sha256: digest.sha256 }
  if (options.statusTool !== undefined) result.revision = (await checkSnapshot(options.to, options.statusTool)).revision
  return result
}

async function chooseKey (store: Store, options: FetchOptions): Promise<string> {
  const place = options.location.place
  if ('exact' in place) return place.exact
  const latest = latestBackup(await store.list(place.prefix), options.cluster)
  if (latest === undefined) {
    const what = options.cluster !== undefined ? `backup of cluster ${options.cluster}` : '*.db file'
    throw new RunnerError(`fetch --latest: no ${what} under ${store.uri(place.prefix === '' ? '' : `${place.prefix}/`)}`)
  }
  return keyUnder(place.prefix, latest)
}

// A staging dir left by an interrupted attempt (etcdutl refuses to restore
// into an existing dir). Derived data only: the data dir is never touched.
// (`separateDirs` made sure the two are neither the same nor nested.)
async function clearStaging (staging: string): Promise<boolean> {
  if (!await exists(staging)) return false
  await rm(staging, { recursive: true, force: true })
  await fsyncPath(dirname(staging))
  return true
}

export interface CommitResult {
  dataDir: string
  committed: boolean
  message: string
}

export async function commitRestore (options: CommitOptions): Promise<CommitResult> {
  const result = await commitStaging(options)
  if (options.discard !== undefined && await clearStaging(options.discard)) {
    result.message += `; removed ${options.discard}`
  }
  return result
}

async function commitStaging (options: CommitOptions): Promise<CommitResult> {
  const { staging, dataDir } = options
  if (await exists(join(dataDir, 'member'))) {
    // Data already there (a restarted pod): keep it; a stale staging dir
    // would make the next restore refuse to run.
    const cleared = await clearStaging(staging)
    return { dataDir, committed: false, message: `${dataDir}/member exists: kept the data there${cleared ? `, removed the stale ${staging}` : ''}` }
  }
  if (!await exists(join(staging, 'member'))) {
    throw new RunnerError(`commit: nothing restored: ${staging}/member does not exist (did etcdutl snapshot restore --data-dir ${staging} run?)`)
  }
  await makeRoomFor(dataDir)
  await rename(staging, dataDir).catch((error: unknown) => {
    const hint = errorCode(error) === 'EXDEV' || errorCode(error) === 'EBUSY' ? ' (they must be on the same volume, and the data dir not a mount point itself)' : ''
    throw new RunnerError(`commit: moving ${staging} to ${dataDir} failed: ${describe(error)}${hint}`)
  })
  await fsyncPath(dirname(dataDir))
  if (dirname(staging) !== dirname(dataDir)) await fsyncPath(dirname(staging))
  return { dataDir, committed: true, message: `moved the restored ${staging} to ${dataDir}` }
}

// An empty data dir is removed (rename needs the name free); one with
// anything in it but no member/ is a mystery left alone: an error.
async function makeRoomFor (dataDir: string): Promise<void> {
  if (!await exists(dataDir)) {
    await mkdir(dirname(dataDir), { recursive: true })
    return
  }
  const entries = await readdir(dataDir).catch((error: unknown) => {
    throw new RunnerError(`commit: --data-dir ${dataDir}: ${describe(error)}`)
  })
  if (entries.length > 0) {
    throw new RunnerError(`commit: --data-dir ${dataDir} has no member/ but is not empty (${entries.slice(0, 5).join(', ')}${entries.length > 5 ? ', ...' : ''}): refusing to replace it`)
  }
  await rmdir(dataDir)
}
