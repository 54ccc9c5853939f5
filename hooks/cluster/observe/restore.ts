// How far the seed's restore init containers got, from what the kubelet
// reports of them (status.initContainerStatuses). The runner writes its
// result, or its error, to the termination log; etcd's tool falls back to
// the end of its log (terminationMessagePolicy FallbackToLogsOnError).
import type { KubeObject } from '../../api/kube.js'
import { RESTORE_COMMIT, RESTORE_CONTAINERS, RESTORE_FETCH } from '../render/restore.js'

interface Terminated { exitCode?: number, reason?: string, message?: string, finishedAt?: string }
interface InitStatus {
  name?: string
  state?: { waiting?: { reason?: string, message?: string }, terminated?: Terminated }
  lastState?: { terminated?: Terminated }
}
interface PodShape {
  spec?: { initContainers?: Array<{ name?: string }> }
  status?: { initContainerStatuses?: InitStatus[] }
}

export type RestoreProgress =
  | { pod: string, state: 'running' }
  | { pod: string, state: 'failed', container: string, message: string }
  | { pod: string, state: 'done', object: string | undefined, revision: number | undefined, time: string }

// Waiting for these is part of starting a container, not a failure.
const STARTING = new Set(['PodInitializing', 'ContainerCreating'])

// undefined: the pod restores nothing (no restore init containers).
export function restoreProgress (object: KubeObject): RestoreProgress | undefined {
  const pod = object as PodShape
  const name = object.metadata.name
  if (pod.spec?.initContainers?.some(c => c.name === RESTORE_COMMIT) !== true) return undefined
  const statuses = new Map((pod.status?.initContainerStatuses ?? []).map(s => [s.name ?? '', s]))
  for (const container of RESTORE_CONTAINERS) {
    const failure = failureOf(statuses.get(container))
    if (failure !== undefined) return { pod: name, state: 'failed', container, message: failure }
  }
  const commit = statuses.get(RESTORE_COMMIT)?.state?.terminated
  if (commit?.exitCode !== 0) return { pod: name, state: 'running' }
  const fetched = fetchResult(statuses.get(RESTORE_FETCH)?.state?.terminated?.message)
  return { pod: name, state: 'done', object: fetched.object, revision: fetched.revision, time: commit.finishedAt ?? '' }
}

// The container's own words when it failed: exited non-zero, or waiting
// to be started again after that (a crash loop), or unable to start.
function failureOf (status: InitStatus | undefined): string | undefined {
  const terminated = status?.state?.terminated
  if (terminated !== undefined && terminated.exitCode !== 0) return wordsOf(terminated)
  const waiting = status?.state?.waiting
  if (waiting?.reason === undefined || STARTING.has(waiting.reason)) return undefined
  const last = status?.lastState?.terminated
  if (last !== undefined && last.exitCode !== 0) return wordsOf(last)
  return `${waiting.reason}${waiting.message !== undefined ? `: ${waiting.message}` : ''}`
}

function wordsOf (terminated: Terminated): string {
  const message = terminated.message?.trim()
  const head = `exit code ${terminated.exitCode ?? '?'}${terminated.reason !== undefined ? ` (${terminated.reason})` : ''}`
  return message !== undefined && message !== '' ? `${message.split('\n').filter(line => line.trim() !== '').slice(-3).join(' | ')} [${head}]` : head
}

// The runner's result line (hooks/runner/cli.ts): {object, revision, ...}.
function fetchResult (message: string | undefined): { object?: string, revision?: number } {
  try {
    const value = JSON.parse(message ?? '') as { object?: unknown, revision?: unknown }
    return {
      ...(typeof value.object === 'string' ? { object: value.object } : {}),
      ...(typeof value.revision === 'number' && Number.isSafeInteger(value.revision) ? { revision: value.revision } : {}),
    }
  } catch {
    return {}
  }
}
