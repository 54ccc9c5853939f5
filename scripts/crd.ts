// The CRD's file text, written by scripts/generate-crd.ts into the plain
// manifests and the Helm chart; test/crd.test.ts compares both with it.
import { stringify } from 'yaml'
import { buildCrd } from '../hooks/api/crd.js'

export const CRD_FILES = ['manifests/crd.yaml', 'charts/etcd-operator/crds/etcdclusters.yaml']
export const REGENERATE = 'npm run crd'

export function crdYaml (): string {
  const header = [
    '# Generated from hooks/api/cluster.ts by scripts/generate-crd.ts: do not edit.',
    `# Regenerate with \`${REGENERATE}\`; test/crd.test.ts fails while this file is stale.`,
  ].join('\n')
  return `${header}\n${stringify(buildCrd(), { lineWidth: 0 })}`
}
