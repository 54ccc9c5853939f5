// What the kubelet tells us of one member pod, read from its status.
import type { KubeObject } from '../../api/kube.js'
import { ETCD_CONTAINER, PEER_TLS_VOLUME, POD_POLICY_ANNOTATION, SERVER_TLS_VOLUME, type ObservedPod } from '../model.js'

interface PodShape {
  spec?: { containers?: Array<{ name?: string, image?: string }>, volumes?: Array<{ name?: string, secret?: { secretName?: string } }> }
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
    tls: {
      peerSecret: pod.spec?.volumes?.find(v => v.name === PEER_TLS_VOLUME)?.secret?.secretName,
      serverSecret: pod.spec?.volumes?.find(v => v.name === SERVER_TLS_VOLUME)?.secret?.secretName,
    },
  }
}

// The kubelet may report an image with the registry's default prefix.
function sameImage (reported: string, wanted: string): boolean {
  const strip = (image: string) => image.replace(/^docker\.io\//, '').replace(/^library\//, '')
  return strip(reported) === strip(wanted)
}
