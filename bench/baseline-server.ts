// The baseline: fastify with the same body limit, parsing the same JSON body
// and echoing it back. What any fastify hook pays before doing any work.
import Fastify from 'fastify'
import { serveForBenchmark } from './child.js'

const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 })
app.post('/sync', request => request.body)
await serveForBenchmark(app)
