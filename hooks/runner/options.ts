// Flags -> the settings of each command, pure. Everything the runner does
// is decided here from its command line; nothing is read from files yet.
import { isAbsolute, posix, relative, resolve, sep } from 'node:path'
import { UsageError } from './errors.js'
import type { Flags, FlagSpec } from './flags.js'

export interface S3Settings {
  kind: 's3'
  bucket: string
  endpoint?: string
  // --s3-region; without it the Secret's config file names the region (s3.ts)
  region?: string
  forcePathStyle: boolean
  awsDir?: string
}

export interface PvcSettings {
  kind: 'pvc'
  dir: string
  // The claim mounted at dir, for object names pvc://<claim>/<path>.
  claim?: string
}

export type StoreSettings = S3Settings | PvcSettings

// One exact object, or names generated under a prefix ('' = the top).
// Both are '/'-separated keys: in the bucket, or relative to the PVC dir.
export type Place = { exact: string } | { prefix: string }

export interface Location {
  store: StoreSettings
  place: Place
}

export const STORE_FLAGS: FlagSpec = {
  'store': 'value',
  's3-path': 'value',
  's3-object': 'value',
  's3-endpoint': 'value',
  's3-region': 'value',
  's3-force-path-style': 'switch',
  'aws-dir': 'value',
  'pvc-dir': 'value',
  'pvc-subpath': 'value',
  'pvc-file': 'value',
  'pvc-claim': 'value',
}

const S3_FLAGS = ['s3-path', 's3-object', 's3-endpoint', 's3-region', 's3-force-path-style', 'aws-dir']
const PVC_FLAGS = ['pvc-dir', 'pvc-subpath', 'pvc-file', 'pvc-claim']
// S3's rules for new buckets, loosely (dots and hyphens inside).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
// A cluster name is a DNS label: it starts every generated name.
const CLUSTER = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

export function parseLocation (flags: Flags): Location {
  const store = flags.choice('store', ['s3', 'pvc'])
  if (store === 's3') {
    flags.forbid(PVC_FLAGS, 'with --store s3')
    return { store: s3Settings(flags), place: s3Place(flags) }
  }
  flags.forbid(S3_FLAGS, 'with --store pvc')
  const dir = resolve(flags.required('pvc-dir', ' with --store pvc'))
  const claim = flags.optional('pvc-claim')
  return { store: { kind: 'pvc', dir, ...(claim !== undefined ? { claim } : {}) }, place: pvcPlace(flags, dir) }
}

function s3Settings (flags: Flags): S3Settings {
  const endpoint = flags.optional('s3-endpoint')
  if (endpoint !== undefined && !/^https?:$/.test(urlProtocol(endpoint))) {
    throw new UsageError(`--s3-endpoint: expected an http:// or https:// URL, got '${endpoint}'`)
  }
  const region = flags.optional('s3-region')
  if (region !== undefined && !isRegionName(region)) throw new UsageError(`--s3-region: '${region}' is not a region name`)
  const bucket = s3Parts(flags).bucket
  const awsDir = flags.optional('aws-dir')
  return {
    kind: 's3',
    bucket,
    ...(region !== undefined ? { region } : {}),
    forcePathStyle: flags.switch('s3-force-path-style'),
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(awsDir !== undefined ? { awsDir: resolve(awsDir) } : {}),
  }
}

export function isRegionName (text: string): boolean {
  return /^[a-z0-9-]+$/.test(text)
}

function urlProtocol (text: string): string {
  try {
    return new URL(text).protocol
  } catch {
    return ''
  }
}

// `bucket/key` (--s3-object) or `bucket/prefix` (--s3-path; the prefix may
// be empty and loses any trailing slash).
function s3Parts (flags: Flags): { flag: string, bucket: string, rest: string } {
  const path = flags.optional('s3-path')
  const object = flags.optional('s3-object')
  if ((path === undefined) === (object === undefined)) {
    throw new UsageError('--store s3 needs exactly one of --s3-path bucket/prefix or --s3-object bucket/key')
  }
  const flag = object !== undefined ? 's3-object' : 's3-path'
  const value = object ?? path ?? ''
  const slash = value.indexOf('/')
  const bucket = slash === -1 ? value : value.slice(0, slash)
  const rest = slash === -1 ? '' : value.slice(slash + 1)
  const shape = flag === 's3-object' ? 'bucket/key' : 'bucket/prefix'
  if (!BUCKET.test(bucket)) throw new UsageError(`--${flag}: '${bucket}' is not an S3 bucket name (expected ${shape}, got '${value}')`)
  return { flag, bucket, rest }
}

