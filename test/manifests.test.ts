// Everything under manifests/: each YAML document is a valid object
// (kubernetes-models, or our CRD for EtcdClusters, or a hand schema for the
// CompositeController), each example sync request is one the hook accepts,
// and `kubectl apply -k manifests/` installs exactly the listed files.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import { parse, parseAllDocuments } from 'yaml'
import { SyncRequestSchema, type SyncRequest } from '../hooks/api/cluster.js'
import { problemsOf } from '../hooks/api/validate.js'
import { ROOT, ToolMissing, kubectlPath, requireAll, runKubectl } from './helpers/helm.js'
import { validateObject } from './helpers/objects.js'

const MANIFESTS = join(ROOT, 'manifests')
type Obj = Record<string, any>

function files (dir: string): string[] {
  return readdirSync(dir).sort().flatMap(name => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : [path]
  })
}

function documents (text: string): Obj[] {
  return parseAllDocuments(text).map(doc => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map(e => e.message).join('; '))
    return doc.toJS() as Obj | null
  }).filter((doc): doc is Obj => doc !== null)
}

const all = files(MANIFESTS)
const yamlFiles = all.filter(f => /\.ya?ml$/.test(f))
const jsonFiles = all.filter(f => f.endsWith('.json'))
const KUSTOMIZATION = join(MANIFESTS, 'kustomization.yaml')
const kustomization = parse(readFileSync(KUSTOMIZATION, 'utf8')) as { resources: string[] }

t.test('every file under manifests/ is YAML or an example sync request', async t => {
  t.same(all.filter(f => !yamlFiles.includes(f) && !jsonFiles.includes(f)).map(f => relative(ROOT, f)), [])
})

for (const file of yamlFiles.filter(f => f !== KUSTOMIZATION)) {
  t.test(relative(ROOT, file), async t => {
    const objects = documents(readFileSync(file, 'utf8'))
    t.ok(objects.length > 0, 'holds at least one object')
    for (const object of objects) {
      await t.resolves(validateObject(object), `${object.kind} ${object.metadata?.name} is valid`)
    }
  })
}

// sync-invalid*.json show the README's curl walk-through a refusal (a 422);
// every other request is one the hook must take.
for (const file of jsonFiles) {
  t.test(relative(ROOT, file), async t => {
    const request = JSON.parse(readFileSync(file, 'utf8')) as SyncRequest
    const errors = [...Value.Errors(SyncRequestSchema, request)].map(e => `${e.path}: ${e.message}`)
    if (/sync-invalid[^/]*\.json$/.test(file)) {
      const problems = errors.length > 0 ? errors : problemsOf(request.parent)
      t.not(problems.length, 0, `the hook refuses it: ${problems.join('; ')}`)
    } else {
      t.same(errors, [], 'the hook\'s SyncRequestSchema accepts it')
      t.same(problemsOf(request.parent), [], 'and the hook finds no problem with its parent')
    }
  })
}

t.test('kustomization.yaml installs every non-example manifest', async t => {
  const listed = kustomization.resources.map(r => join(MANIFESTS, r))
  for (const path of listed) t.ok(all.includes(path), `${relative(ROOT, path)} exists`)
  const installable = yamlFiles.filter(f => f !== KUSTOMIZATION && !f.startsWith(join(MANIFESTS, 'examples')))
  t.same([...listed].sort(), installable, 'every manifest outside examples/ is listed, nothing else')
  // What `kubectl apply -k` will create, and where.
  const objects = listed.flatMap(f => documents(readFileSync(f, 'utf8')))
  const kinds = objects.map(o => o.kind).sort()
  t.same(kinds, ['ClusterRole', 'ClusterRole', 'CompositeController', 'CompositeController', 'CustomResourceDefinition', 'CustomResourceDefinition', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'Service'])
  for (const object of objects) {
    if (['Deployment', 'Service', 'PodDisruptionBudget'].includes(object.kind)) t.equal(object.metadata.namespace, 'etcd-operator', `${object.kind} in etcd-operator`)
  }
  const controller = objects.find(o => o.kind === 'CompositeController' && o.metadata.name === 'etcdclusters.etcd.database.coreos.com')!
  const service = objects.find(o => o.kind === 'Service')!
  t.equal(controller.spec.hooks.sync.webhook.url, `http://${service.metadata.name}.${service.metadata.namespace}/sync`, 'the sync hook is the hook Service')
  const backups = objects.find(o => o.kind === 'CompositeController' && o.metadata.name === 'etcdbackups.etcd.database.coreos.com')!
  t.equal(backups.spec.hooks.sync.webhook.url, `http://${service.metadata.name}.${service.metadata.namespace}/backup/sync`, 'EtcdBackups: the same Service, their own path')
  t.equal(backups.spec.hooks.customize.webhook.url, `http://${service.metadata.name}.${service.metadata.namespace}/backup/customize`)
  const deployment = objects.find(o => o.kind === 'Deployment')!
  t.equal(deployment.spec.replicas, 2)
  t.equal(deployment.spec.template.spec.automountServiceAccountToken, false)
  t.equal(deployment.spec.template.spec.securityContext.runAsUser, 65532)
  t.equal(deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem, true)
})

