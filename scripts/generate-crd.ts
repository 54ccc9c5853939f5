// Writes the EtcdCluster and EtcdBackup CRDs (scripts/crd.ts) to the plain
// manifests and to the Helm chart's crds/ directory, which hold the same
// text:
//   node --import @tapjs/typescript/import scripts/generate-crd.ts
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BACKUP_CRD_FILES, CRD_FILES, backupCrdYaml, crdYaml } from './crd.js'

const root = fileURLToPath(new URL('../', import.meta.url))
const texts: Array<[string[], string]> = [[CRD_FILES, crdYaml()], [BACKUP_CRD_FILES, backupCrdYaml()]]
for (const [files, text] of texts) {
  for (const file of files) {
    const path = `${root}${file}`
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, text)
    process.stdout.write(`wrote ${file}\n`)
  }
}
