// The PVC store: a directory where the backup volume is mounted.
import { createReadStream } from 'node:fs'
import { readdir, rm, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { RunnerError, describe, errorCode } from './errors.js'
import { fsyncPath, writeAtomically } from './files.js'
import type { Store } from './store.js'

export class PvcStore implements Store {
  constructor (private readonly dir: string, private readonly claim?: string) {}

  // pvc://<claim>/<path>, as status and restore name it; without the
  // claim's name, pvc://<path>.
  uri (key: string): string {
    return this.claim !== undefined ? `pvc://${this.claim}/${key}` : `pvc://${key}`
  }

  private path (key: string): string {
    return join(this.dir, key)
  }

  async put (key: string, body: Readable): Promise<void> {
    await writeAtomically(this.path(key), body).catch((error: unknown) => {
      throw this.failure('write', key, error)
    })
  }

  async list (prefix: string): Promise<string[]> {
    const entries = await readdir(this.path(prefix), { withFileTypes: true }).catch((error: unknown) => {
      if (errorCode(error) === 'ENOENT') return []
      throw this.failure('list', prefix, error)
    })
    return entries.filter(entry => entry.isFile()).map(entry => entry.name)
  }

  async remove (key: string): Promise<void> {
    try {
      await rm(this.path(key), { force: true })
      await fsyncPath(dirname(this.path(key)))
    } catch (error) {
      throw this.failure('delete', key, error)
    }
  }

  async get (key: string): Promise<{ body: Readable, size: number }> {
    const info = await stat(this.path(key)).catch((error: unknown) => {
      throw this.failure('read', key, error)
    })
    if (!info.isFile()) throw new RunnerError(`pvc read ${this.uri(key)} failed: not a file`)
    return { body: createReadStream(this.path(key)), size: info.size }
  }

  private failure (action: string, key: string, error: unknown): RunnerError {
    if (error instanceof RunnerError) return error
    return new RunnerError(`pvc ${action} ${this.uri(key)} (in ${this.dir}) failed: ${describe(error)}`)
  }
}
