// What the kubelet tells us of one member pod, read from its status.
import type { KubeObject } from '../../api/kube.js'
import { CERT_MANAGER_KEYS } from '../tls-files.js'
import { ETCD_CONTAINER, PEER_TLS_VOLUME, POD_POLICY_ANNOTATION, SERVER_TLS_VOLUME, type ObservedPod } from '../model.js'

interface SecretVolume { name?: string, secret?: { secretName?: string, items?: Array<{ key?: string }> } }

interface PodShape {
  spec?: { containers?: Array<{ name?: string, image?: string }>, volumes?: SecretVolume[] }
  status?: {
    phase?: string
    conditions?: Array<{ type?: string, status?: string, lastTransitionTime?: string }>
    containerStatuses?: Array<{ name?: string, image?: string, state?: { running?: unknown, waiting?: { reason?: string } } }>
  }
}

export function observePod (object: KubeObject, ordinal: number): ObservedPod {
  const pod = object as PodShape
  const phase = pod.status?.phase ?? 'Pending'
  const image = pod.spec?.containers?.find(c => c.name === ETCD_CONTAINER)?.image ?? ''
  const container = pod.status?.containerStatuses?.find(c => c.name === ETCD_CONTAINER)
  const readyCondition = pod.status?.conditions?.find(c => c.type === 'Ready')
  const ready = readyCondition?.status === 'True'
  return {
    name: object.metadata.name,
    ordinal,
    object,
    phase,
    running: phase === 'Running' && container?.state?.running !== undefined,
    ready,
    terminating: object.metadata.deletionTimestamp !== undefined,
    image,
    imageRolledOut: container?.image !== undefined && sameImage(container.image, image),
    podPolicyHash: object.metadata.annotations?.[POD_POLICY_ANNOTATION],
    crashLooping: container?.state?.waiting?.reason === 'CrashLoopBackOff',
    unreadySince: !ready ? readyCondition?.lastTransitionTime : undefined,
    createdAt: typeof object.metadata.creationTimestamp === 'string' ? object.metadata.creationTimestamp : undefined,
    tls: observeTLS(pod.spec?.volumes ?? []),
  }
}

// The member secrets a pod mounts, and whether its volumes map
// cert-manager's keys (render/pod.ts).
function observeTLS (volumes: SecretVolume[]): ObservedPod['tls'] {
  const peer = volumes.find(v => v.name === PEER_TLS_VOLUME)?.secret
  const server = volumes.find(v => v.name === SERVER_TLS_VOLUME)?.secret
  const mapsCertManager = (secret: SecretVolume['secret']) => secret?.items?.some(i => i.key === CERT_MANAGER_KEYS.cert) === true
  return {
    peerSecret: peer?.secretName,
    serverSecret: server?.secretName,
    certManager: mapsCertManager(peer) || mapsCertManager(server),
  }
}

// The kubelet may report an image with the registry's default prefix.
function sameImage (reported: string, wanted: string): boolean {
  const strip = (image: string) => image.replace(/^docker\.io\//, '').replace(/^library\//, '')
  return strip(reported) === strip(wanted)
}
