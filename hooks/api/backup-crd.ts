// The EtcdBackup CustomResourceDefinition, derived from the TypeBox schemas
// in backup.ts the way crd.ts derives the EtcdCluster's: the API server and
// the hook cannot disagree about the shape of a backup. Pure;
// scripts/crd.ts turns it into the file text, test/backup-crd.test.ts
// compares.
import { API_GROUP } from './cluster.js'
import { ETCD_BACKUP_RULES, EtcdBackupSpecSchema, EtcdBackupStatusSchema } from './backup.js'
import { ordered, toStructural, type JsonSchema } from './crd.js'

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
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: BACKUP_CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'etcd-operator', 'app.kubernetes.io/part-of': 'etcd-operator' },
    },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: { kind: 'EtcdBackup', listKind: 'EtcdBackupList', plural: 'etcdbackups', singular: 'etcdbackup' },
      versions: [{
        name: 'v1beta2',
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Succeeded', type: 'boolean', description: 'Whether the snapshot was taken and stored.', jsonPath: '.status.succeeded' },
          { name: 'Revision', type: 'integer', description: 'etcd revision of the snapshot.', jsonPath: '.status.etcdRevision' },
          { name: 'Object', type: 'string', description: 'Where the snapshot is.', jsonPath: '.status.object' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: { openAPIV3Schema: backupOpenAPIV3Schema() },
      }],
    },
  }
}