function s3Place (flags: Flags): Place {
  const { flag, rest } = s3Parts(flags)
  if (flag === 's3-path') return { prefix: rest.replace(/\/+$/, '') }
  if (rest === '' || rest.endsWith('/')) throw new UsageError(`--s3-object: expected bucket/key with a key that is not a folder, got '${flags.optional('s3-object') ?? ''}'`)
  return { exact: rest }
}

function pvcPlace (flags: Flags, dir: string): Place {
  const file = flags.optional('pvc-file')
  if (file !== undefined) {
    flags.forbid(['pvc-subpath'], 'with --pvc-file (an exact name)')
    const key = insideDir('pvc-file', dir, file)
    if (key === '') throw new UsageError(`--pvc-file: '${file}' names the --pvc-dir itself, not a file in it`)
    return { exact: key }
  }
  const subpath = flags.optional('pvc-subpath')
  return { prefix: subpath === undefined ? '' : insideDir('pvc-subpath', dir, subpath) }
}

// A path inside `dir`, as a '/'-separated relative key ('' for dir itself).
function insideDir (flag: string, dir: string, value: string): string {
  const rel = isAbsolute(value) ? relative(dir, value) : posix.normalize(value)
  const key = rel === '.' ? '' : rel.replace(/\/+$/, '')
  if (key === '..' || key.startsWith('../') || isAbsolute(key)) {
    throw new UsageError(`--${flag}: '${value}' is not inside --pvc-dir ${dir}`)
  }
  return key
}

export function parseCluster (flags: Flags, required: boolean, why: string): string | undefined {
  const cluster = required ? flags.required('cluster', why) : flags.optional('cluster')
  if (cluster !== undefined && !CLUSTER.test(cluster)) {
    throw new UsageError(`--cluster: '${cluster}' is not a cluster name (lower-case letters, digits and '-', at most 63)`)
  }
  return cluster
}

// Two directories that must be distinct and not nested: moving one onto
// the other, or clearing one, must never touch the other.
export function separateDirs (staging: string, dataDir: string, flag = 'staging'): { staging: string, dataDir: string } {
  const a = resolve(staging)
  const b = resolve(dataDir)
  if (a === b || a.startsWith(b + sep) || b.startsWith(a + sep)) {
    throw new UsageError(`--${flag} ${staging} and --data-dir ${dataDir} must be separate directories, neither inside the other`)
  }
  return { staging: a, dataDir: b }
}

export interface StatusTool {
  path: string
  kind: 'etcdutl' | 'etcdctl'
}

export interface JobTarget {
  name: string
  namespace?: string
  apiBase?: string
  serviceAccountDir: string
}

export interface UploadOptions {
  snapshot: string
  cluster?: string
  location: Location
  maxBackups: number
  statusTool: StatusTool
  job?: JobTarget
}

export interface FetchOptions {
  location: Location
  cluster?: string
  to: string
  // A leftover staging dir of an interrupted restore, cleared first.
  clear?: { staging: string, dataDir: string }
  // Reports the fetched snapshot's revision (status.restore on the cluster).
  statusTool?: StatusTool
}

export interface CommitOptions {
  staging: string
  dataDir: string
  // What the restore leaves behind (the fetched file): removed once the
  // data dir holds data.
  discard?: string
}

export const UPLOAD_FLAGS: FlagSpec = {
  ...STORE_FLAGS,
  'snapshot': 'value',
  'cluster': 'value',
  'max-backups': 'value',
  'status-tool': 'value',
  'status-tool-kind': 'value',
  'job': 'value',
  'namespace': 'value',
  'kube-api': 'value',
  'service-account-dir': 'value',
}

