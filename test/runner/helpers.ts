// Real parts for the runner's tests, each cleaned up by the test that
// starts it (t.teardown), on success or failure: temporary dirs, s3rver on
// 127.0.0.1, a single etcd member on 127.0.0.1, a self-signed certificate.
import { S3Client } from '@aws-sdk/client-s3'
import type { Test } from 'tap'
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { createServer as createHttpsServer } from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import S3rver from 's3rver'
import type { S3Settings } from '../../hooks/runner/options.js'
import { S3Store, s3ClientConfig } from '../../hooks/runner/s3.js'
import { ETCD, ETCDCTL, skipUnless } from '../helpers/requirements.js'

export const exec = promisify(execFile)
export const ROOT = new URL('../..', import.meta.url).pathname
export const BUCKET = 'backups'
export const MiB = 1024 * 1024
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

// Loud skip where etcd is missing; a failure when everything is required.
export const needsEtcd = () => skipUnless(existsSync(ETCD) && existsSync(ETCDCTL) ? undefined : 'etcd not installed: apt-get install etcd-server etcd-client')
export const STATUS_TOOL = { path: ETCDCTL, kind: 'etcdctl' } as const

export async function tempDir (t: Test, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `runner-${name}-`))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

// Ports the kernel picked, freed again (several at once: all distinct).
export async function freePorts (count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer())
  const ports = await Promise.all(servers.map(server => new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { resolve((server.address() as { port: number }).port) })
  })))
  await Promise.all(servers.map(server => new Promise(resolve => server.close(resolve))))
  return ports
}

export interface S3Fixture {
  endpoint: string
  directory: string
  close: () => Promise<void>
}

// s3rver with the bucket `backups`, its data in a temporary dir.
export async function startS3 (t: Test): Promise<S3Fixture> {
  const directory = await tempDir(t, 's3rver')
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: BUCKET }] })
  const { port } = await server.run()
  let open = true
  const close = async () => {
    if (open) await server.close()
    open = false
  }
  t.teardown(close)
  return { endpoint: `http://127.0.0.1:${port}`, directory, close }
}

// A Secret of key files with s3rver's built-in account (or others).
export async function keyFilesDir (t: Test, id = 'S3RVER', secret = 'S3RVER'): Promise<string> {
  const dir = await tempDir(t, 'aws-keys')
  await writeFile(join(dir, 'AWS_ACCESS_KEY_ID'), `${id}\n`)
  await writeFile(join(dir, 'AWS_SECRET_ACCESS_KEY'), `${secret}\n`)
  return dir
}

export function s3Settings (endpoint: string, awsDir: string): S3Settings {
  return { kind: 's3', bucket: BUCKET, endpoint, region: 'us-east-1', forcePathStyle: true, awsDir }
}

// A store whose client records every command it sends, in order.
export async function spiedStore (settings: S3Settings, leastPartSize?: number): Promise<{ store: S3Store, commands: string[] }> {
  const client = new S3Client(await s3ClientConfig(settings))
  const commands: string[] = []
  client.middlewareStack.add((next, context) => async args => {
    commands.push(context.commandName ?? '?')
    return next(args)
  }, { step: 'initialize', name: 'testSpy' })
  return { store: new S3Store(client, settings.bucket, leastPartSize), commands }
}

// Every object key in the bucket, straight from s3rver's own files (its
// store keeps `<key>._S3rver_object`); in-progress multipart uploads too.
export async function storedKeys (fixture: S3Fixture): Promise<{ objects: string[], uploads: number }> {
  const root = join(fixture.directory, BUCKET)
  const files = existsSync(root) ? await readdir(root, { recursive: true, encoding: 'utf8' }) : []
  const objects = files.filter(file => file.endsWith('._S3rver_object')).map(file => file.slice(0, -'._S3rver_object'.length)).sort()
  const uploadsDir = files.find(file => file.endsWith('._S3rver_uploads'))
  const uploads = uploadsDir === undefined ? 0 : (await readdir(join(root, uploadsDir))).length
  return { objects, uploads }
}

export interface Etcd {
  endpoint: string
  put: (key: string, value: string | Buffer) => Promise<void>
  revision: () => Promise<number>
  snapshot: (file: string) => Promise<void>
  ctl: (...args: string[]) => Promise<string>
}

// Without an ETCD*/ETCDCTL* of the caller's shadowing our flags.
export const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD')))

