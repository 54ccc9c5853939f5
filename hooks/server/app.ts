// The HTTP shell: the fastify instance, its probes and metrics, who may
// call it, how errors are answered, and one plugin of routes per
// controller. `buildApp` never listens; hooks/server/main.ts does.
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { NestingError } from '../api/validate.js'
import type { MembershipClient } from '../etcd/types.js'
import { isAuthorized, type Credentials } from './auth.js'
import { RouteTable, clientErrorHandler, errorBody } from './errors.js'
import { HookMetrics } from './metrics.js'
import { Health, addProbeRoutes } from './probes.js'
import { DEFAULT_SETTINGS, type HookSettings } from '../cluster/model.js'
import { backupRoutes } from './routes/backup.js'
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
  // Whether the app shuts down, shared with a probe server (probes.ts).
  health?: Health
  // What the controllers are told by the hook's configuration.
  settings?: HookSettings
}

// Probes and Prometheus need no credentials; nothing there is secret.
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics'])

// Metacontroller sends every child of a cluster; 9 pods with full status
// are well under 1 MiB, related Secrets included.
const BODY_LIMIT = 4 * 1024 * 1024

export function buildApp (options: AppOptions): FastifyInstance {
  const now = options.now ?? (() => new Date())
  const metrics = options.metrics ?? new HookMetrics()
  const health = options.health ?? new Health()
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
    // Bytes that are no HTTP get an answer in our error shape too.
    clientErrorHandler,
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

  // Readiness turns 503 as soon as shutting down begins.
  app.addHook('preClose', done => {
    health.closing = true
    done()
  })
  // Every refusal is { error, message }: fastify's 404 too, and a 405 for a
  // path served with another method.
  const routes = new RouteTable()
  app.addHook('onRoute', route => { routes.add(route.url, route.method) })
  app.setNotFoundHandler(routes.notFound)

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
      .send(errorBody(401, 'missing or wrong credentials'))
  })

  app.setErrorHandler<FastifyError>((error, request, reply) => {
    if (error.validation !== undefined || (error as Error) instanceof NestingError) {
      // A request of the wrong shape: say which field; change nothing.
      return reply.code(422).send(errorBody(422, error.message))
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const type = request.headers['content-type']
      const given = type === undefined || type === '' ? 'a body without a content-type' : `content-type ${type}`
      return reply.code(415).send(errorBody(415, `${given} is not accepted: send application/json`))
    }
    const status = error.statusCode ?? 500
    if (status < 500) return reply.code(status).send(errorBody(status, error.message))
    // A 5xx makes Metacontroller retry and change nothing: never a 200
    // that could drop members.
    request.log.error({ err: error }, 'sync failed')
    return reply.code(500).send(errorBody(500, 'the hook failed; see its log'))
  })

  addProbeRoutes(app, health)
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()))

  // One plugin per controller, each with its own paths.
  void app.register(clusterRoutes, { membership: options.membership, now, metrics, settings: options.settings ?? DEFAULT_SETTINGS })
  void app.register(backupRoutes, { now, settings: options.settings ?? DEFAULT_SETTINGS })

  return app
}
