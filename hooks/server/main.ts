// The production entry point: listen on $PORT on every interface (probes
// and Metacontroller come from outside the pod), over HTTPS when given a
// certificate (picked up again when it changes), with the probes alone on
// $HOOK_PROBE_PORT when set, and shut down gracefully. A bad setting ends
// it at once with one line saying which and what is allowed.
import type { Server as HttpsServer } from 'node:https'
import { buildApp } from './app.js'
import { BasicAuthFiles, WatchedFile } from './auth.js'
import { readConfig, type Config } from './config.js'
import { Health, buildProbeApp } from './probes.js'
import { EtcdGateway } from '../etcd/gateway.js'

// One line on stderr, no stack trace: what a person reads in `kubectl logs`.
function exitWith (message: string): never {
  process.stderr.write(`etcd-operator: ${message}\n`)
  process.exit(1)
}

let config: Config
try {
  config = readConfig(process.env)
} catch (error) {
  exitWith(error instanceof Error ? error.message : String(error))
}

// A file named by `variable`, read now (a missing one ends the start-up,
// unless optional) and again when it changes.
function watch (variable: string, path: string, optional = false): WatchedFile {
  try {
    return new WatchedFile(path, 5000, Date.now, {
      optional,
      // Never the content: a rotated credential is accepted from now on.
      onChange: () => { app.log.info({ variable, path }, `${variable} changed; reloaded`) },
    })
  } catch (error) {
    exitWith(`${variable}=${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
}

// The two basic-auth forms: one `user:password` file, or a
// kubernetes.io/basic-auth Secret's username and password files.
function basicAuth (oneFile: string | undefined, files: Config['basicAuthFiles'], infix: '' | 'PREVIOUS_'): WatchedFile | BasicAuthFiles | undefined {
  const optional = infix !== ''
  if (files !== undefined) {
    return new BasicAuthFiles(watch(`HOOK_BASIC_AUTH_${infix}USERNAME_FILE`, files.usernameFile, optional), watch(`HOOK_BASIC_AUTH_${infix}PASSWORD_FILE`, files.passwordFile, optional))
  }
  return oneFile !== undefined ? watch(`HOOK_BASIC_AUTH_${infix}FILE`, oneFile, optional) : undefined
}

const tlsFiles = config.tls === undefined
  ? undefined
  : {
      cert: watch('HOOK_TLS_CERT_FILE', config.tls.certFile),
      key: watch('HOOK_TLS_KEY_FILE', config.tls.keyFile),
      ca: config.tls.clientCAFile !== undefined ? watch('HOOK_TLS_CLIENT_CA_FILE', config.tls.clientCAFile) : undefined,
    }
const secureContext = () => tlsFiles === undefined
  ? undefined
  : { cert: tlsFiles.cert.value(), key: tlsFiles.key.value(), ca: tlsFiles.ca?.value() }

const health = new Health()
const app = buildApp({
  membership: new EtcdGateway({ requestTimeoutMs: config.etcdRequestTimeoutMs }),
  settings: { runnerImage: config.runnerImage },
  // fastify's own pino logger (fastify depends on pino; we do not import it).
  logger: {
    level: config.logLevel,
    // Credentials never reach the log, wherever they appear.
    redact: ['req.headers.authorization', '*.related', '*.data', '*.tls.key'],
  },
  credentials: {
    bearerToken: config.bearerTokenFile !== undefined ? watch('HOOK_BEARER_TOKEN_FILE', config.bearerTokenFile) : undefined,
    basicAuth: basicAuth(config.basicAuthFile, config.basicAuthFiles, ''),
    // A rotation's previous credentials: accepted while their files exist.
    previousBearerToken: config.previousBearerTokenFile !== undefined ? watch('HOOK_BEARER_TOKEN_PREVIOUS_FILE', config.previousBearerTokenFile, true) : undefined,
    previousBasicAuth: basicAuth(config.previousBasicAuthFile, config.previousBasicAuthFiles, 'PREVIOUS_'),
  },
  https: secureContext(),
  health,
})
// Plain HTTP, /healthz and /readyz only: for the kubelet when the hook
// requires client certificates.
const probes = config.probePort !== undefined ? buildProbeApp(health) : undefined

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

// Finish the syncs in flight, refuse new ones (readyz turns 503, on the
// probe port too), then exit.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.log.info({ signal }, 'shutting down')
    health.closing = true
    app.close()
      .then(async () => { await probes?.close() })
      .then(() => process.exit(0), () => process.exit(1))
  })
}

try {
  await app.listen({ port: config.port, host: '0.0.0.0' })
  if (probes !== undefined && config.probePort !== undefined) {
    await probes.listen({ port: config.probePort, host: '0.0.0.0' })
    app.log.info({ port: config.probePort }, 'probes (/healthz, /readyz) served over plain HTTP')
  }
} catch (error) {
  app.log.fatal({ err: error }, 'cannot listen')
  process.exit(1)
}
