// The Helm chart, through a real helm: it lints, renders for the default
// values and every ci/*-values.yaml, every rendered object is valid, the
// hook server is locked down, the CompositeController reaches the hook's
// Service, and the plain manifests/ are what the chart renders by default.
// Without helm the tests skip, loudly; with ETCD_OPERATOR_REQUIRE_ALL=1
// (CI) they fail instead.
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { parse, parseAllDocuments } from 'yaml'
import { ToolMissing, helmPath, requireAll, runHelm } from './helpers/helm.js'
import { validateObject } from './helpers/objects.js'

const CHART = 'charts/etcd-operator'
const RELEASE = 'etcd-operator'
const NAMESPACE = 'etcd-operator'
const CI_VALUES = readdirSync(new URL(`../${CHART}/ci/`, import.meta.url)).filter(f => f.endsWith('-values.yaml')).sort()

type Obj = Record<string, any>

function documents (text: string): Obj[] {
  return parseAllDocuments(text).map(doc => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map(e => e.message).join('; '))
    return doc.toJS() as Obj | null
  }).filter((doc): doc is Obj => doc !== null)
}

async function render (values?: string, extra: string[] = [], namespace = NAMESPACE): Promise<Obj[]> {
  const args = ['template', RELEASE, CHART, '--namespace', namespace, '--include-crds', ...extra]
  if (values !== undefined) args.push('--values', `${CHART}/ci/${values}`)
  return documents((await runHelm(args)).stdout)
}

function only (objects: Obj[], kind: string): Obj {
  const found = objects.filter(o => o.kind === kind)
  if (found.length !== 1) throw new Error(`${found.length} objects of kind ${kind}`)
  return found[0]!
}

// The two CompositeControllers: EtcdClusters and EtcdBackups.
const CLUSTERS = 'etcdclusters.etcd.database.coreos.com'
const BACKUPS = 'etcdbackups.etcd.database.coreos.com'
function named (objects: Obj[], kind: string, name: string): Obj {
  const found = objects.filter(o => o.kind === kind && o.metadata.name === name)
  if (found.length !== 1) throw new Error(`${found.length} objects ${kind} ${name}`)
  return found[0]!
}

// The sync and customize webhooks of both controllers, by name: all must
// carry the same settings.
function webhooks (objects: Obj[]): Array<[string, Obj]> {
  const hooks = named(objects, 'CompositeController', CLUSTERS).spec.hooks
  const backup = named(objects, 'CompositeController', BACKUPS).spec.hooks
  return [['sync', hooks.sync.webhook], ['customize', hooks.customize.webhook], ['backup sync', backup.sync.webhook], ['backup customize', backup.customize.webhook]]
}

// The Secret behind a mounted file, e.g. an env var's value: [secretName, key].
function mountedSecretFile (deployment: Obj, path: string): [string, string] | undefined {
  const pod = deployment.spec.template.spec
  for (const mount of pod.containers[0].volumeMounts as Array<{ name: string, mountPath: string }>) {
    const secret = (pod.volumes as Obj[]).find(v => v.name === mount.name)?.secret
    if (secret !== undefined && path.startsWith(`${mount.mountPath}/`)) return [secret.secretName, path.slice(mount.mountPath.length + 1)]
  }
  return undefined
}

// helm's exit status and stderr when it refuses to render.
async function refusal (args: string[]): Promise<{ code: unknown, stderr: string }> {
  try {
    await runHelm(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...args])
  } catch (error) {
    const { code, stderr } = error as { code?: unknown, stderr?: string }
    return { code, stderr: stderr ?? '' }
  }
  return { code: 0, stderr: '' }
}

// The URL Metacontroller must call: https on 443 when the hook serves TLS.
function hookURL (service: Obj, path: string, https: boolean): string {
  const port = service.spec.ports[0].port as number
  const scheme = https ? 'https' : 'http'
  const defaultPort = https ? 443 : 80
  return `${scheme}://${service.metadata.name}.${service.metadata.namespace}${port === defaultPort ? '' : `:${port}`}${path}`
}

