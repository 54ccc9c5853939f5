// Writes the EtcdCluster CRD (scripts/crd.ts) to the plain manifests and to
// the Helm chart's crds/ directory, which hold the same text:
//   node --import @tapjs/typescript/import scripts/generate-crd.ts
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CRD_FILES, crdYaml } from './crd.js'

const root = fileURLToPath(new URL('../', import.meta.url))
const text = crdYaml()
for (const file of CRD_FILES) {
  const path = `${root}${file}`
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, text)
  process.stdout.write(`wrote ${file}\n`)
}
