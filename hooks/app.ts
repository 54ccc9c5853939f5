// The HTTP shell: validate, observe etcd (read-only), plan (pure), carry out
// the plan's single membership write, answer. `buildApp` never listens;
// hooks/server.ts does.
import { STATUS_CODES } from 'node:http'
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { isAuthorized, type Credentials } from './auth.js'
import { readCluster } from './cluster.js'
import { operatorCredentials } from './credentials.js'
import { EtcdError } from './etcd.js'
import type { MembershipClient, Observation } from './membership.js'
import { HookMetrics } from './metrics.js'
import { observeTarget } from './members.js'
import { planCluster } from './plan.js'
import { ErrorSchema, SyncRequestSchema, SyncResponseSchema, type SyncRequest, type SyncResponse } from './schema.js'
import { NestingError, problemsOf } from './validate.js'

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
  app.addHook('onClose', async () => { closing = true })

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

  app.get('/healthz', async () => ({ ok: true }))
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()))
  app.get('/readyz', async (_request, reply) => closing
    ? reply.code(503).send({ ok: false })
    : { ok: true })

  app.post('/sync', {
    onResponse: (_request, reply, done) => {
      const outcome = reply.statusCode < 300 ? 'ok' : reply.statusCode < 500 ? 'invalid' : 'error'
      metrics.syncDuration.observe({ outcome }, reply.elapsedTime / 1000)
      done()
    },
    schema: { body: SyncRequestSchema, response: { 200: SyncResponseSchema, '4xx': ErrorSchema } },
    // The answer is typed by the schemas above; JSON.stringify writes it
    // faster than a compiled serializer, as children are free-form objects.
    serializerCompiler: () => data => JSON.stringify(data),
  }, async (request, reply) => {
    const sync = request.body as SyncRequest
    const problems = problemsOf(sync.parent)
    if (problems.length > 0) {
      return reply.code(422).send({ error: 'Unprocessable Entity', message: problems.join('; ') })
    }
    const cluster = `${sync.parent.metadata.namespace ?? 'default'}/${sync.parent.metadata.name}`
    // The cluster on every line; a child logger per sync costs more than
    // the planning of a steady cluster.
    const log = request.log

    // The client certificate for members with client TLS, from `related`.
    const credentials = operatorCredentials(sync)
    const tls = credentials.kind === 'ready' ? credentials.tls : undefined
    const etcdCluster = readCluster(sync)
    const target = { ...observeTarget(etcdCluster), tls }
    const observation: Observation = credentials.kind === 'problem'
      ? { reachable: false, error: credentials.message }
      : target.endpoints.length === 0
        ? { reachable: false, error: 'no member pods' }
        : await options.membership.observe(target)
    if (!observation.reachable && target.endpoints.length > 0) metrics.etcdErrors.inc({ operation: 'observe' })
    const decision = planCluster(etcdCluster, observation, now())

    let response: SyncResponse = decision.response
    if (decision.action !== undefined) {
      const { kind, pod } = decision.action
      try {
        await options.membership.execute({ ...decision.action, target: { ...decision.action.target, tls } })
        metrics.membershipActions.inc({ kind, result: 'done' })
        log.info({ cluster, rule: decision.rule, action: kind, pod }, response.status.lastAction ?? kind)
      } catch (error) {
        metrics.membershipActions.inc({ kind, result: 'failed' })
        metrics.etcdErrors.inc({ operation: 'execute' })
        // etcd said no (a learner not caught up yet) or did not answer: the
        // plan for that case adds and removes nothing; try again soon.
        response = decision.responseIfActionFails
        // etcd's refusals are routine (a learner catching up, "unhealthy
        // cluster" for 5 s after a change): a line, not a stack trace.
        const refused = error instanceof EtcdError && error.code === 'Refused'
        log[refused ? 'info' : 'warn']({ cluster, rule: decision.rule, action: kind, pod, error: String(error instanceof Error ? error.message : error) }, `${kind} failed; retrying`)
      }
    } else if (decision.rule !== 'steady') {
      log.info({ cluster, rule: decision.rule, reason: response.status.reason, lastAction: response.status.lastAction }, 'sync')
    } else {
      log.debug({ cluster, rule: decision.rule }, 'steady')
    }
    metrics.recordPhase(cluster, response.status.phase ?? 'Unknown')
    return response
  })

  // Metacontroller's customize hook: ask for the operator Secret, so that
  // it arrives with every sync in `related` and the hook never needs to read
  // the Kubernetes API itself.
  app.post('/customize', { schema: { body: CustomizeRequestSchema } }, async request => {
    const { parent } = request.body
    const secret = parent.spec.TLS?.static?.operatorSecret
    return {
      relatedResources: secret === undefined
        ? []
        : [{ apiVersion: 'v1', resource: 'secrets', namespace: parent.metadata.namespace ?? 'default', names: [secret] }],
    }
  })

  return app
}

const CustomizeRequestSchema = Type.Object({
  parent: Type.Object({
    metadata: Type.Object({ name: Type.String(), namespace: Type.Optional(Type.String()) }),
    spec: Type.Object({
      TLS: Type.Optional(Type.Object({
        static: Type.Optional(Type.Object({ operatorSecret: Type.Optional(Type.String()) })),
      })),
    }),
  }),
})
