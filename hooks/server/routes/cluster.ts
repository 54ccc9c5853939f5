// The EtcdCluster controller's hooks: /sync (Metacontroller's sync hook) and
// /customize (which related objects each sync should bring along).
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { SyncRequestSchema, SyncResponseSchema, type SyncRequest } from '../../api/cluster.js'
import { requestProblemsOf } from '../../api/validate.js'
import { relatedResources } from '../../cluster/customize.js'
import { syncCluster } from '../../cluster/sync.js'
import type { HookSettings } from '../../cluster/model.js'
import type { MembershipClient } from '../../etcd/types.js'
import { ErrorSchema, errorBody } from '../errors.js'
import type { HookMetrics } from '../metrics.js'

export interface ClusterRouteOptions {
  membership: MembershipClient
  now: () => Date
  metrics: HookMetrics
  settings: HookSettings
}

export const clusterRoutes: FastifyPluginCallbackTypebox<ClusterRouteOptions> = (app, options, done) => {
  const { membership, now, metrics, settings } = options

  app.post('/sync', {
    onResponse: (_request, reply, next) => {
      const outcome = reply.statusCode < 300 ? 'ok' : reply.statusCode < 500 ? 'invalid' : 'error'
      metrics.syncDuration.observe({ outcome }, reply.elapsedTime / 1000)
      next()
    },
    schema: { body: SyncRequestSchema, response: { '200': SyncResponseSchema, '4xx': ErrorSchema } },
    // The answer is typed by the schemas above; JSON.stringify writes it
    // faster than a compiled serializer, as children are free-form objects.
    serializerCompiler: () => data => JSON.stringify(data),
  }, async (request, reply) => {
    const sync = request.body as SyncRequest
    const problems = requestProblemsOf(sync)
    if (problems.length > 0) {
      return reply.code(422).send(errorBody(422, problems.join('; ')))
    }
    // The cluster on every line; a child logger per sync costs more than
    // the planning of a steady cluster.
    const cluster = `${sync.parent.metadata.namespace ?? 'default'}/${sync.parent.metadata.name}`
    const log = request.log
    const { response, plan, observeFailed, write } = await syncCluster(sync, membership, now, undefined, settings)
    if (observeFailed) metrics.etcdErrors.inc({ operation: 'observe' })
    if (write?.done === true) {
      const { kind, pod } = write.action
      metrics.membershipActions.inc({ kind, result: 'done' })
      log.info({ cluster, rule: plan.rule, action: kind, pod }, response.status.lastAction ?? kind)
    } else if (write !== undefined) {
      const { kind, pod } = write.action
      metrics.membershipActions.inc({ kind, result: write.unknown ? 'unknown' : 'failed' })
      metrics.etcdErrors.inc({ operation: 'execute' })
      // etcd's refusals are routine (a learner catching up, "unhealthy
      // cluster" for 5 s after a change): a line, not a stack trace.
      log[write.refused ? 'info' : 'warn']({ cluster, rule: plan.rule, action: kind, pod, error: write.error }, write.unknown ? `${kind} sent, no answer; the next sync reads etcd first` : `${kind} failed; retrying`)
    } else if (plan.rule !== 'steady') {
      log.info({ cluster, rule: plan.rule, reason: response.status.reason, lastAction: response.status.lastAction }, 'sync')
    } else {
      log.debug({ cluster, rule: plan.rule }, 'steady')
    }
    metrics.recordPhase(cluster, response.status.phase ?? 'Unknown')
    const backupsOn = sync.parent.spec.backup !== undefined && sync.parent.metadata.deletionTimestamp == null
    metrics.recordBackup(sync.parent.metadata.namespace ?? 'default', sync.parent.metadata.name, backupsOn ? response.status.backup : undefined)
    const defrag = write?.done === true && write.action.kind === 'defragment' ? (plan.rule === 'defragForNoSpace' ? 'nospace' : 'routine') : undefined
    metrics.recordMaintenance(sync.parent.metadata.namespace ?? 'default', sync.parent.metadata.name, sync.parent.status?.maintenance, response.status.maintenance, defrag)
    return response
  })

  // Metacontroller's customize hook: ask for the operator Secret, so that
  // it arrives with every sync in `related` and the hook never needs to read
  // the Kubernetes API itself.
  app.post('/customize', { schema: { body: CustomizeRequestSchema } }, request => ({ relatedResources: relatedResources(request.body.parent) }))

  done()
}

const CustomizeRequestSchema = Type.Object({
  parent: Type.Object({
    metadata: Type.Object({ name: Type.String(), namespace: Type.Optional(Type.String()) }),
    spec: Type.Object({
      TLS: Type.Optional(Type.Object({
        static: Type.Optional(Type.Object({ operatorSecret: Type.Optional(Type.String()) })),
        certManager: Type.Optional(Type.Unknown()),
      })),
      backup: Type.Optional(Type.Unknown()),
    }),
  }),
})
