// Run by test/hidden-classes.test.ts under `node --allow-natives-syntax`:
// plans the benchmark's steady size-9 sync until V8 has optimized the
// planner, then prints (JSON) the paths of the answer's objects whose
// hidden class differs between two answers to the same request.
import { steadyRequest } from '../../bench/requests.js'
import { healthyObservation } from '../../bench/healthy-membership.js'
import { readCluster } from '../../hooks/cluster/observe/cluster.js'
import { observeTarget } from '../../hooks/cluster/targets.js'
import { planCluster } from '../../hooks/cluster/plan.js'

// V8's own check, only callable with --allow-natives-syntax.
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean

const text = JSON.stringify(steadyRequest(9))
const observation = healthyObservation(observeTarget(readCluster(JSON.parse(text))))
const now = new Date('2026-11-26T10:00:00Z')
const answer = () => planCluster(readCluster(JSON.parse(text)), observation, now).response

for (let i = 0; i < Number(process.argv[2] ?? 20_000); i++) answer()
const differing: string[] = []
const compare = (a: unknown, b: unknown, path: string): void => {
  if (a === null || typeof a !== 'object' || b === null || typeof b !== 'object') return
  if (!haveSameMap(a, b)) differing.push(path)
  for (const key of Object.keys(a)) compare((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`)
}
compare(answer(), answer(), 'response')
process.stdout.write(JSON.stringify(differing))
