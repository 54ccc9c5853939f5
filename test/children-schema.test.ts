// Every child the planner emits, in every situation of the decision table
// and with every pod policy field set, is a valid Kubernetes object and
// carries no null.
import t from 'tap'
import { plan } from '../hooks/cluster/plan.js'
import type { ClusterSpec } from '../hooks/api/cluster.js'
import { NOW, members, reachable, syncRequest, unreachable, type RequestFixture } from './helpers/fixtures.js'
import { validateKubeObject } from './helpers/kube-schema.js'

const everyPolicy: Partial<ClusterSpec> = {
  size: 5,
  version: 'v3.5.17',
  repository: 'registry.example.com/etcd',
  pod: {
    labels: { team: 'storage' },
    annotations: { 'example.com/owner': 'storage' },
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] }] } } },
    antiAffinity: true,
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'etcd', effect: 'NoSchedule' }],
    resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
    etcdEnv: [{ name: 'ETCD_QUOTA_BACKEND_BYTES', value: '4294967296' }],
    securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 },
    persistentVolumeClaimSpec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '8Gi' } } },
    ClusterDomain: '.cluster.local',
    priorityClassName: 'system-cluster-critical',
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { etcd_cluster: 'example' } } }],
  },
  loadBalancer: { enabled: true, annotations: { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' }, sourceRanges: ['10.0.0.0/8'], loadBalancerClass: 'example.com/lb', externalTrafficPolicy: 'Local' },
  podDisruptionBudget: { enabled: true, maxUnavailable: 2 },
}

const situations: Array<[string, RequestFixture, Parameters<typeof plan>[1]]> = [
  ['bootstrap', {}, unreachable],
  ['bootstrap with every policy field', { spec: everyPolicy }, unreachable],
  ['grow with every policy field', { spec: everyPolicy, pods: [{ ordinal: 0 }, { ordinal: 1 }], claims: [0, 1] }, reachable(members(0, 1), 0)],
  ['replace a dead member', { pods: [{ ordinal: 0 }, { ordinal: 1 }, { ordinal: 2, state: 'failed' }] }, reachable(members(0, 1, 2), 0)],
  ['upgrade', { spec: { version: '3.5.21' }, pods: [0, 1, 2].map(ordinal => ({ ordinal, image: 'quay.io/coreos/etcd:v3.5.17' })) }, reachable(members(0, 1, 2), 0)],
  ['old etcd probes', { spec: { version: '3.4.23' } }, unreachable],
  // Certificates (cert-manager's CRD schema) and member pods mapping its keys.
  ['cert-manager TLS with every policy field', { spec: { ...everyPolicy, TLS: { certManager: { issuerRef: { name: 'etcd-ca', kind: 'ClusterIssuer' }, duration: '2160h', renewBefore: '360h', privateKey: { algorithm: 'ECDSA', size: 384 } } } }, pods: [{ ordinal: 0 }, { ordinal: 1 }], claims: [0, 1] }, reachable(members(0, 1), 0)],
  ['cert-manager TLS, bootstrap', { spec: { TLS: { certManager: { issuerRef: { name: 'etcd-ca' } } } } }, unreachable],
]

for (const [name, fixture, observation] of situations) {
  t.test(name, async t => {
    const { response, responseIfActionFails } = plan(syncRequest(fixture), observation, NOW)
    for (const child of [...response.children, ...responseIfActionFails.children]) {
      await t.resolves(validateKubeObject(child), `${child.kind} ${child.metadata.name} is valid`)
      t.notOk(JSON.stringify(child).includes('null'), `${child.kind} ${child.metadata.name} has no null`)
      t.match(child.metadata.labels, { app: 'etcd', etcd_cluster: 'example' }, 'carries the cluster labels')
    }
  })
}

t.test('the validator catches a broken object', async t => {
  await t.rejects(validateKubeObject({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'x' }, spec: { secretName: 'x', issuerRef: { name: 'ca' }, privateKey: { algorithm: 'DSA' } } }), 'a Certificate with a key algorithm cert-manager has not')
  await t.rejects(validateKubeObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'etcd', ports: [{ containerPort: 'client' }] }] } }))
  await t.rejects(validateKubeObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ port: 'x' }] } }))
})
