// The peer Service (member DNS names), the client Service and the optional
// LoadBalancer in front of it.
import type { KubeObject } from '../../api/kube.js'
import { CLIENT_PORT, PEER_PORT, type Cluster } from '../model.js'
import { clientServiceName, loadBalancerServiceName } from '../names.js'
import { VOTER_LABEL, memberSelector, metadata } from './labels.js'

// Headless: gives every member its DNS name, ready or not, so members can
// find each other while they start.
export function templatePeerService (cluster: Cluster): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(cluster, cluster.name, 'peer'),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: memberSelector(cluster),
      ports: [
        { name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT, protocol: 'TCP' },
        { name: 'peer', port: PEER_PORT, targetPort: PEER_PORT, protocol: 'TCP' },
      ],
    },
  }
}

// What clients use: only ready members are behind it, and with
// `votersOnly` only voting ones.
export function templateClientService (cluster: Cluster, votersOnly: boolean): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(cluster, clientServiceName(cluster), 'client'),
    spec: {
      type: 'ClusterIP',
      selector: clientSelector(cluster, votersOnly),
      ports: [{ name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT, protocol: 'TCP' }],
    },
  }
}

function clientSelector (cluster: Cluster, votersOnly: boolean): Record<string, string> {
  return votersOnly ? { app: 'etcd', etcd_cluster: cluster.name, [VOTER_LABEL]: 'true' } : memberSelector(cluster)
}

export function templateLoadBalancerService (cluster: Cluster, votersOnly: boolean): KubeObject {
  const lb = cluster.spec.loadBalancer
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(cluster, loadBalancerServiceName(cluster), 'client', { annotations: lb.annotations }),
    spec: {
      type: 'LoadBalancer',
      selector: clientSelector(cluster, votersOnly),
      ports: [{ name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT, protocol: 'TCP' }],
      ...(lb.sourceRanges !== undefined ? { loadBalancerSourceRanges: lb.sourceRanges } : {}),
      ...(lb.loadBalancerClass !== undefined ? { loadBalancerClass: lb.loadBalancerClass } : {}),
      ...(lb.externalTrafficPolicy !== undefined ? { externalTrafficPolicy: lb.externalTrafficPolicy } : {}),
    },
  }
}
