// How a call to etcd fails, as the gateway's callers see it, and the
// failures the HTTP layer tells apart on the way.

export type EtcdErrorCode =
  // No endpoint answered (connection refused, timeout).
  | 'Unreachable'
  // etcd answered and said no (or, from every endpoint, "not now").
  | 'Refused'
  // A write reached a member and no answer came back: it may be applied
  // now or later. Not sent anywhere else; the next sync reads the member
  // list before it decides anything.
  | 'Unknown'

export class EtcdError extends Error {
  constructor (readonly code: EtcdErrorCode, message: string) {
    super(message)
    this.name = 'EtcdError'
  }
}

// etcd answered with a non-2xx status. `grpcCode` 14 (Unavailable) means this
// member cannot serve the request right now (a learner, no leader) and
// another member may; anything else is etcd's verdict on the request.
export class GatewayAnswer extends Error {
  constructor (readonly httpStatus: number, readonly grpcCode: number | undefined, message: string) {
    super(message)
  }
}
export const GRPC_UNAVAILABLE = 14

// The request was sent on an open connection and no complete answer came
// (a timeout, a cut connection): etcd may have acted on it.
export class AnswerLost extends Error {}

// A kept-alive connection failed before any answer: most likely the member
// closed it meanwhile (it restarted). Worth one more try on a fresh one.
export class StaleConnection extends Error {}

// The gateway's error body: {"error":"...","code":N,"message":"..."}.
export function gatewayAnswer (httpStatus: number, text: string): GatewayAnswer {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  if (isRecord(body)) {
    const message = typeof body.message === 'string' && body.message !== '' ? body.message : body.error
    const code = typeof body.code === 'number' ? body.code : undefined
    if (typeof message === 'string' && message !== '') return new GatewayAnswer(httpStatus, code, message)
  }
  const plain = text.trim().slice(0, 200)
  return new GatewayAnswer(httpStatus, undefined, plain === '' ? `HTTP ${httpStatus}` : `HTTP ${httpStatus}: ${plain}`)
}

export function describeError (error: unknown): string {
  // Connecting to a name with several addresses fails with an AggregateError
  // whose own message is empty.
  if (error instanceof AggregateError && error.message === '' && error.errors.length > 0) {
    return describeError(error.errors[0])
  }
  if (error instanceof Error) return error.message || ('code' in error ? String(error.code) : error.name)
  return String(error)
}

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
