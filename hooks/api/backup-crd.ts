// The EtcdBackup CustomResourceDefinition, derived from the TypeBox schemas
// in backup.ts the way crd.ts derives the EtcdCluster's: the API server and
// the hook cannot disagree about the shape of a backup. Pure;
// scripts/crd.ts turns it into the file text, test/backup-crd.test.ts
// compares.
import { API_GROUP } from './cluster.js'
import { ETCD_BACKUP_RULES, EtcdBackupSpecSchema, EtcdBackupStatusSchema } from './backup.js'
import { namespacedCrd, ordered, toStructural, type JsonSchema } from './crd.js'

export const BACKUP_CRD_NAME = `etcdbackups.${API_GROUP}`

export function backupOpenAPIV3Schema (): JsonSchema {
  const spec = toStructural(EtcdBackupSpecSchema, 'spec')
  spec['x-kubernetes-validations'] = ETCD_BACKUP_RULES
  const status = toStructural(EtcdBackupStatusSchema, 'status')
  return ordered({
    type: 'object',
    description: 'One etcd snapshot, taken now by a Job of the etcd-operator Metacontroller hook. Field names follow the CoreOS etcd-operator.',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { type: 'object' },
      spec: { ...spec, description: 'Which etcd to back up and where the snapshot goes. Read once: a finished backup never runs again.' },
      status: { ...status, description: 'What the backup Job did. Written by Metacontroller from the hook\'s answer.' },
    },
  })
}

export function buildBackupCrd (): JsonSchema {
  return namespacedCrd({
    names: { kind: 'EtcdBackup', listKind: 'EtcdBackupList', plural: 'etcdbackups', singular: 'etcdbackup' },
    printerColumns: [
      { name: 'Succeeded', type: 'boolean', description: 'Whether the snapshot was taken and stored.', jsonPath: '.status.succeeded' },
      { name: 'Revision', type: 'integer', description: 'etcd revision of the snapshot.', jsonPath: '.status.etcdRevision' },
      { name: 'Object', type: 'string', description: 'Where the snapshot is.', jsonPath: '.status.object' },
    ],
    schema: backupOpenAPIV3Schema(),
  })
}
