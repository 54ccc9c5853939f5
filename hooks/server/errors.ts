// What a refused request gets back, always the same shape:
// `{ error: <the status's name>, message: <a sentence a person can act on> }`.
// The handlers here give fastify's own refusals (unknown path, wrong
// method, a connection that is no HTTP) that shape too.
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'

export const ErrorSchema = Type.Object({
  error: Type.String(),
  message: Type.String(),
}, { additionalProperties: false })

export interface ErrorBody { error: string, message: string }

export function errorBody (status: number, message: string): ErrorBody {
  return { error: STATUS_CODES[status] ?? 'Error', message }
}

// Paths and the methods each is served with, as routes are added (an
// onRoute hook), so that a wrong method gets 405 rather than 404.
export class RouteTable {
  private readonly methods = new Map<string, Set<string>>()

  add (url: string, method: string | string[]): void {
    const known = this.methods.get(url) ?? new Set<string>()
    for (const m of [method].flat()) known.add(m)
    this.methods.set(url, known)
  }

  // fastify's not-found handler: 405 naming the methods for a known path,
  // else 404.
  readonly notFound = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?', 1)[0] ?? ''
    const allowed = this.methods.get(path)
    if (allowed !== undefined) {
      const allow = [...allowed].sort().join(', ')
      return reply.code(405).header('allow', allow).send(errorBody(405, `${request.method} ${path} is not served: use ${allow}`))
    }
    return reply.code(404).send(errorBody(404, `no such path: ${request.method} ${path}`))
  }
}

// Node's HTTP parser refused the connection's bytes (not HTTP, headers too
// large, too slow): fastify's own answer, in our shape.
export function clientErrorHandler (error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [status, message] = error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? [408, 'the request took too long to arrive']
    : error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'the request headers are too large']
      : [400, 'the request is not valid HTTP']
  const body = JSON.stringify(errorBody(status, message))
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(error)
}
