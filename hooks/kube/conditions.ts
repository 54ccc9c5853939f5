// Status conditions as Kubernetes shows them: a transition time that moves
// only when the condition's status does, so an unchanged world gives an
// unchanged status (or Metacontroller writes it on every sync).
import type { Condition } from '../api/kube.js'

export interface ConditionDetail {
  reason: string
  message: string
}

export function condition (type: string, isTrue: boolean, detail: ConditionDetail): Condition {
  return { type, status: isTrue ? 'True' : 'False', reason: detail.reason, message: detail.message }
}

// Keep the previous transition time while the condition's status holds.
export function withTransitionTime (c: Condition, previous: Condition[] | undefined, now: string): Condition {
  const before = previous?.find(p => p.type === c.type)
  const since = before?.status === c.status && before.lastTransitionTime !== undefined ? before.lastTransitionTime : now
  return { type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: since }
}
