// The S3 store, through the AWS SDK: lib-storage's Upload streams the body
// in parts (multipart from the second part on, one PutObject below that);
// the object appears only when the upload completes, and a failed multipart
// upload is aborted by Upload itself.
import { DeleteObjectCommand, GetObjectCommand, S3Client, paginateListObjectsV2, type S3ClientConfig } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { Readable } from 'node:stream'
import { credentialsFrom, regionFrom } from './aws.js'
import { RunnerError, describe } from './errors.js'
import type { S3Settings } from './options.js'
import type { Store } from './store.js'

const MiB = 1024 * 1024
// The SDK needs a region to sign with; S3-compatible stores accept this one.
const DEFAULT_REGION = 'us-east-1'
// S3's least part size is 5 MiB and its most parts 10,000: parts grow with
// the file so that even a 100 GiB one fits. Memory: QUEUE_SIZE parts.
export const DEFAULT_PART_SIZE = 8 * MiB
const QUEUE_SIZE = 4
const MAX_PARTS = 9000

export async function s3ClientConfig (settings: S3Settings): Promise<S3ClientConfig> {
  const credentials = await credentialsFrom(settings.awsDir)
  return {
    region: settings.region ?? await regionFrom(settings.awsDir) ?? DEFAULT_REGION,
    forcePathStyle: settings.forcePathStyle,
    // AWS answers a bucket of another region with a redirect naming it.
    followRegionRedirects: true,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
    ...(credentials !== undefined ? { credentials } : {}),
    // S3-compatible stores: checksums only where S3 requires them (many
    // reject the SDK's newer default trailing checksums).
    ...(settings.endpoint !== undefined
      ? { endpoint: settings.endpoint, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
  }
}

export function partSizeFor (size: number | undefined, least = DEFAULT_PART_SIZE): number {
  return Math.max(least, Math.ceil((size ?? 0) / MAX_PARTS))
}

interface Failure { command: string, error: unknown }

export class S3Store implements Store {
  // What failed during the current put (requests, the body): Upload's own
  // abort may fail too and then hides the first error, the one to report.
  private failures: Failure[] = []

  constructor (readonly client: S3Client, private readonly bucket: string, private readonly leastPartSize = DEFAULT_PART_SIZE) {
    client.middlewareStack.add((next, context) => async args => {
      try {
        return await next(args)
      } catch (error) {
        this.failures.push({ command: context.commandName ?? '', error })
        throw error
      }
    }, { step: 'initialize', name: 'runnerRecordFailures' })
  }

  static async open (settings: S3Settings, leastPartSize?: number): Promise<S3Store> {
    return new S3Store(new S3Client(await s3ClientConfig(settings)), settings.bucket, leastPartSize)
  }

  uri (key: string): string {
    return `s3://${this.bucket}/${key}`
  }

  async put (key: string, body: Readable, size?: number): Promise<void> {
    this.failures = []
    // In the order things went wrong: a part that failed first, then the
    // body that Upload's teardown aborted, is a store error, not the body's.
    body.once('error', (error: unknown) => this.failures.push({ command: 'body', error }))
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body },
      partSize: partSizeFor(size, this.leastPartSize),
      queueSize: QUEUE_SIZE,
    })
    try {
      await upload.done()
    } catch (error) {
      body.destroy()
      throw this.putFailure(key, error)
    }
  }

  private putFailure (key: string, error: unknown): RunnerError {
    const first = this.failures.find(failure => failure.command !== 'AbortMultipartUploadCommand')
    const abort = this.failures.find(failure => failure.command === 'AbortMultipartUploadCommand')
    // With neither, Upload's own check failed and a failed abort hid it.
    const cause = first?.error ?? (error === abort?.error ? new Error('the upload did not complete') : error)
    const also = abort !== undefined ? `; aborting the multipart upload failed too (its parts may stay until a lifecycle rule removes them): ${describe(abort.error)}` : ''
    if (cause instanceof RunnerError) return new RunnerError(`${cause.message}; nothing stored under ${this.uri(key)}${also}`)
    return new RunnerError(`s3 upload to ${this.uri(key)} failed: ${describe(cause)}${also}`)
  }

  async list (prefix: string): Promise<string[]> {
    const start = prefix === '' ? '' : `${prefix}/`
    const names: string[] = []
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: start, Delimiter: '/' })) {
        for (const object of page.Contents ?? []) {
          if (object.Key?.startsWith(start) === true) names.push(object.Key.slice(start.length))
        }
      }
    } catch (error) {
      throw new RunnerError(`s3 list ${this.uri(start)} failed: ${describe(error)}`)
    }
    return names.filter(name => name !== '' && !name.includes('/'))
  }

  async remove (key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch((error: unknown) => {
      throw new RunnerError(`s3 delete ${this.uri(key)} failed: ${describe(error)}`)
    })
  }

  async get (key: string): Promise<{ body: Readable, size?: number }> {
    const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })).catch((error: unknown) => {
      throw new RunnerError(`s3 download of ${this.uri(key)} failed: ${describe(error)}`)
    })
    if (!(answer.Body instanceof Readable)) throw new RunnerError(`s3 download of ${this.uri(key)} failed: no body in the answer`)
    return { body: answer.Body, ...(answer.ContentLength !== undefined ? { size: answer.ContentLength } : {}) }
  }
}
