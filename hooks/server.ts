// The production entry point: listen on $PORT on every interface (probes
// and Metacontroller come from outside the pod) and shut down gracefully.
import { buildApp } from './app.js'
import { EtcdGateway } from './etcd.js'

const port = Number(process.env.PORT ?? 8080)
const app = buildApp({
  membership: new EtcdGateway({ requestTimeoutMs: Number(process.env.ETCD_REQUEST_TIMEOUT_MS ?? 1500) }),
  logger: { level: process.env.LOG_LEVEL ?? 'info' },
})

// Finish the syncs in flight, refuse new ones (readyz turns 503), then exit.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.log.info({ signal }, 'shutting down')
    app.close().then(() => process.exit(0), () => process.exit(1))
  })
}

try {
  await app.listen({ port, host: '0.0.0.0' })
} catch (error) {
  app.log.fatal({ err: error }, 'cannot listen')
  process.exit(1)
}
