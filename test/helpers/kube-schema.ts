// Validates an object against the Kubernetes OpenAPI schema of its
// apiVersion and kind, through kubernetes-models (cert-manager's kinds
// through @kubernetes-models/cert-manager, generated from its CRDs).
type Model = new (data: unknown) => { validate: () => void }

export async function validateKubeObject (object: Record<string, unknown>): Promise<void> {
  const { apiVersion, kind } = object
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') throw new Error('object without apiVersion or kind')
  let module: Record<string, unknown>
  try {
    const source = apiVersion.startsWith('cert-manager.io/') ? '@kubernetes-models/cert-manager' : 'kubernetes-models'
    module = await import(`${source}/${apiVersion}`) as Record<string, unknown>
  } catch {
    throw new Error(`kubernetes-models has no schema for apiVersion ${apiVersion}`)
  }
  const model = module[kind] as Model | undefined
  if (model === undefined) throw new Error(`kubernetes-models has no ${kind} in ${apiVersion}`)
  new model(object).validate()
}