// One member on free loopback ports; `dataDir` (and the peer port it was
// restored for) to start on existing data.
export async function startEtcd (t: Test, dataDir?: string, peerPort?: number): Promise<Etcd> {
  const dir = dataDir ?? join(await tempDir(t, 'etcd'), 'data')
  const [client = 0, free = 0] = await freePorts(2)
  const peer = peerPort ?? free
  const clientURL = `http://127.0.0.1:${client}`
  const peerURL = `http://127.0.0.1:${peer}`
  const child = spawn(ETCD, [
    '--name', 'default', '--data-dir', dir,
    '--listen-client-urls', clientURL, '--advertise-client-urls', clientURL,
    '--listen-peer-urls', peerURL, '--initial-advertise-peer-urls', peerURL,
    '--initial-cluster', `default=${peerURL}`,
  ], { env: cleanEnv, stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr.on('data', (chunk: Buffer) => { log = (log + chunk.toString()).slice(-4000) })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const ctl = async (...args: string[]) => (await exec(ETCDCTL, ['--endpoints', clientURL, ...args], { env: { ...cleanEnv, ETCDCTL_API: '3' }, maxBuffer: 64 * MiB })).stdout
  await waitHealthy(ctl, () => log)
  return {
    endpoint: clientURL,
    ctl,
    put: async (key, value) => { await gatewayPut(clientURL, key, value) },
    revision: async () => (JSON.parse(await ctl('endpoint', 'status', '-w', 'json')) as Array<{ Status: { header: { revision: number } } }>)[0]!.Status.header.revision,
    snapshot: async file => { await ctl('snapshot', 'save', file) },
  }
}

async function waitHealthy (ctl: (...args: string[]) => Promise<string>, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      await ctl('endpoint', 'health', '--command-timeout', '1s')
      return
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy: ${String(error)}; log: ${log()}`, { cause: error })
      await sleep(100)
    }
  }
}

// Values of any size (a command line holds at most 128 KiB per argument).
async function gatewayPut (endpoint: string, key: string, value: string | Buffer): Promise<void> {
  const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') })
  const answer = await fetch(`${endpoint}/v3/kv/put`, { method: 'POST', body })
  if (!answer.ok) throw new Error(`put ${key}: HTTP ${answer.status}: ${await answer.text()}`)
}

// A snapshot of about `mib` MiB of random values, one of them `marker`
// repeated (see corruptCopy).
export const MARKER = 'MARKER-VALUE-'
export async function bigSnapshot (etcd: Etcd, file: string, mib: number): Promise<void> {
  await etcd.put('/big/marker', MARKER.repeat(1000))
  for (let index = 0; index < mib; index++) await etcd.put(`/big/${index}`, randomBytes(MiB))
  await etcd.snapshot(file)
}

// A self-signed certificate for 127.0.0.1 (openssl, as in the other tests).
export async function selfSigned (t: Test, name: string): Promise<{ key: string, cert: string }> {
  const dir = await tempDir(t, `cert-${name}`)
  await mkdir(dir, { recursive: true })
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1'])
  return { key, cert }
}

// A copy of `source` whose mtime (the name's time) is `at`.
export async function snapshotAt (source: string, file: string, at: Date): Promise<string> {
  await copyFile(source, file)
  await utimes(file, at, at)
  return file
}

// Flip one byte inside the value `marker` was put with: the status tool
// still reads the file; only etcd's appended sha256 tells.
export async function corruptCopy (source: string, file: string, marker: string): Promise<string> {
  const data = await readFile(source)
  const at = data.indexOf(marker)
  if (at === -1) throw new Error(`marker ${marker} not in ${source}`)
  data[at + 3] = data[at + 3]! ^ 0x01
  await writeFile(file, data)
  return file
}

export function sha256Of (data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

export const quiet = { env: {}, log: () => undefined }

export interface RecordedRequest {
  method: string
  path: string
  headers: Record<string, string | string[] | undefined>
  body: string
}

// A stand-in for the API server: HTTPS with a self-signed certificate,
// answering `status()` and recording every request.
export async function fakeApiServer (t: Test, status: () => number): Promise<{ url: string, port: number, ca: string, requests: RecordedRequest[] }> {
  const { key, cert } = await selfSigned(t, 'kube-api')
  const requests: RecordedRequest[] = []
  const server = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, (request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => { body += chunk.toString() })
    request.on('end', () => {
      requests.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body })
      const code = status()
      response.writeHead(code, { 'content-type': 'application/json' })
      response.end(JSON.stringify(code < 300 ? { kind: 'Job' } : { kind: 'Status', message: `refused with ${code}`, code }))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => server.close(resolve)))
  const port = (server.address() as { port: number }).port
  return { url: `https://127.0.0.1:${port}`, port, ca: cert, requests }
}

// A service account dir as the kubelet mounts it.
export async function serviceAccountDir (t: Test, ca: string, namespace?: string): Promise<string> {
  const dir = await tempDir(t, 'serviceaccount')
  await writeFile(join(dir, 'token'), 'the-token\n')
  await copyFile(ca, join(dir, 'ca.crt'))
  if (namespace !== undefined) await writeFile(join(dir, 'namespace'), namespace)
  return dir
}
