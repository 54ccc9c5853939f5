// Hand-written children in the shape the hook emits, for the harness's own
// self-test (no hook involved).
import type { Obj } from './store.js'

export const labels = (cluster: string, extra: Record<string, string> = {}) => ({ app: 'etcd', etcd_cluster: cluster, ...extra })

export function memberPod (cluster: string, ordinal: number, initialCluster: number[], state: 'new' | 'existing', image = 'quay.io/coreos/etcd:v3.4.23'): Obj {
  const name = `${cluster}-${ordinal}`
  const host = (n: number) => `${cluster}-${n}.${cluster}.default.svc`
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: labels(cluster, { etcd_node: name }) },
    spec: {
      hostname: name,
      subdomain: cluster,
      restartPolicy: 'Always',
      containers: [
        {
          name: 'etcd',
          image,
          command: ['/usr/local/bin/etcd'],
          args: [
            `--name=${name}`,
            '--data-dir=/var/etcd/data',
            '--listen-peer-urls=http://0.0.0.0:2380',
            '--listen-client-urls=http://0.0.0.0:2379',
            `--advertise-client-urls=http://${host(ordinal)}:2379`,
            `--initial-advertise-peer-urls=http://${host(ordinal)}:2380`,
            `--initial-cluster=${initialCluster.map(n => `${cluster}-${n}=http://${host(n)}:2380`).join(',')}`,
            `--initial-cluster-state=${state}`,
            `--initial-cluster-token=${cluster}-token`,
            '--listen-metrics-urls=http://0.0.0.0:2381',
          ],
          env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'ETCD_LOG_OUTPUTS', value: 'stderr' }],
          ports: [
            { name: 'client', containerPort: 2379 },
            { name: 'peer', containerPort: 2380 },
            { name: 'metrics', containerPort: 2381 },
          ],
          volumeMounts: [{ name: 'etcd-data', mountPath: '/var/etcd' }],
          readinessProbe: { httpGet: { path: '/health', port: 2381 }, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3 },
          livenessProbe: { tcpSocket: { port: 'metrics' }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 },
        },
      ],
      volumes: [{ name: 'etcd-data', emptyDir: {} }],
    },
  }
}

export function services (cluster: string, lb: boolean): Obj[] {
  const out: Obj[] = [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: cluster, labels: labels(cluster) },
      spec: {
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: labels(cluster),
        ports: [
          { name: 'client', port: 2379, targetPort: 2379 },
          { name: 'peer', port: 2380, targetPort: 2380 },
        ],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${cluster}-client`, labels: labels(cluster) },
      spec: { type: 'ClusterIP', selector: labels(cluster), ports: [{ name: 'client', port: 2379, targetPort: 'client' }] },
    },
  ]
  if (lb) {
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${cluster}-client-lb`, labels: labels(cluster) },
      spec: { type: 'LoadBalancer', selector: labels(cluster), ports: [{ name: 'client', port: 2379, targetPort: 2379 }] },
    })
  }
  return out
}
