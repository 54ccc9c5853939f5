import { RESYNC_STEADY, type Rule } from './step.js'

// The EtcdCluster is being deleted: Kubernetes removes the children itself.
// No membership write, no pod deleted by us: a member removed now would
// lose its data for nothing if the deletion is orphaning or cancelled.
export const parentDeleting: Rule = ({ cluster }) =>
  cluster.deleting ? { rule: 'parentDeleting', waitingFor: 'the cluster\'s deletion (no membership changes meanwhile)', resyncAfterSeconds: RESYNC_STEADY } : undefined
