// Validates any object the packaging installs. Kubernetes kinds go through
// kubernetes-models (helpers/kube-schema.ts); prometheus-operator's kinds
// through its published CRD schemas (@kubernetes-models/prometheus-operator).
// Metacontroller's CompositeController has no published model: it gets a
// small hand schema of the fields we rely on, closed where we write them so
// a typo fails; so does the ServiceMonitor, on top of its real schema (which
// is open). EtcdClusters go through the CRD (helpers/crd.ts).
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'
import AjvModule from 'ajv'
import { BACKUP_CRD_FILE, crdValidator, loadCrd, schemaOf } from './crd.js'
import { validateKubeObject } from './kube-schema.js'

const Ajv = AjvModule.default
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false })

const str = { type: 'string' }
const stringMap = { type: 'object', additionalProperties: { type: 'string' } }
const goDuration = { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$' }
const secretRef = { type: 'object', additionalProperties: false, required: ['name', 'namespace'], properties: { name: str, namespace: str } }
const keyRef = { type: 'object', additionalProperties: false, required: ['name', 'namespace'], properties: { name: str, namespace: str, key: str } }
const clusterMetadata = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, labels: stringMap, annotations: stringMap },
  not: { required: ['namespace'] },
}
const namespacedMetadata = {
  type: 'object',
  required: ['name', 'namespace'],
  properties: { name: { type: 'string', minLength: 1 }, namespace: { type: 'string', minLength: 1 }, labels: stringMap, annotations: stringMap },
}

// metacontroller.k8s.io/v1alpha1 CompositeController, after Metacontroller
// v4's CRD (manifests/production/metacontroller-crds-v1.yaml) and its docs.
const hook = {
  type: 'object',
  additionalProperties: false,
  required: ['webhook'],
  properties: {
    version: { enum: ['v1', 'v2'] },
    webhook: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', pattern: '^https?://[^/]+/' },
        path: { type: 'string', pattern: '^/' },
        service: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'namespace'],
          properties: { name: str, namespace: str, port: { type: 'integer' }, protocol: { enum: ['http', 'https'] } },
        },
        timeout: goDuration,
        etag: { type: 'object' },
        // Metacontroller's webhook authentication (pkg/apis/metacontroller/
        // v1alpha1 Webhook): Secret references always name their namespace.
        caBundle: {
          type: 'object',
          additionalProperties: false,
          properties: { inline: str, secretRef: keyRef, configMapRef: keyRef },
          oneOf: [{ required: ['inline'] }, { required: ['secretRef'] }, { required: ['configMapRef'] }],
        },
        authorization: {
          type: 'object', additionalProperties: false, required: ['secretRef'],
          properties: { type: str, secretRef: { ...keyRef, required: ['name', 'namespace', 'key'] } },
        },
        basicAuth: {
          type: 'object', additionalProperties: false, required: ['secretRef'],
          properties: { secretRef, usernameKey: str, passwordKey: str },
        },
        clientTLS: {
          type: 'object', additionalProperties: false, required: ['secretRef'],
          properties: { secretRef, certKey: str, privateKeyKey: str },
        },
      },
      oneOf: [{ required: ['url'] }, { required: ['service'] }],
    },
  },
}
const compositeController = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'metacontroller.k8s.io/v1alpha1' },
    kind: { const: 'CompositeController' },
    metadata: clusterMetadata,
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['parentResource', 'hooks'],
      properties: {
        parentResource: {
          type: 'object',
          additionalProperties: false,
          required: ['apiVersion', 'resource'],
          properties: { apiVersion: str, resource: str, revisionHistory: { type: 'object' } },
        },
        childResources: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['apiVersion', 'resource'],
            properties: {
              apiVersion: str,
              resource: str,
              updateStrategy: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  method: { enum: ['OnDelete', 'Recreate', 'InPlace', 'RollingRecreate', 'RollingInPlace'] },
                  statusChecks: { type: 'object' },
                },
              },
            },
          },
        },
        generateSelector: { type: 'boolean' },
        resyncPeriodSeconds: { type: 'integer', minimum: 1 },
        hooks: {
          type: 'object',
          additionalProperties: false,
          required: ['sync'],
          properties: { sync: hook, finalize: hook, customize: hook, preUpdateChild: hook, postUpdateChild: hook },
        },
      },
    },
  },
}

// prometheus-operator's SafeTLSConfig (ca and cert from a Secret key,
// keySecret a SecretKeySelector), as its ServiceMonitor CRD has it.
const selector = { type: 'object', additionalProperties: false, required: ['name', 'key'], properties: { name: str, key: str } }
const tlsConfig = {
  type: 'object',
  additionalProperties: false,
  properties: {
    serverName: str,
    ca: { type: 'object', additionalProperties: false, required: ['secret'], properties: { secret: selector } },
    cert: { type: 'object', additionalProperties: false, required: ['secret'], properties: { secret: selector } },
    keySecret: selector,
  },
}

// monitoring.coreos.com/v1 ServiceMonitor: the fields the chart writes.
const serviceMonitor = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'ServiceMonitor' },
    metadata: namespacedMetadata,
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['selector', 'endpoints'],
      properties: {
        selector: { type: 'object', additionalProperties: false, required: ['matchLabels'], properties: { matchLabels: stringMap } },
        namespaceSelector: { type: 'object', additionalProperties: false, properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: str } } },
        endpoints: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['port'],
            properties: { port: str, scheme: { enum: ['http', 'https'] }, path: { type: 'string', pattern: '^/' }, interval: goDuration, scrapeTimeout: goDuration, tlsConfig },
          },
        },
      },
    },
  },
}

const handSchemas = {
  CompositeController: ajv.compile(compositeController),
  ServiceMonitor: ajv.compile(serviceMonitor),
}

let etcdCluster: ((object: unknown) => string[]) | undefined
let etcdBackup: ((object: unknown) => string[]) | undefined

const prometheusOperator = { PodMonitor, PrometheusRule, ServiceMonitor }

export async function validateObject (object: Record<string, unknown>): Promise<void> {
  const kind = object.kind
  if (object.apiVersion === 'monitoring.coreos.com/v1' && (kind === 'PodMonitor' || kind === 'PrometheusRule' || kind === 'ServiceMonitor')) {
    new prometheusOperator[kind](object as never).validate()
    if (kind !== 'ServiceMonitor') return
  }
  if (kind === 'CompositeController' || kind === 'ServiceMonitor') {
    const check = handSchemas[kind]
    if (!check(object)) throw new Error(`${kind}: ${ajv.errorsText(check.errors)}`)
    return
  }
  if (kind === 'EtcdCluster' || kind === 'EtcdBackup') {
    const check = kind === 'EtcdCluster'
      ? etcdCluster ??= crdValidator(schemaOf(loadCrd()))
      : etcdBackup ??= crdValidator(schemaOf(loadCrd(BACKUP_CRD_FILE)))
    const problems = check(object)
    if (problems.length > 0) throw new Error(`${kind}: ${problems.join('; ')}`)
    return
  }
  await validateKubeObject(object)
}
