// The one membership write a sync may make, as the gateway request that
// carries it out and as words for errors and logs.
import { memberIdHex } from './answers.js'
import type { MembershipAction } from './types.js'

export function requestFor (action: MembershipAction): { path: string, body: object } {
  switch (action.kind) {
    case 'addLearner':
      return { path: '/v3/cluster/member/add', body: { peerURLs: [action.peerURL], isLearner: true } }
    case 'promote':
      return { path: '/v3/cluster/member/promote', body: { ID: action.memberId } }
    case 'remove':
      return { path: '/v3/cluster/member/remove', body: { ID: action.memberId } }
    case 'transferLeadership':
      return { path: '/v3/maintenance/transfer-leadership', body: { targetID: action.toMemberId } }
    case 'defragment':
      return { path: '/v3/maintenance/defragment', body: {} }
    case 'compact':
      return { path: '/v3/kv/compaction', body: { revision: action.revision } }
    case 'disarmAlarm':
      return { path: '/v3/maintenance/alarm', body: { action: 'DEACTIVATE', memberID: action.memberId, alarm: action.alarm } }
  }
}

export function describeAction (action: MembershipAction): string {
  switch (action.kind) {
    case 'addLearner':
      return `add learner ${action.peerURL} for pod ${action.pod}`
    case 'promote':
      return `promote member ${memberIdHex(action.memberId)} (pod ${action.pod})`
    case 'remove':
      return `remove member ${memberIdHex(action.memberId)} (pod ${action.pod})`
    case 'transferLeadership':
      return `transfer leadership from pod ${action.pod} to member ${memberIdHex(action.toMemberId)} (pod ${action.toPod})`
    case 'defragment':
      return `defragment member ${memberIdHex(action.memberId)} (pod ${action.pod})`
    case 'compact':
      return `compact to revision ${action.revision}`
    case 'disarmAlarm':
      return `disarm alarm ${action.alarm} of member ${memberIdHex(action.memberId)} (pod ${action.pod})`
  }
}
