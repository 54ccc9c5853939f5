// The server under test: the hook exactly as hooks/server/main.ts builds it
// (production logger and level), with a healthy in-process membership
// instead of etcd.
import { buildApp } from '../hooks/server/app.js'
import { HealthyMembership } from './healthy-membership.js'
import { serveForBenchmark } from './child.js'

await serveForBenchmark(buildApp({
  membership: new HealthyMembership(),
  logger: { level: process.env.LOG_LEVEL ?? 'info' },
}))
