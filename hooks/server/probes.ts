// The probes: /healthz (the process serves) and /readyz (it takes syncs;
// 503 once it shuts down). The hook's app serves them next to /sync; with
// HOOK_PROBE_PORT a second, plain-HTTP server serves them alone, for a
// kubelet that cannot pass the hook's TLS client-certificate check. That
// server has no credentials and nothing else: no /sync, no /metrics.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { RouteTable, clientErrorHandler, errorBody } from './errors.js'

// Shared by the hook's app and the probe server: whether it shuts down.
export class Health {
  closing = false
}

export function addProbeRoutes (app: FastifyInstance, health: Health): void {
  app.get('/healthz', () => ({ ok: true }))
  app.get('/readyz', async (_request, reply) => health.closing
    ? reply.code(503).send(errorBody(503, 'shutting down: finishing the syncs in flight'))
    : { ok: true })
}

export function buildProbeApp (health: Health, logger: FastifyServerOptions['logger'] = false): FastifyInstance {
  const app = Fastify({ logger, clientErrorHandler, bodyLimit: 1024 })
  // Probes send no body: nothing is parsed, so nothing can be 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
  const routes = new RouteTable()
  app.addHook('onRoute', route => { routes.add(route.url, route.method) })
  app.setNotFoundHandler(routes.notFound)
  app.setErrorHandler((error: { statusCode?: number, message: string }, _request, reply) => {
    const status = error.statusCode ?? 500
    return reply.code(status).send(errorBody(status, status < 500 ? error.message : 'the probe failed'))
  })
  addProbeRoutes(app, health)
  return app
}
