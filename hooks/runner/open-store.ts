// The store a command's flags name.
import { PvcStore } from './pvc.js'
import { S3Store } from './s3.js'
import type { StoreSettings } from './options.js'
import type { Store } from './store.js'

export async function openStore (settings: StoreSettings): Promise<Store> {
  return settings.kind === 's3' ? S3Store.open(settings) : new PvcStore(settings.dir, settings.claim)
}
