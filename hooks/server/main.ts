// The production entry point: listen on $PORT on every interface (probes
// and Metacontroller come from outside the pod), over HTTPS when given a
// certificate (picked up again when it changes), and shut down gracefully.
import type { Server as HttpsServer } from 'node:https'
import { buildApp } from './app.js'
import { BasicAuthFiles, WatchedFile } from './auth.js'
import { readConfig } from './config.js'
import { EtcdGateway } from '../etcd/gateway.js'

const config = readConfig(process.env)
const tlsFiles = config.tls === undefined
  ? undefined
  : {
      cert: new WatchedFile(config.tls.certFile),
      key: new WatchedFile(config.tls.keyFile),
      ca: config.tls.clientCAFile !== undefined ? new WatchedFile(config.tls.clientCAFile) : undefined,
    }
const secureContext = () => tlsFiles === undefined
  ? undefined
  : { cert: tlsFiles.cert.value(), key: tlsFiles.key.value(), ca: tlsFiles.ca?.value() }

const app = buildApp({
  membership: new EtcdGateway({ requestTimeoutMs: config.etcdRequestTimeoutMs }),
  logger: {
    level: config.logLevel,
    // Credentials never reach the log, wherever they appear.
    redact: ['req.headers.authorization', '*.related', '*.data', '*.tls.key'],
  },
  credentials: {
    bearerToken: config.bearerTokenFile !== undefined ? new WatchedFile(config.bearerTokenFile) : undefined,
    basicAuth: config.basicAuthFiles !== undefined
      ? new BasicAuthFiles(new WatchedFile(config.basicAuthFiles.usernameFile), new WatchedFile(config.basicAuthFiles.passwordFile))
      : config.basicAuthFile !== undefined ? new WatchedFile(config.basicAuthFile) : undefined,
  },
  https: secureContext(),
})

// Certificates in mounted Secrets are rotated in place: reload them.
if (tlsFiles !== undefined) {
  let current = JSON.stringify(secureContext())
  setInterval(() => {
    try {
      const next = secureContext()
      if (JSON.stringify(next) === current) return
      ;(app.server as unknown as HttpsServer).setSecureContext(next ?? {})
      current = JSON.stringify(next)
      app.log.info('TLS certificate reloaded')
    } catch (error) {
      app.log.error({ err: error }, 'TLS certificate reload failed; keeping the previous one')
    }
  }, 10_000).unref()
}

// Finish the syncs in flight, refuse new ones (readyz turns 503), then exit.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.log.info({ signal }, 'shutting down')
    app.close().then(() => process.exit(0), () => process.exit(1))
  })
}

try {
  await app.listen({ port: config.port, host: '0.0.0.0' })
} catch (error) {
  app.log.fatal({ err: error }, 'cannot listen')
  process.exit(1)
}