t.test('kubectl kustomize manifests/ renders the listed objects', async t => {
  try {
    t.comment(`kubectl: ${await kubectlPath()}`)
  } catch (error) {
    if (!(error instanceof ToolMissing)) throw error
    if (requireAll()) t.fail(`kubectl is required (ETCD_OPERATOR_REQUIRE_ALL=1) but cannot be found: ${error.message}`)
    else t.pass('skipped: kubectl not found', { skip: error.message })
    return
  }
  const rendered = documents((await runKubectl(['kustomize', 'manifests'])).stdout)
  const listed = kustomization.resources.flatMap(r => documents(readFileSync(join(MANIFESTS, r), 'utf8')))
  const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`
  t.same(rendered.map(key).sort(), listed.map(key).sort(), 'the same objects, unchanged in name and namespace')
  for (const object of rendered) {
    t.same(object, listed.find(o => key(o) === key(object)), `${key(object)} is applied as written`)
  }
})

t.test('small (c): scripts/make-tls-certs.sh makes the Secrets manifests/examples/tls.yaml names, and its output is never committed', async t => {
  const { execFile } = await import('node:child_process')
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { promisify } = await import('node:util')
  const run = promisify(execFile)
  const example = documents(readFileSync(join(MANIFESTS, 'examples/tls.yaml'), 'utf8'))[0]!
  const { name, namespace } = example.metadata
  const tls = example.spec.TLS.static
  const out = mkdtempSync(join(tmpdir(), 'eocerts-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  // As the README runs it, for the example's cluster and namespace.
  const { stdout } = await run('bash', [join(ROOT, 'scripts/make-tls-certs.sh'), name, namespace, out, '.cluster.local'])
  const commands = stdout.trim().split('\n').map(line => /^kubectl -n (\S+) create secret generic (\S+) --from-file=(\S+)$/.exec(line))
  t.ok(commands.every(c => c !== null), 'it prints kubectl create secret commands only')
  const secrets = Object.fromEntries(commands.map(c => [relative(out, c![3]!), { namespace: c![1], name: c![2] }]))
  t.same(secrets, {
    peer: { namespace, name: tls.member.peerSecret },
    server: { namespace, name: tls.member.serverSecret },
    operator: { namespace, name: tls.operatorSecret },
  }, 'the Secrets it creates are the ones tls.yaml names, in its namespace')
  // Each Secret holds the CoreOS file names the hook and the pods read.
  t.same(readdirSync(join(out, 'peer')).sort(), ['peer-ca.crt', 'peer.crt', 'peer.key'])
  t.same(readdirSync(join(out, 'server')).sort(), ['server-ca.crt', 'server.crt', 'server.key'])
  t.same(readdirSync(join(out, 'operator')).sort(), ['etcd-client-ca.crt', 'etcd-client.crt', 'etcd-client.key'])

  // ./certs (the README's output directory) is ignored, and no key or
  // certificate file is tracked. Outside a git checkout (a tarball), the
  // .gitignore line is all there is to check.
  const inGit = await run('git', ['rev-parse', '--is-inside-work-tree'], { cwd: ROOT }).then(() => true, () => false)
  if (!inGit) {
    t.ok(readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n').includes('certs/'), '.gitignore keeps certs/ out')
    return
  }
  const ignored = await run('git', ['check-ignore', '--no-index', 'certs/peer/peer.key', 'certs/ca/ca.key'], { cwd: ROOT }).then(r => r.stdout, () => '')
  t.same(ignored.trim().split('\n'), ['certs/peer/peer.key', 'certs/ca/ca.key'], '.gitignore keeps certs/ out')
  const tracked = (await run('git', ['ls-files'], { cwd: ROOT })).stdout.split('\n')
  t.same(tracked.filter(f => /(^|\/)certs\/|\.(key|pem|crt|csr|srl)$/.test(f)), [], 'no generated certificate or key is committed')
})
