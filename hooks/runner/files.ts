// Files that appear whole or not at all: written to a temporary name in
// the same directory, flushed to disk, renamed into place, the directory
// flushed too. A crash leaves at most a dot-file no name pattern matches.
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { errorCode } from './errors.js'

export async function fsyncPath (path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export async function exists (path: string): Promise<boolean> {
  return stat(path).then(() => true, (error: unknown) => {
    if (errorCode(error) === 'ENOENT') return false
    throw error
  })
}

export function temporaryNameFor (path: string): string {
  return join(dirname(path), `.${basename(path)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`)
}

// `body` into `path`; on any error (of the body too) nothing new remains.
export async function writeAtomically (path: string, body: Readable): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const temporary = temporaryNameFor(path)
  try {
    await pipeline(body, createWriteStream(temporary, { flags: 'wx', mode: 0o600 }))
    await fsyncPath(temporary)
    await rename(temporary, path)
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
  await fsyncPath(dirname(path))
}
