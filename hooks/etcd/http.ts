// One JSON POST to an etcd member's gateway, with node:http/https so client
// TLS works, bounded from connect to last byte.
import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { AnswerLost, StaleConnection, gatewayAnswer } from './errors.js'
import type { ClientTLS } from './types.js'

export interface PostOptions {
  tls: ClientTLS | undefined
  // A keep-alive agent for reads; false: a fresh connection (writes).
  agent: HttpAgent | false
  timeoutMs: number
  // GET sends no body (etcd's /version); every gateway call is a POST.
  method?: 'GET' | 'POST'
}

// POST a JSON body and parse the JSON answer. Rejects with GatewayAnswer
// when etcd answered non-2xx, with StaleConnection when a kept connection
// failed before any answer, with AnswerLost when the request went out on a
// connection and no complete answer came back (etcd may have acted on it),
// and with a plain Error when it never got out (refused, no route, no TLS).
export function postJSON (endpoint: string, path: string, body: object, options: PostOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const target = options.timeoutMs <= 0 ? new Error('no time left in this sync') : requestTarget(endpoint, path)
    if (target instanceof Error) {
      reject(target)
      return
    }
    const { url, send } = target
    const method = options.method ?? 'POST'
    const payload = method === 'GET' ? '' : JSON.stringify(body)
    const { tls } = options
    const requestOptions: RequestOptions & Partial<ClientTLS> = {
      method,
      agent: options.agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      ...(tls && { ca: tls.ca, cert: tls.cert, key: tls.key }),
    }

    let failure: Error | undefined
    let answer: IncomingMessage | undefined
    const fail = (error: Error) => {
      clearTimeout(timer)
      const cause = failure ?? error
      if (failure === undefined && answer === undefined && req.reusedSocket) reject(new StaleConnection(error.message))
      else if (sent() && answer?.complete !== true) reject(new AnswerLost(cause.message))
      else reject(cause)
    }
    const req = send(url, requestOptions, (res: IncomingMessage) => {
      answer = res
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', fail)
      res.on('end', () => {
        clearTimeout(timer)
        const text = Buffer.concat(chunks).toString('utf8')
        const status = res.statusCode ?? 0
        if (status < 200 || status >= 300) {
          reject(gatewayAnswer(status, text))
          return
        }
        try {
          resolve(JSON.parse(text))
        } catch {
          reject(new Error(`answer to ${path} is not JSON: ${text.slice(0, 100)}`))
        }
      })
    })
    // A hard bound: the socket's own timeout only measures idleness.
    const timer = setTimeout(() => {
      failure = new Error(`no answer within ${options.timeoutMs} ms`)
      req.destroy(failure)
    }, options.timeoutMs)
    const sent = whenSent(req, url.protocol === 'https:')
    req.on('error', fail)
    // Covers a connection cut mid-answer. A complete answer may still be
    // on its way to 'end'.
    req.on('close', () => {
      if (!answer?.complete) fail(new Error('connection closed before the answer was complete'))
    })
    req.end(payload)
  })
}

// Whether the request can have reached etcd: its connection (and TLS
// handshake) was up, so the body went out on it.
function whenSent (req: ClientRequest, https: boolean): () => boolean {
  let sent = false
  req.on('socket', socket => {
    if (!socket.connecting) sent = true
    else socket.once(https ? 'secureConnect' : 'connect', () => { sent = true })
  })
  return () => sent
}

// The URL of one call, and the module that sends it.
function requestTarget (endpoint: string, path: string): { url: URL, send: typeof httpRequest } | Error {
  let url: URL
  try {
    url = new URL(endpoint.replace(/\/+$/, '') + path)
  } catch {
    return new Error(`invalid endpoint URL ${JSON.stringify(endpoint)}`)
  }
  const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined
  return send === undefined ? new Error(`unsupported endpoint scheme ${url.protocol} in ${endpoint}`) : { url, send }
}
