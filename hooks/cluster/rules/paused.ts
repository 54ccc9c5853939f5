import { RESYNC_STEADY, type Rule } from './step.js'

// spec.paused: membership and pods stay as they are.
export const paused: Rule = ({ cluster }) =>
  cluster.spec.paused ? { rule: 'paused', waitingFor: 'spec.paused', resyncAfterSeconds: RESYNC_STEADY } : undefined
