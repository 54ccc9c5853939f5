// The runner's errors: each one's message is the single line printed on
// stderr before a non-zero exit, so it names the flag, file or object and
// carries the underlying tool's or store's own words.

// A failure of the work itself (bad snapshot, store error): exit 1.
export class RunnerError extends Error {
  override readonly name: string = 'RunnerError'
}

// A command line that cannot work (unknown, missing or bad flag): exit 2.
export class UsageError extends RunnerError {
  override readonly name: string = 'UsageError'
}

// A system error's code (ENOENT, EXDEV), if it has one.
export function errorCode (error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

// Collapse whitespace and newlines: whatever a tool printed, one line.
export function oneLine (text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}

// What an unknown thrown value says, as one line. Errors from the AWS SDK
// carry the store's code as `name` (NoSuchKey, InvalidAccessKeyId); system
// errors carry `code` (ECONNREFUSED) in their message already.
export function describe (error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error))
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
  const generic = error.name === 'Error' || error instanceof RunnerError
  const name = generic ? '' : `${error.name}: `
  const message = error.message === '' && error instanceof AggregateError
    ? error.errors.map(describe).join('; ')
    : error.message
  return oneLine(`${name}${message}${status !== undefined ? ` (HTTP ${status})` : ''}`)
}
