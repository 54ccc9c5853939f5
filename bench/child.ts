// What both servers under test share: listen on loopback, tell the parent
// the port over IPC, answer its memory questions, and exit when told (so
// `--cpu-prof` writes its profile).
import type { FastifyInstance } from 'fastify'

export type ToChild = { type: 'memory' } | { type: 'exit' }
export type FromChild =
  | { type: 'listening', port: number }
  | { type: 'memory', rss: number, heapUsed: number, external: number }

export async function serveForBenchmark (app: FastifyInstance): Promise<void> {
  const send = (message: FromChild) => process.send?.(message)
  process.on('message', (message: ToChild) => {
    if (message.type === 'memory') {
      // Started with --expose-gc: what survives a full collection.
      const gc = (globalThis as { gc?: () => void }).gc
      gc?.()
      const { rss, heapUsed, external } = process.memoryUsage()
      send({ type: 'memory', rss, heapUsed, external })
    } else {
      void app.close().finally(() => process.exit(0))
    }
  })
  // The parent going away must not leave a server running.
  process.on('disconnect', () => process.exit(0))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  send({ type: 'listening', port: address.port })
}
