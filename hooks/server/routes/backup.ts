// The EtcdBackup controller's hooks: /backup/sync (Metacontroller's sync
// hook of the second CompositeController) and /backup/customize (the
// EtcdCluster and Secret each sync should bring along).
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { BackupSyncRequestSchema, BackupSyncResponseSchema, type BackupSyncRequest } from '../../api/backup.js'
import { backupRelatedResources } from '../../backup/customize.js'
import { syncBackup } from '../../backup/sync.js'
import type { HookSettings } from '../../cluster/model.js'
import { backupProblemsOf } from '../../api/validate.js'
import { ErrorSchema, errorBody } from '../errors.js'

export interface BackupRouteOptions {
  now: () => Date
  settings: HookSettings
}

export const backupRoutes: FastifyPluginCallbackTypebox<BackupRouteOptions> = (app, options, done) => {
  const { now, settings } = options

  app.post('/backup/sync', {
    schema: { body: BackupSyncRequestSchema, response: { '200': BackupSyncResponseSchema, '4xx': ErrorSchema } },
    // Children are free-form objects: JSON.stringify, as for /sync.
    serializerCompiler: () => data => JSON.stringify(data),
  }, (request, reply) => {
    const sync = request.body as BackupSyncRequest
    // What the CRD's CEL rules refuse: a 422 naming the field, no change.
    const problems = backupProblemsOf(sync.parent)
    if (problems.length > 0) {
      void reply.code(422).send(errorBody(422, problems.join('; ')))
      return
    }
    const { rule, response } = syncBackup(sync, now(), settings)
    if (rule === 'createJob' || rule === 'sourceProblem') {
      const backup = `${sync.parent.metadata.namespace ?? 'default'}/${sync.parent.metadata.name}`
      request.log.info({ backup, rule, reason: response.status.reason }, 'backup sync')
    }
    return response
  })

  app.post('/backup/customize', { schema: { body: CustomizeRequestSchema } }, request => ({ relatedResources: backupRelatedResources(request.body.parent) }))

  done()
}

const CustomizeRequestSchema = Type.Object({
  parent: Type.Object({
    metadata: Type.Object({ name: Type.String(), namespace: Type.Optional(Type.String()) }),
    spec: Type.Object({
      clusterName: Type.Optional(Type.String()),
      clientTLSSecret: Type.Optional(Type.String()),
    }),
  }),
})
