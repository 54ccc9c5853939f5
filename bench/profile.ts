// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went:
// self time by area (hook file, npm package, node internals, GC) and
// inclusive time of the functions that take the most.
import { readFileSync } from 'node:fs'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

export interface ProfileSummary {
  totalMs: number
  idleMs: number
  byArea: Array<{ area: string, selfMs: number }>
  inclusive: Array<{ fn: string, ms: number }>
  self: Array<{ fn: string, ms: number }>
}

// Where a function lives, in words a reader of this repository knows.
export function areaOf (frame: CallFrame): string {
  const { url, functionName } = frame
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC'
    if (functionName === '(idle)') return 'idle'
    if (functionName === '(program)') return 'V8/native (program)'
    // Code compiled at run time with new Function: ajv's validators and
    // fast-json-stringify's serializers.
    if (/^(anonymous|validate)\d*$/.test(functionName)) return 'generated (ajv validator / fast-json-stringify)'
    return `native: ${functionName || '(anonymous)'}`
  }
  const hooks = /\/hooks\/([\w-]+)\.js/.exec(url)
  if (hooks !== null) return `hooks/${hooks[1]}.ts`
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/g
  let last: string | undefined
  for (const match of url.matchAll(pkg)) last = match[1]
  if (last !== undefined) return last
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0] ?? url}`
  return url
}

function nameOf (frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'} ${areaOf(frame)}:${frame.lineNumber + 1}`
}

export function summariseProfile (path: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

  const selfByArea = new Map<string, number>()
  const selfByFn = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  let idle = 0
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000
    const node = byId.get(id)
    if (node === undefined) return
    total += ms
    const area = areaOf(node.callFrame)
    if (area === 'idle') {
      idle += ms
      return
    }
    selfByArea.set(area, (selfByArea.get(area) ?? 0) + ms)
    selfByFn.set(nameOf(node.callFrame), (selfByFn.get(nameOf(node.callFrame)) ?? 0) + ms)
    // Inclusive: once per function on this sample's stack.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame
      if (frame === undefined || frame.functionName === '(root)') continue
      const key = nameOf(frame)
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms)
    }
  })
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1])
  return {
    totalMs: total,
    idleMs: idle,
    byArea: sorted(selfByArea).map(([area, selfMs]) => ({ area, selfMs })),
    inclusive: sorted(inclusive).slice(0, top * 2).map(([fn, ms]) => ({ fn, ms })),
    self: sorted(selfByFn).slice(0, top).map(([fn, ms]) => ({ fn, ms })),
  }
}

export function formatProfile (summary: ProfileSummary): string {
  const busy = summary.totalMs - summary.idleMs
  const pct = (ms: number) => `${(100 * ms / busy).toFixed(1).padStart(5)}%`
  const lines = [`busy ${(busy / 1000).toFixed(1)} s of ${(summary.totalMs / 1000).toFixed(1)} s profiled`, '', 'self time by area:']
  for (const a of summary.byArea.slice(0, 15)) lines.push(`  ${pct(a.selfMs)}  ${a.area}`)
  lines.push('', 'self time by function:')
  for (const f of summary.self) lines.push(`  ${pct(f.ms)}  ${f.fn}`)
  lines.push('', 'inclusive time (function and what it calls):')
  for (const f of summary.inclusive) lines.push(`  ${pct(f.ms)}  ${f.fn}`)
  return lines.join('\n')
}
