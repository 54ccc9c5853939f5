// A pass-through stream that measures what flows through it: size and
// sha256 of every byte, and, for an etcd snapshot, the sha256 that
// `etcdctl snapshot save` appends (of everything before its last 32 bytes:
// what `snapshot restore` checks). A mismatch fails the stream at its end,
// before the store has made an object or a file of it.
import { createHash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { RunnerError } from './errors.js'

const HASH_SIZE = 32

export class Digest extends Transform {
  // Not `size` or `length`: lib-storage would take either for the length
  // of the whole body before it has begun.
  bytes = 0
  sha256 = ''
  private readonly whole = createHash('sha256')
  private readonly body = createHash('sha256')
  private tail = Buffer.alloc(0)

  // `label` names the file or object in an error; `expectedBytes`, when
  // known, is checked at the end too (a short read is an error, not a file).
  constructor (private readonly label: string, private readonly checkEtcdHash: boolean, private readonly expectedBytes?: number) {
    super()
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length
    this.whole.update(chunk)
    if (this.checkEtcdHash) this.holdBackTail(chunk)
    callback(null, chunk)
  }

  // The last 32 bytes seen so far stay out of `body` until more arrive.
  private holdBackTail (chunk: Buffer): void {
    if (chunk.length >= HASH_SIZE) {
      this.body.update(this.tail)
      this.body.update(chunk.subarray(0, chunk.length - HASH_SIZE))
      this.tail = Buffer.from(chunk.subarray(chunk.length - HASH_SIZE))
      return
    }
    const joined = Buffer.concat([this.tail, chunk])
    const cut = Math.max(0, joined.length - HASH_SIZE)
    this.body.update(joined.subarray(0, cut))
    this.tail = joined.subarray(cut)
  }

  override _flush (callback: TransformCallback): void {
    this.sha256 = this.whole.digest('hex')
    if (this.expectedBytes !== undefined && this.bytes !== this.expectedBytes) {
      callback(new RunnerError(`${this.label}: ${this.bytes} bytes read, ${this.expectedBytes} expected (it changed, or the transfer was cut short)`))
      return
    }
    callback(this.checkEtcdHash ? this.etcdHashError() : null)
  }

  private etcdHashError (): RunnerError | null {
    // etcd's own test: a bbolt file is whole pages, so size % 512 == 32.
    if (this.bytes % 512 !== HASH_SIZE) {
      return new RunnerError(`snapshot integrity check failed for ${this.label}: ${this.bytes} bytes is not a snapshot with etcd's appended sha256 (truncated, or not written by etcdctl snapshot save)`)
    }
    if (!this.body.digest().equals(this.tail)) {
      return new RunnerError(`snapshot integrity check failed for ${this.label}: the sha256 etcd appended does not match the content (corrupt file)`)
    }
    return null
  }
}
