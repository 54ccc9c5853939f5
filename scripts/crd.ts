// The CRDs' file texts, written by scripts/generate-crd.ts into the plain
// manifests and the Helm chart; test/crd.test.ts and
// test/backup-crd.test.ts compare them.
import { stringify } from 'yaml'
import { buildCrd } from '../hooks/api/crd.js'
import { buildBackupCrd } from '../hooks/api/backup-crd.js'

export const CRD_FILES = ['manifests/crd.yaml', 'charts/etcd-operator/crds/etcdclusters.yaml']
export const BACKUP_CRD_FILES = ['manifests/crd-etcdbackup.yaml', 'charts/etcd-operator/crds/etcdbackups.yaml']
export const REGENERATE = 'npm run crd'

function header (source: string, test: string): string {
  return [
    `# Generated from ${source} by scripts/generate-crd.ts: do not edit.`,
    `# Regenerate with \`${REGENERATE}\`; ${test} fails while this file is stale.`,
  ].join('\n')
}

export function crdYaml (): string {
  return `${header('hooks/api/cluster.ts', 'test/crd.test.ts')}\n${stringify(buildCrd(), { lineWidth: 0 })}`
}

export function backupCrdYaml (): string {
  return `${header('hooks/api/backup.ts', 'test/backup-crd.test.ts')}\n${stringify(buildBackupCrd(), { lineWidth: 0 })}`
}
