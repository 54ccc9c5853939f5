// Where backups live: an S3 bucket or a directory (a mounted PVC). Keys are
// '/'-separated, relative to the bucket or the directory.
import type { Readable } from 'node:stream'

export interface Store {
  // s3://bucket/key or pvc://key: what results and annotations show.
  uri (key: string): string
  // The object appears under `key` only once `body` has ended well; an
  // error of `body` or of the store leaves nothing under that name. `size`,
  // when known, lets a store choose how to split the body.
  put (key: string, body: Readable, size?: number): Promise<void>
  // Names of the files directly under `prefix` (not below).
  list (prefix: string): Promise<string[]>
  remove (key: string): Promise<void>
  get (key: string): Promise<{ body: Readable, size?: number }>
}
