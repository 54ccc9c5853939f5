// The HTTP shell: the fastify instance, its probes and metrics, who may
// call it, how errors are answered, and one plugin of routes per
// controller. `buildApp` never listens; hooks/server/main.ts does.
import { STATUS_CODES } from 'node:http'
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { NestingError } from '../api/validate.js'
import type { MembershipClient } from '../etcd/types.js'
import { isAuthorized, type Credentials } from './auth.js'
import { HookMetrics } from './metrics.js'
import { clusterRoutes } from './routes/cluster.js'

export interface AppOptions {
  membership: MembershipClient
  // Injected so tests control time; the planner never reads a clock.
  now?: () => Date
  logger?: FastifyServerOptions['logger']
  // Bearer token and/or basic auth Metacontroller must send; none: open.
  credentials?: Credentials
  metrics?: HookMetrics
  // Serve HTTPS (certificate, key; a client CA to require client certs).
  https?: { cert: string, key: string, ca?: string | undefined } | undefined
}

// Probes and Prometheus need no credentials; nothing there is secret.
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics'])

// Metacontroller sends every child of a cluster; 9 pods with full status
// are well under 1 MiB, related Secrets included.
const BODY_LIMIT = 4 * 1024 * 1024

export function buildApp (options: AppOptions): FastifyInstance {
  const now = options.now ?? (() => new Date())
  const metrics = options.metrics ?? new HookMetrics()
  const https = options.https === undefined
    ? {}
    : { https: { cert: options.https.cert, key: options.https.key, ...(options.https.ca !== undefined ? { ca: options.https.ca, requestCert: true, rejectUnauthorized: true } : {}) } }
  const app = Fastify({
    ...https,
    logger: options.logger ?? false,
    // One line per sync that changes something, written by us; resyncs of a
    // steady cluster are not worth a line each.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (pino builds one per call): our lines
    // name the cluster, which says more than a request id.
    childLoggerFactory: logger => logger,
    bodyLimit: BODY_LIMIT,
    // Validate the request as sent: no coercion, no defaults, no stripping.
    // The schema's Kubernetes extensions are annotations for the CRD.
    ajv: {
      customOptions: {
        coerceTypes: false, useDefaults: false, removeAdditional: false,
        keywords: ['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-validations', 'x-kubernetes-int-or-string'],
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Metacontroller sends JSON; anything else is a 415, not a string body.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'))

  let closing = false
  app.addHook('onClose', (_instance, done) => {
    closing = true
    done()
  })

  const credentials = options.credentials ?? {}
  // Every path needs credentials but the open ones, matched exactly: a
  // query string or an unknown path asks for them too. (Callback-style
  // hooks: an async one costs a promise on every sync.)
  app.addHook('onRequest', (request, reply, done) => {
    if (OPEN_PATHS.has(request.url) || isAuthorized(credentials, request.headers.authorization)) {
      done()
      return
    }
    // Logged without the header: it may hold a real credential.
    request.log.warn({ url: request.url, remote: request.ip, scheme: request.headers.authorization?.split(' ')[0] ?? 'none' }, 'unauthorized call refused')
    reply.code(401).header('www-authenticate', 'Bearer, Basic realm="etcd-operator"')
      .send({ error: 'Unauthorized', message: 'missing or wrong credentials' })
  })

  app.setErrorHandler<FastifyError>((error, request, reply) => {
    if (error.validation !== undefined || (error as Error) instanceof NestingError) {
      // A request of the wrong shape: say which field; change nothing.
      return reply.code(422).send({ error: 'Unprocessable Entity', message: error.message })
    }
    const status = error.statusCode ?? 500
    if (status < 500) return reply.code(status).send({ error: STATUS_CODES[status] ?? 'Bad Request', message: error.message })
    // A 5xx makes Metacontroller retry and change nothing: never a 200
    // that could drop members.
    request.log.error({ err: error }, 'sync failed')
    return reply.code(500).send({ error: 'Internal Server Error', message: 'the hook failed; see its log' })
  })

  app.get('/healthz', () => ({ ok: true }))
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()))
  app.get('/readyz', async (_request, reply) => closing
    ? reply.code(503).send({ ok: false })
    : { ok: true })

  // One plugin per controller, each with its own paths.
  void app.register(clusterRoutes, { membership: options.membership, now, metrics })

  return app
}
