// One EtcdBackup sync request -> the model: the spec with its defaults, the
// store, the source (from `related`), the Job, the last status.
import type { BackupSyncRequest } from '../../api/backup.js'
import { DEFAULT_SETTINGS, type HookSettings } from '../../cluster/model.js'
import { DEFAULT_TIMEOUT_SECONDS, type Backup } from '../model.js'
import { readJob } from './job.js'
import { readSource } from './source.js'

export function readBackup (request: BackupSyncRequest, settings: HookSettings = DEFAULT_SETTINGS): Backup {
  const { parent } = request
  const name = parent.metadata.name
  const namespace = parent.metadata.namespace ?? 'default'
  const spec = parent.spec
  return {
    name,
    namespace,
    spec,
    timeoutSeconds: spec.backupPolicy?.timeoutInSecond ?? DEFAULT_TIMEOUT_SECONDS,
    // s3.path is the exact object; pvc.path the file inside the claim.
    store: spec.s3 !== undefined
      ? { s3: spec.s3, object: true }
      : { pvc: { claimName: spec.pvc?.claimName ?? '' }, file: spec.pvc?.path ?? '' },
    source: readSource(spec, name, namespace, request.related),
    job: readJob(request.children, name),
    previous: parent.status ?? {},
    settings,
  }
}
