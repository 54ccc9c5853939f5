// Who may call the hook: Metacontroller, with the bearer token or basic
// auth credentials its webhook settings send. Secrets are read from files
// (mounted Secrets) and picked up again when the files change. During a
// rotation the previous credential is accepted too, while its file exists:
// Metacontroller keeps sending the one it cached until it is restarted.
import { timingSafeEqual } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'

export interface WatchOptions {
  // A missing file holds nothing (matches no credential) instead of failing:
  // a rotation's previous credential, there only while the rotation lasts.
  optional?: boolean
  // Called when the content changed after the first read (never with it).
  onChange?: (path: string) => void
}

// A file whose trimmed content is re-read when its modification time
// changes, checked at most every `recheckMs`.
export class WatchedFile {
  private content = ''
  private mtimeMs = -1
  private checkedAt = -Infinity

  constructor (readonly path: string, private readonly recheckMs = 5000, private readonly clock: () => number = Date.now, private readonly options: WatchOptions = {}) {
    this.read() // fail at start-up, not on the first request, when it is missing
  }

  value (): string {
    if (this.clock() - this.checkedAt >= this.recheckMs) this.read()
    return this.content
  }

  private read (): void {
    const firstRead = this.checkedAt === -Infinity
    this.checkedAt = this.clock()
    const before = this.content
    try {
      const { mtimeMs } = statSync(this.path)
      if (mtimeMs !== this.mtimeMs) {
        this.content = readFileSync(this.path, 'utf8').trim()
        this.mtimeMs = mtimeMs
      }
    } catch (error) {
      if (this.options.optional !== true || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      this.content = ''
      this.mtimeMs = -1
    }
    if (!firstRead && this.content !== before) this.options.onChange?.(this.path)
  }
}

// A secret as the server holds it: read afresh on every check.
export interface Secret {
  value (): string
}

// Basic auth from a kubernetes.io/basic-auth Secret, the one Metacontroller
// reads too: its `username` and `password` files, each watched and trimmed
// as Metacontroller trims them.
export class BasicAuthFiles implements Secret {
  constructor (readonly username: WatchedFile, readonly password: WatchedFile) {}

  value (): string {
    const username = this.username.value()
    const password = this.password.value()
    // An empty half matches nothing, like an empty secret file.
    return username === '' || password === '' ? '' : `${username}:${password}`
  }
}

export interface Credentials {
  bearerToken?: Secret | undefined // the token itself
  basicAuth?: Secret | undefined // "username:password"
  // Accepted as well, during a rotation (empty: nothing more accepted).
  // Only with the current one of the same kind.
  previousBearerToken?: Secret | undefined
  previousBasicAuth?: Secret | undefined
}

// True when the Authorization header carries one of the configured
// credentials; always true when none are configured.
export function isAuthorized (credentials: Credentials, header: string | undefined): boolean {
  const { bearerToken, basicAuth } = credentials
  if (bearerToken === undefined && basicAuth === undefined) return true
  if (header === undefined) return false
  const [scheme, value = ''] = header.split(' ', 2)
  if (bearerToken !== undefined && scheme?.toLowerCase() === 'bearer') {
    return eitherSecret(value, bearerToken, credentials.previousBearerToken)
  }
  if (basicAuth !== undefined && scheme?.toLowerCase() === 'basic') {
    return eitherSecret(Buffer.from(value, 'base64').toString('utf8'), basicAuth, credentials.previousBasicAuth)
  }
  return false
}

// The current or the previous secret. Both are compared, whichever matches,
// so the answer's timing does not tell which one a caller holds.
function eitherSecret (given: string, current: Secret, previous: Secret | undefined): boolean {
  const isCurrent = sameSecret(given, current.value())
  const isPrevious = previous !== undefined && sameSecret(given, previous.value())
  return isCurrent || isPrevious
}

// Compared in constant time, so the answer's timing leaks nothing.
function sameSecret (given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return expected !== '' && a.length === b.length && timingSafeEqual(a, b)
}
