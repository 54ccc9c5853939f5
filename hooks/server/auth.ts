// Who may call the hook: Metacontroller, with the bearer token or basic
// auth credentials its webhook settings send. Secrets are read from files
// (mounted Secrets) and picked up again when the files change.
import { timingSafeEqual } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'

// A file whose trimmed content is re-read when its modification time
// changes, checked at most every `recheckMs`.
export class WatchedFile {
  private content = ''
  private mtimeMs = -1
  private checkedAt = -Infinity

  constructor (readonly path: string, private readonly recheckMs = 5000, private readonly clock: () => number = Date.now) {
    this.read() // fail at start-up, not on the first request, when it is missing
  }

  value (): string {
    if (this.clock() - this.checkedAt >= this.recheckMs) this.read()
    return this.content
  }

  private read (): void {
    this.checkedAt = this.clock()
    const { mtimeMs } = statSync(this.path)
    if (mtimeMs !== this.mtimeMs) {
      this.content = readFileSync(this.path, 'utf8').trim()
      this.mtimeMs = mtimeMs
    }
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
}

// True when the Authorization header carries one of the configured
// credentials; always true when none are configured.
export function isAuthorized (credentials: Credentials, header: string | undefined): boolean {
  const { bearerToken, basicAuth } = credentials
  if (bearerToken === undefined && basicAuth === undefined) return true
  if (header === undefined) return false
  const [scheme, value = ''] = header.split(' ', 2)
  if (bearerToken !== undefined && scheme?.toLowerCase() === 'bearer') {
    return sameSecret(value, bearerToken.value())
  }
  if (basicAuth !== undefined && scheme?.toLowerCase() === 'basic') {
    return sameSecret(Buffer.from(value, 'base64').toString('utf8'), basicAuth.value())
  }
  return false
}

// Compared in constant time, so the answer's timing leaks nothing.
function sameSecret (given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return expected !== '' && a.length === b.length && timingSafeEqual(a, b)
}