export const FETCH_FLAGS: FlagSpec = {
  ...STORE_FLAGS,
  'latest': 'switch',
  'cluster': 'value',
  'to': 'value',
  'staging': 'value',
  'data-dir': 'value',
  'status-tool': 'value',
  'status-tool-kind': 'value',
}

export const COMMIT_FLAGS: FlagSpec = { 'staging': 'value', 'data-dir': 'value', 'discard': 'value' }

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

export function uploadOptions (flags: Flags): UploadOptions {
  const snapshot = resolve(flags.required('snapshot'))
  const location = parseLocation(flags)
  const generated = 'prefix' in location.place
  const cluster = parseCluster(flags, generated, ': it starts the generated object name')
  const maxBackups = flags.count('max-backups', 0)
  if (!generated && maxBackups > 0) {
    throw new UsageError('--max-backups: retention applies to generated names only (--s3-path, or --pvc-dir without --pvc-file), not to an exact object')
  }
  const job = jobTarget(flags)
  return {
    snapshot,
    location,
    maxBackups,
    statusTool: statusTool(flags),
    ...(cluster !== undefined ? { cluster } : {}),
    ...(job !== undefined ? { job } : {}),
  }
}

// etcdutl (3.5+) by default; the kind follows the tool's name unless given.
function statusTool (flags: Flags): StatusTool {
  const path = flags.optional('status-tool') ?? 'etcdutl'
  const inferred = posix.basename(path).startsWith('etcdctl') ? 'etcdctl' : 'etcdutl'
  return { path, kind: flags.choice('status-tool-kind', ['etcdutl', 'etcdctl'], inferred) }
}

function jobTarget (flags: Flags): JobTarget | undefined {
  const name = flags.optional('job')
  if (name === undefined) {
    flags.forbid(['namespace', 'kube-api', 'service-account-dir'], 'without --job')
    return undefined
  }
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) throw new UsageError(`--job: '${name}' is not a Job name`)
  const namespace = flags.optional('namespace')
  if (namespace !== undefined && !CLUSTER.test(namespace)) throw new UsageError(`--namespace: '${namespace}' is not a namespace name`)
  const apiBase = flags.optional('kube-api')
  if (apiBase !== undefined && urlProtocol(apiBase) !== 'https:') throw new UsageError(`--kube-api: expected an https:// URL, got '${apiBase}'`)
  return {
    name,
    serviceAccountDir: resolve(flags.optional('service-account-dir') ?? SERVICE_ACCOUNT_DIR),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(apiBase !== undefined ? { apiBase: apiBase.replace(/\/+$/, '') } : {}),
  }
}

export function fetchOptions (flags: Flags): FetchOptions {
  const location = parseLocation(flags)
  const latest = flags.switch('latest')
  if ('prefix' in location.place && !latest) throw new UsageError('--latest is required with --s3-path or --pvc-dir without --pvc-file (or name the object: --s3-object, --pvc-file)')
  if ('exact' in location.place && latest) throw new UsageError('--latest: not allowed with an exact object (--s3-object, --pvc-file)')
  const cluster = parseCluster(flags, false, '')
  if ('exact' in location.place && cluster !== undefined) throw new UsageError('--cluster: only picks among generated names with --latest')
  const to = resolve(flags.required('to'))
  const staging = flags.optional('staging')
  const dataDir = flags.optional('data-dir')
  if ((staging === undefined) !== (dataDir === undefined)) throw new UsageError('--staging and --data-dir go together (the staging dir is cleared only when it is separate from the data dir)')
  return {
    location,
    to,
    ...(cluster !== undefined ? { cluster } : {}),
    ...(staging !== undefined && dataDir !== undefined ? { clear: separateDirs(staging, dataDir) } : {}),
    ...(flags.has('status-tool') || flags.has('status-tool-kind') ? { statusTool: statusTool(flags) } : {}),
  }
}

export function commitOptions (flags: Flags): CommitOptions {
  const dirs = separateDirs(flags.required('staging'), flags.required('data-dir'))
  const discard = flags.optional('discard')
  if (discard === undefined) return dirs
  return { ...dirs, discard: separateDirs(discard, dirs.dataDir, 'discard').staging }
}
