// A steady sync must not give its objects a new hidden class each time.
// When V8 has optimized an object literal that spreads and then adds a key
// (`{ ...labels, etcd_voter: 'true' }`), every object it makes gets a map
// of its own: they outlive the young generation, the old one grows between
// full collections, and a size-9 sync cost 20% more CPU and 35 MB more RSS
// under load (README, "Performance"). Not timed: V8 says whether two
// answers share their hidden classes.
import { execFileSync } from 'node:child_process'
import t from 'tap'

t.test('every object of a steady answer keeps its hidden class once the planner is optimized', async t => {
  const output = execFileSync(process.execPath, [
    '--allow-natives-syntax', '--import', '@tapjs/typescript/import', 'test/helpers/hidden-classes.ts', '20000',
  ], { encoding: 'utf8', timeout: 120_000 })
  const differing = JSON.parse(output) as string[]
  t.same(differing, [], `objects built anew each sync: ${differing.slice(0, 10).join(', ')}`)
})