let missing: string | undefined
try {
  t.comment(`helm: ${await helmPath()}`)
} catch (error) {
  if (!(error instanceof ToolMissing)) throw error
  missing = error.message
}

if (missing !== undefined) {
  if (requireAll()) {
    t.fail(`helm is required (ETCD_OPERATOR_REQUIRE_ALL=1) but cannot be found: ${missing}`)
  } else {
    t.comment(`SKIPPING the Helm chart tests: ${missing}`)
    t.pass('skipped: helm not found', { skip: missing })
  }
} else {
  t.test('helm lint --strict', async t => {
    for (const values of [undefined, ...CI_VALUES]) {
      const args = ['lint', '--strict', CHART, ...(values !== undefined ? ['--values', `${CHART}/ci/${values}`] : [])]
      const { stdout } = await runHelm(args)
      t.match(stdout, /0 chart\(s\) failed/, `lint with ${values ?? 'default values'}`)
    }
  })

  for (const values of [undefined, ...CI_VALUES]) {
    t.test(`helm template with ${values ?? 'default values'}`, async t => {
      const objects = await render(values)
      t.ok(objects.length >= 4, 'at least the CRD, Deployment, Service and CompositeController')
      for (const object of objects) {
        await t.resolves(validateObject(object), `${object.kind} ${object.metadata?.name} is valid`)
        if (!['CustomResourceDefinition', 'CompositeController', 'ClusterRole'].includes(object.kind)) {
          t.equal(object.metadata.namespace, NAMESPACE, `${object.kind} is in the release namespace`)
        }
      }

      // The hook server: non-root, read-only, no Kubernetes credentials.
      const deployment = only(objects, 'Deployment')
      const pod = deployment.spec.template.spec
      const container = pod.containers[0]
      t.equal(pod.automountServiceAccountToken, false, 'no service account token')
      t.equal(pod.securityContext.runAsUser, 65532, 'runs as uid 65532')
      t.equal(pod.securityContext.runAsNonRoot, true)
      t.equal(container.securityContext.readOnlyRootFilesystem, true, 'read-only root filesystem')
      t.equal(container.securityContext.allowPrivilegeEscalation, false)
      t.same(container.securityContext.capabilities.drop, ['ALL'])
      t.equal(container.readinessProbe.httpGet.path, '/readyz')
      t.equal(container.livenessProbe.httpGet.path, '/healthz')
      t.ok(container.resources.requests, 'resource requests are set')
      const tlsOn = (container.env as Array<{ name: string }>).some(e => e.name === 'HOOK_TLS_CERT_FILE')
      t.same(container.ports, [
        { name: 'http', containerPort: 8080, protocol: 'TCP' },
        ...(tlsOn ? [{ name: 'probes', containerPort: 8081, protocol: 'TCP' }] : []),
      ], tlsOn ? 'the hook listens on 8080, the probes on 8081' : 'the hook listens on 8080')
      t.match(container.image, /^[^:]+:[^:]+$/, 'the image has a tag')
      const env = Object.fromEntries((container.env as Array<{ name: string, value: string }>).map(e => [e.name, e.value]))
      t.equal(env.PORT, '8080')
      t.match(env.LOG_LEVEL, /^(fatal|error|warn|info|debug|trace|silent)$/)
      t.match(env.ETCD_REQUEST_TIMEOUT_MS, /^[0-9]+$/)

      // The Service selects the pods and maps its port to the hook's.
      const service = only(objects, 'Service')
      t.same(service.spec.selector, deployment.spec.selector.matchLabels, 'the Service selects the hook pods')
      t.match(deployment.spec.template.metadata.labels, service.spec.selector)
      t.equal(service.spec.ports[0].targetPort, 'http')

      // Metacontroller reaches the hook through that Service.
      t.same(objects.filter(o => o.kind === 'CompositeController').map(o => o.metadata.name), [CLUSTERS, BACKUPS], 'two controllers: EtcdClusters and EtcdBackups')
      const controller = named(objects, 'CompositeController', CLUSTERS)
      t.same(controller.spec.parentResource, { apiVersion: 'etcd.database.coreos.com/v1beta2', resource: 'etcdclusters' })
      t.equal(controller.spec.generateSelector, true)
      t.ok(controller.spec.resyncPeriodSeconds > 0, 'a resync period')
      t.same(controller.spec.childResources, [
        { apiVersion: 'v1', resource: 'pods', updateStrategy: { method: 'InPlace' } },
        { apiVersion: 'v1', resource: 'services', updateStrategy: { method: 'InPlace' } },
        { apiVersion: 'v1', resource: 'persistentvolumeclaims', updateStrategy: { method: 'OnDelete' } },
        { apiVersion: 'policy/v1', resource: 'poddisruptionbudgets', updateStrategy: { method: 'InPlace' } },
        { apiVersion: 'batch/v1', resource: 'cronjobs', updateStrategy: { method: 'InPlace' } },
        { apiVersion: 'v1', resource: 'serviceaccounts', updateStrategy: { method: 'InPlace' } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', resource: 'roles', updateStrategy: { method: 'InPlace' } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', resource: 'rolebindings', updateStrategy: { method: 'InPlace' } },
        // Only when asked for: without cert-manager's CRDs Metacontroller
        // could not start the controller.
        ...(values === 'cert-manager-values.yaml' ? [{ apiVersion: 'cert-manager.io/v1', resource: 'certificates', updateStrategy: { method: 'InPlace' } }] : []),
      ], 'the children and update strategies of DESIGN.md section 6 (and the backup CronJob with its access, cert-manager Certificates when enabled), no Rolling*')
      const envVars = new Map((container.env as Array<{ name: string, value: string }>).map(e => [e.name, e.value]))
      const https = envVars.has('HOOK_TLS_CERT_FILE')
      t.equal(controller.spec.hooks.sync.webhook.url, hookURL(service, '/sync', https))
      if (controller.spec.hooks.customize !== undefined) {
        t.equal(controller.spec.hooks.customize.webhook.url, hookURL(service, '/customize', https))
      }
      // EtcdBackups: one Job each (never updated: it runs once and stays as
      // the record), and the runner's service account, on their own paths.
      const backups = named(objects, 'CompositeController', BACKUPS)
      t.same(backups.spec.parentResource, { apiVersion: 'etcd.database.coreos.com/v1beta2', resource: 'etcdbackups' })
      t.equal(backups.spec.generateSelector, true)
      t.same(backups.spec.childResources, [
        { apiVersion: 'batch/v1', resource: 'jobs', updateStrategy: { method: 'OnDelete' } },
        { apiVersion: 'v1', resource: 'serviceaccounts', updateStrategy: { method: 'InPlace' } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', resource: 'roles', updateStrategy: { method: 'InPlace' } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', resource: 'rolebindings', updateStrategy: { method: 'InPlace' } },
      ])
      t.equal(backups.spec.hooks.sync.webhook.url, hookURL(service, '/backup/sync', https))
      t.same(Object.keys(backups.spec.hooks.sync.webhook).sort(), Object.keys(controller.spec.hooks.sync.webhook).sort(), 'the backup sync webhook has the same settings as the cluster\'s')
      t.same({ ...backups.spec.hooks.sync.webhook, url: '' }, { ...controller.spec.hooks.sync.webhook, url: '' }, 'and the same values but the path')
      if (controller.spec.hooks.customize !== undefined) {
        t.equal(backups.spec.hooks.customize.webhook.url, hookURL(service, '/backup/customize', https))
      }
      // Probes: plain HTTP always, on the probe port when the hook serves TLS
      // (the kubelet has no client certificate).
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        t.equal(probe.httpGet.scheme, 'HTTP', 'probes speak plain HTTP')
        t.equal(probe.httpGet.port, https ? 'probes' : 'http', https ? 'on the probe port' : 'on the hook\'s port')
      }
      t.equal(envVars.get('HOOK_PROBE_PORT'), https ? '8081' : undefined, 'HOOK_PROBE_PORT is the probes\' container port, with TLS only')
      t.notOk((service.spec.ports as Array<{ targetPort: unknown }>).some(p => p.targetPort === 'probes' || p.targetPort === 8081), 'the Service does not expose the probe port')
      // Every credential file the server is told about is mounted.
      const mounts = (container.volumeMounts as Array<{ mountPath: string }>).map(m => m.mountPath)
      for (const [name, value] of envVars) {
        if (name.endsWith('_FILE')) t.ok(mounts.some(m => value.startsWith(`${m}/`)), `${name} is on a mounted volume`)
      }

      // The PodDisruptionBudget, when there is one, covers the hook pods.
      const pdbs = objects.filter(o => o.kind === 'PodDisruptionBudget')
      for (const pdb of pdbs) t.same(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels)
      if (deployment.spec.replicas < 2) t.same(pdbs, [], 'no PodDisruptionBudget for a single replica: it would block drains')

      // The CRD comes from crds/, byte for byte the plain manifest's.
      t.same(named(objects, 'CustomResourceDefinition', CLUSTERS), documents(readFileSync(new URL('../manifests/crd.yaml', import.meta.url), 'utf8'))[0], 'the chart\'s EtcdCluster CRD is manifests/crd.yaml')
      t.same(named(objects, 'CustomResourceDefinition', BACKUPS), documents(readFileSync(new URL('../manifests/crd-etcdbackup.yaml', import.meta.url), 'utf8'))[0], 'the chart\'s EtcdBackup CRD is manifests/crd-etcdbackup.yaml')

      const monitors = objects.filter(o => o.kind === 'ServiceMonitor')
      if (monitors.length > 0) {
        t.same(monitors[0]!.spec.selector.matchLabels, service.spec.selector, 'the ServiceMonitor selects the hook Service')
        t.equal(monitors[0]!.spec.endpoints[0].port, 'http')
      }
    })
  }

  t.test('the aggregated edit and view roles cover every resource the chart\'s CRDs define', async t => {
    const objects = await render()
    const plurals = objects.filter(o => o.kind === 'CustomResourceDefinition').map(o => o.spec.names.plural as string).sort()
    t.same(plurals, ['etcdbackups', 'etcdclusters'])
    const rolesResources = (name: string) => (named(objects, 'ClusterRole', name).rules as Array<{ resources: string[] }>).flatMap(r => r.resources)
    const edit = rolesResources('etcd-operator-etcdclusters-edit')
    const view = rolesResources('etcd-operator-etcdclusters-view')
    for (const plural of plurals) {
      t.ok(edit.includes(plural), `edit (and admin) can manage ${plural}`)
      t.ok(view.includes(plural) && view.includes(`${plural}/status`), `view can read ${plural} and their status`)
    }
  })

  t.test('default values', async t => {
    const objects = await render()
    const deployment = only(objects, 'Deployment')
    t.equal(deployment.spec.replicas, 2, 'two replicas')
    t.equal(deployment.spec.template.spec.containers[0].image, 'ghcr.io/etcd-operator/etcd-operator-hook:0.1.0', 'image tag defaults to appVersion')
    t.equal(named(objects, 'CompositeController', CLUSTERS).spec.hooks.sync.webhook.url, 'http://etcd-operator.etcd-operator/sync')
    t.equal(named(objects, 'CompositeController', CLUSTERS).spec.hooks.sync.webhook.timeout, '10s')
    t.equal(named(objects, 'CompositeController', BACKUPS).spec.hooks.sync.webhook.url, 'http://etcd-operator.etcd-operator/backup/sync')
    t.equal(named(objects, 'CompositeController', BACKUPS).spec.hooks.customize.webhook.url, 'http://etcd-operator.etcd-operator/backup/customize')
    t.equal(only(objects, 'PodDisruptionBudget').spec.minAvailable, 1)
    t.same(objects.filter(o => o.kind === 'ServiceMonitor'), [], 'no ServiceMonitor unless asked for')
  })

  t.test('ci/servicemonitor-values.yaml renders a ServiceMonitor', async t => {
    const objects = await render('servicemonitor-values.yaml')
    const monitor = only(objects, 'ServiceMonitor')
    t.equal(monitor.metadata.labels.release, 'kube-prometheus-stack', 'extra labels for the Prometheus selector')
    t.equal(monitor.spec.endpoints[0].interval, '15s')
  })

  t.test('the ServiceMonitor scrapes the hook the way it serves: HTTPS with its CA, and a client certificate when required', async t => {
    const plain = only(await render('servicemonitor-values.yaml'), 'ServiceMonitor').spec.endpoints[0]
    t.equal(plain.scheme, 'http', 'plain HTTP hook: plain scrape')
    t.equal(plain.tlsConfig, undefined)
    const tlsOnly = only(await render('servicemonitor-values.yaml', ['--set', 'security.tlsSecret=hook-tls']), 'ServiceMonitor').spec.endpoints[0]
    t.equal(tlsOnly.scheme, 'https', 'the hook serves only HTTPS on the Service port: an http scrape would fail')
    t.same(tlsOnly.tlsConfig, { serverName: `etcd-operator.${NAMESPACE}.svc`, ca: { secret: { name: 'hook-tls', key: 'ca.crt' } } }, 'trusts the tlsSecret CA, as Metacontroller does')
    const mutual = only(await render('security-values.yaml', ['--set', 'serviceMonitor.enabled=true', '--set', 'serviceMonitor.clientSecret=prometheus-client-tls']), 'ServiceMonitor').spec.endpoints[0]
    t.same(mutual.tlsConfig.cert, { secret: { name: 'prometheus-client-tls', key: 'tls.crt' } }, 'presents a client certificate')
    t.same(mutual.tlsConfig.keySecret, { name: 'prometheus-client-tls', key: 'tls.key' })
    const missing = await refusal(['--values', `${CHART}/ci/security-values.yaml`, '--set', 'serviceMonitor.enabled=true'])
    t.not(missing.code, 0, 'requireClientCert with a ServiceMonitor but no clientSecret fails')
    t.match(missing.stderr, /serviceMonitor\.clientSecret: the hook requires client certificates/)
  })

  t.test('ci/production-values.yaml: names, port and v2 hooks follow the values', async t => {
    const objects = await render('production-values.yaml')
    const controller = named(objects, 'CompositeController', CLUSTERS)
    t.equal(controller.spec.hooks.sync.webhook.url, 'http://etcd-hook.etcd-operator:8080/sync')
    t.equal(controller.spec.hooks.sync.version, 'v2')
    const backups = named(objects, 'CompositeController', BACKUPS)
    t.equal(backups.spec.hooks.sync.webhook.url, 'http://etcd-hook.etcd-operator:8080/backup/sync')
    t.equal(backups.spec.hooks.sync.version, 'v2')
    t.equal(only(objects, 'Deployment').spec.template.spec.containers[0].image, 'registry.example.com/platform/etcd-operator-hook:0.1.0')
  })

  t.test('ci/security-values.yaml: both webhooks send the token, trust the tlsSecret CA and present the client certificate', async t => {
    // Not the release's name: the Secret references must carry the namespace itself.
    const namespace = 'hooks-ns'
    const objects = await render('security-values.yaml', [], namespace)
    const deployment = only(objects, 'Deployment')
    const env = new Map((deployment.spec.template.spec.containers[0].env as Array<{ name: string, value: string }>).map(e => [e.name, e.value]))
    for (const [name, webhook] of webhooks(objects)) {
      t.same(webhook.authorization, { type: 'Bearer', secretRef: { name: 'etcd-operator-hook-token', namespace, key: 'token' } }, `${name}: authorization from bearerTokenSecret`)
      t.same(mountedSecretFile(deployment, env.get('HOOK_BEARER_TOKEN_FILE') ?? ''), ['etcd-operator-hook-token', 'token'], `${name}: the same Secret and key the hook reads`)
      t.same(webhook.caBundle, { secretRef: { name: 'etcd-operator-hook-tls', namespace, key: 'ca.crt' } }, `${name}: caBundle is the tlsSecret's ca.crt`)
      t.same(mountedSecretFile(deployment, env.get('HOOK_TLS_CLIENT_CA_FILE') ?? ''), ['etcd-operator-hook-tls', 'ca.crt'], `${name}: the CA the hook checks client certificates against`)
      t.same(webhook.clientTLS, { secretRef: { name: 'etcd-operator-metacontroller-client-tls', namespace }, certKey: 'tls.crt', privateKeyKey: 'tls.key' }, `${name}: clientTLS from metacontrollerClientSecret`)
      t.equal(webhook.basicAuth, undefined, `${name}: no basicAuth next to authorization`)
      t.match(webhook.url, /^https:\/\//, `${name}: over HTTPS`)
    }
  })

  t.test('ci/basic-auth-values.yaml: hook and Metacontroller read the same kubernetes.io/basic-auth Secret', async t => {
    const objects = await render('basic-auth-values.yaml')
    const values = parse(readFileSync(new URL(`../${CHART}/ci/basic-auth-values.yaml`, import.meta.url), 'utf8')) as Obj
    const deployment = only(objects, 'Deployment')
    const env = new Map((deployment.spec.template.spec.containers[0].env as Array<{ name: string, value: string }>).map(e => [e.name, e.value]))
    t.same(mountedSecretFile(deployment, env.get('HOOK_BASIC_AUTH_USERNAME_FILE') ?? ''), ['etcd-operator-hook-basic-auth', 'username'], 'HOOK_BASIC_AUTH_USERNAME_FILE is the Secret\'s username')
    t.same(mountedSecretFile(deployment, env.get('HOOK_BASIC_AUTH_PASSWORD_FILE') ?? ''), ['etcd-operator-hook-basic-auth', 'password'], 'HOOK_BASIC_AUTH_PASSWORD_FILE is its password')
    t.notOk(env.has('HOOK_BASIC_AUTH_FILE'), 'not the one-file form')
    t.notOk(env.has('HOOK_BEARER_TOKEN_FILE'), 'no bearer token')
    for (const [name, webhook] of webhooks(objects)) {
      t.same(webhook.basicAuth, { secretRef: { name: 'etcd-operator-hook-basic-auth', namespace: NAMESPACE }, usernameKey: 'username', passwordKey: 'password' }, `${name}: basicAuth from basicAuthSecret`)
      t.equal(webhook.authorization, undefined, `${name}: no authorization next to basicAuth`)
      t.equal(webhook.caBundle?.inline?.trim(), values.security.caBundle.trim(), `${name}: the inline caBundle, not the tlsSecret's`)
      t.equal(webhook.clientTLS, undefined, `${name}: no client certificate unless required`)
    }
  })

  t.test('item 15: requireClientCert (ci/security-values.yaml): the probes use the plain-HTTP probe port, kept out of the Service', async t => {
    const objects = await render('security-values.yaml')
    const container = only(objects, 'Deployment').spec.template.spec.containers[0]
    const env = new Map((container.env as Array<{ name: string, value: string }>).map(e => [e.name, e.value]))
    t.ok(env.has('HOOK_TLS_CLIENT_CA_FILE'), 'the hook requires client certificates')
    const probePort = (container.ports as Array<{ name: string, containerPort: number }>).find(p => p.name === 'probes')
    t.equal(String(probePort?.containerPort), env.get('HOOK_PROBE_PORT'), 'the container port named probes is HOOK_PROBE_PORT')
    for (const [name, probe] of [['readiness', container.readinessProbe], ['liveness', container.livenessProbe]]) {
      t.same(probe.httpGet, { path: name === 'readiness' ? '/readyz' : '/healthz', port: 'probes', scheme: 'HTTP' }, `${name}: plain HTTP on the probe port, no certificate needed`)
    }
    const service = only(objects, 'Service')
    t.same(service.spec.ports.map((p: Obj) => p.targetPort), ['http'], 'Metacontroller (the Service) reaches only the hook\'s HTTPS port')
    const tlsOnly = await render(undefined, ['--set', 'security.tlsSecret=hook-tls'])
    t.equal(only(tlsOnly, 'Deployment').spec.template.spec.containers[0].readinessProbe.httpGet.port, 'probes', 'with TLS but no client certificates too')
    const plain = only(await render(), 'Deployment').spec.template.spec.containers[0]
    t.same(plain.readinessProbe.httpGet, { path: '/readyz', port: 'http', scheme: 'HTTP' }, 'without TLS: the hook\'s own port, as before')
    t.notOk((plain.env as Array<{ name: string }>).some(e => e.name === 'HOOK_PROBE_PORT'), 'and no probe server')
  })

  t.test('item 14: the hook accepts the Secrets\' previous-* keys too while they exist; Metacontroller reads only the current ones', async t => {
    const tokenObjects = await render('security-values.yaml')
    const tokenDeployment = only(tokenObjects, 'Deployment')
    const tokenEnv = new Map((tokenDeployment.spec.template.spec.containers[0].env as Array<{ name: string, value: string }>).map(e => [e.name, e.value]))
    t.same(mountedSecretFile(tokenDeployment, tokenEnv.get('HOOK_BEARER_TOKEN_PREVIOUS_FILE') ?? ''), ['etcd-operator-hook-token', 'previous-token'], 'HOOK_BEARER_TOKEN_PREVIOUS_FILE is the token Secret\'s previous-token key')
    const tokenVolume = (tokenDeployment.spec.template.spec.volumes as Obj[]).find(v => v.secret?.secretName === 'etcd-operator-hook-token')
    t.equal(tokenVolume?.secret.items, undefined, 'the whole Secret is mounted, so a key added later appears as a file')
    for (const [name, webhook] of webhooks(tokenObjects)) t.equal(webhook.authorization.secretRef.key, 'token', `${name}: Metacontroller sends the current token`)

    const basicObjects = await render('basic-auth-values.yaml')
    const basicDeployment = only(basicObjects, 'Deployment')
    const basicEnv = new Map((basicDeployment.spec.template.spec.containers[0].env as Array<{ name: string, value: string }>).map(e => [e.name, e.value]))
    t.same(mountedSecretFile(basicDeployment, basicEnv.get('HOOK_BASIC_AUTH_PREVIOUS_USERNAME_FILE') ?? ''), ['etcd-operator-hook-basic-auth', 'previous-username'])
    t.same(mountedSecretFile(basicDeployment, basicEnv.get('HOOK_BASIC_AUTH_PREVIOUS_PASSWORD_FILE') ?? ''), ['etcd-operator-hook-basic-auth', 'previous-password'])
    for (const [name, webhook] of webhooks(basicObjects)) t.same([webhook.basicAuth.usernameKey, webhook.basicAuth.passwordKey], ['username', 'password'], `${name}: Metacontroller sends the current ones`)

    const plainEnv = (only(await render(), 'Deployment').spec.template.spec.containers[0].env as Array<{ name: string }>).map(e => e.name)
    t.notOk(plainEnv.some(n => n.includes('PREVIOUS')), 'no credentials, no previous ones')
  })

  t.test('hook.metacontrollerAuth=false: no auth fields, hook.webhook still passes through', async t => {
    const objects = await render('security-values.yaml', ['--set', 'hook.metacontrollerAuth=false'])
    for (const [name, webhook] of webhooks(objects)) t.same(Object.keys(webhook).sort(), ['timeout', 'url'], `${name}: url and timeout only`)
    const extra = await render('security-values.yaml', ['--set', 'hook.metacontrollerAuth=false', '--set', 'security.metacontrollerClientSecret=', '--set', 'hook.webhook.caBundle.configMapRef.name=hook-ca'])
    for (const [name, webhook] of webhooks(extra)) {
      t.same(webhook.caBundle, { configMapRef: { name: 'hook-ca' } }, `${name}: hook.webhook as given, and no fail without metacontrollerClientSecret`)
      t.equal(webhook.authorization, undefined, `${name}: still no authorization`)
    }
  })

  t.test('hook.webhook is merged last, over the rendered auth fields', async t => {
    const objects = await render('security-values.yaml', ['--set', 'hook.webhook.authorization.type=Token'])
    for (const [name, webhook] of webhooks(objects)) {
      t.same(webhook.authorization, { type: 'Token', secretRef: { name: 'etcd-operator-hook-token', namespace: NAMESPACE, key: 'token' } }, `${name}: the type overridden, the Secret kept`)
    }
  })

  t.test('the chart refuses auth settings Metacontroller cannot use', async t => {
    const noClientSecret = await refusal(['--values', `${CHART}/ci/security-values.yaml`, '--set', 'security.metacontrollerClientSecret='])
    t.not(noClientSecret.code, 0, 'requireClientCert without metacontrollerClientSecret fails')
    t.match(noClientSecret.stderr, /security\.requireClientCert needs security\.metacontrollerClientSecret/)
    const both = await refusal(['--set', 'security.bearerTokenSecret=token', '--set', 'security.basicAuthSecret=basic'])
    t.not(both.code, 0, 'bearerTokenSecret and basicAuthSecret together fail')
    t.match(both.stderr, /security\.bearerTokenSecret and security\.basicAuthSecret are both set: Metacontroller refuses/)
    const caWithoutTLS = await refusal(['--set', 'security.caBundle=-----BEGIN CERTIFICATE-----'])
    t.not(caWithoutTLS.code, 0, 'caBundle without tlsSecret fails: the hook serves plain HTTP')
    t.match(caWithoutTLS.stderr, /security\.caBundle needs security\.tlsSecret/)
    const bothUnwired = await refusal(['--set', 'security.bearerTokenSecret=token', '--set', 'security.basicAuthSecret=basic', '--set', 'hook.metacontrollerAuth=false'])
    t.equal(bothUnwired.code, 0, 'the hook itself takes either: fine when the chart wires nothing')
  })

  t.test('values.schema.json refuses bad values', async t => {
    const bad: Array<[string, RegExp]> = [
      ['replicaCount=0', /replicaCount/],
      ['hook.version=v3', /hook\.version|version/],
      ['logLevel=loud', /logLevel/],
      ['hook.timeout=ten', /timeout/],
      ['unknownValue=1', /unknownValue|additional/i],
    ]
    for (const [set, message] of bad) {
      await t.rejects(runHelm(['template', RELEASE, CHART, '--set', set]), { message }, `--set ${set} is refused`)
    }
  })

  t.test('NOTES.txt tells the user the next command', async t => {
    const { stdout } = await runHelm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=client'])
    t.match(stdout, /kubectl --namespace etcd-operator rollout status deployment\/etcd-operator/)
    t.match(stdout, /etcdctl --endpoints http:\/\/example-etcd-cluster-client:2379 put foo bar/)
  })

  t.test('manifests/ are what the chart renders with default values', async t => {
    // Without Helm's own bookkeeping labels, the plain manifests and the
    // default render must be the same objects.
    const strip = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(strip)
      if (typeof value !== 'object' || value === null) return value
      return Object.fromEntries(Object.entries(value).map(([k, v]) => {
        if (k === 'labels' && typeof v === 'object' && v !== null) {
          return [k, Object.fromEntries(Object.entries(v).filter(([l]) => l !== 'helm.sh/chart' && l !== 'app.kubernetes.io/managed-by'))]
        }
        return [k, strip(v)]
      }))
    }
    const chart = (await render()).map(strip) as Obj[]
    const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`
    const plain = ['hook.yaml', 'controller.yaml', 'rbac.yaml', 'crd.yaml', 'crd-etcdbackup.yaml']
      .flatMap(file => documents(readFileSync(new URL(`../manifests/${file}`, import.meta.url), 'utf8')))
    t.same(plain.map(key).sort(), chart.map(key).sort(), 'the same objects')
    for (const object of plain) {
      t.same(object, chart.find(o => key(o) === key(object)), `${key(object)} is the same`)
    }
  })
}
