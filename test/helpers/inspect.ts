// Small readers of a sync response, so test rows say what they check.
import type { SyncResponse } from '../../hooks/api/cluster.js'
import type { KubeObject } from '../../hooks/api/kube.js'

export function childrenOfKind (response: SyncResponse, kind: string): KubeObject[] {
  return response.children.filter(c => c.kind === kind)
}

export function podNames (response: SyncResponse): string[] {
  return childrenOfKind(response, 'Pod').map(p => p.metadata.name)
}

export function child (response: SyncResponse, kind: string, name: string): KubeObject {
  const found = response.children.find(c => c.kind === kind && c.metadata.name === name)
  if (found === undefined) throw new Error(`no ${kind} ${name} in the response`)
  return found
}

interface ContainerShape { name: string, image: string, args: string[] }

export function etcdContainer (pod: KubeObject): ContainerShape {
  const containers = (pod.spec as { containers: ContainerShape[] }).containers
  const etcd = containers.find(c => c.name === 'etcd')
  if (etcd === undefined) throw new Error(`pod ${pod.metadata.name} has no etcd container`)
  return etcd
}

// `--initial-cluster-state=existing` → { 'initial-cluster-state': 'existing' }
export function flags (pod: KubeObject): Record<string, string> {
  return Object.fromEntries(etcdContainer(pod).args.map(a => {
    const [key, ...value] = a.replace(/^--/, '').split('=')
    return [key, value.join('=')]
  }))
}

export function conditionOf (response: SyncResponse, type: string): { status: string, reason?: string | undefined, message?: string | undefined } {
  const found = response.status.conditions?.find(c => c.type === type)
  if (found === undefined) throw new Error(`no condition ${type}`)
  return found
}
