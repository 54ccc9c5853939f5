// A real S3-protocol server for the backup scenarios: s3rver (npm) in a
// network namespace of its own on the harness bridge, so that backup pods
// reach it at its own address (they cannot reach the host's loopback).
// Its objects are files in a directory that outlives a stop(): start() again
// serves the same objects (the "store down, then back" of a failed upload).
// The test reads the bucket with @aws-sdk/client-s3 from the host.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import { S3Client, ListObjectsV2Command, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import type { Network, Netns } from './network.js'
import { cleanEnv, sleep, tcpOpens } from './util.js'

const LAUNCHER = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3rver.mjs')
const PORT = 4569
// s3rver's built-in account.
export const S3_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

export class S3Store {
  ns?: Netns
  ip = ''
  private proc?: ChildProcess
  readonly dir: string
  private readonly logPath: string

  constructor (
    private readonly network: Network,
    dir: string,
    readonly bucket: string,
  ) {
    this.dir = path.join(dir, 's3rver')
    this.logPath = path.join(dir, 'logs', 's3rver.log')
    fs.mkdirSync(this.dir, { recursive: true })
  }

  get endpoint (): string {
    return `http://${this.ip}:${PORT}`
  }

  get running (): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null
  }

  async start (): Promise<void> {
    if (!this.ns) {
      this.ip = this.network.allocIp('infra')
      this.ns = await this.network.addNamespace('s3', [this.ip], { clusterDns: false })
    }
    await this.network.assertRoute(this.ip)
    const fd = fs.openSync(this.logPath, 'a')
    this.proc = this.network.spawnIn(this.ns, process.execPath, [LAUNCHER, this.ip, String(PORT), this.dir, this.bucket], { env: cleanEnv(), stdio: ['pipe', fd, fd] })
    fs.closeSync(fd)
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`s3rver exited at start (log ${this.logPath})`)
      if (await tcpOpens(this.ip, PORT, 500)) return
      await sleep(100)
    }
    throw new Error(`s3rver did not listen on ${this.ip}:${PORT} within 20 s`)
  }

  // The store goes down (its objects stay on disk).
  async stop (): Promise<void> {
    const proc = this.proc
    if (!proc || !this.running) return
    await new Promise<void>(resolve => {
      proc.once('exit', () => resolve())
      proc.kill('SIGKILL')
    })
  }

  killSync (): void {
    try {
      this.proc?.kill('SIGKILL')
    } catch {
      /* gone */
    }
  }

  // The Secret's files in the CoreOS format (`credentials`, `config`).
  secretData (): Record<string, string> {
    const credentials = `[default]\naws_access_key_id = ${S3_KEY.accessKeyId}\naws_secret_access_key = ${S3_KEY.secretAccessKey}\n`
    const config = '[default]\nregion = us-east-1\n'
    return { credentials: Buffer.from(credentials).toString('base64'), config: Buffer.from(config).toString('base64') }
  }

  private client (): S3Client {
    return new S3Client({ endpoint: this.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3_KEY })
  }

  // Keys under `prefix`, sorted, through the S3 API.
  async keys (prefix = ''): Promise<string[]> {
    await this.network.assertRoute(this.ip)
    const s3 = this.client()
    try {
      const out: string[] = []
      let token: string | undefined
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }))
        for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key)
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
      return out.sort()
    } finally {
      s3.destroy()
    }
  }

  // Writes an object (a test's own, e.g. a corrupt snapshot).
  async put (key: string, body: Buffer): Promise<void> {
    await this.network.assertRoute(this.ip)
    const s3 = this.client()
    try {
      await s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }))
    } finally {
      s3.destroy()
    }
  }

  // An object's bytes (for its size and sha256).
  async object (key: string): Promise<Buffer> {
    await this.network.assertRoute(this.ip)
    const s3 = this.client()
    try {
      const r = await s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
      return Buffer.from(await r.Body!.transformToByteArray())
    } finally {
      s3.destroy()
    }
  }
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
