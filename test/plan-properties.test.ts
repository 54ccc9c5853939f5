// The safety invariants of DESIGN.md section 5, each its own property,
// checked with fast-check over generated worlds (test/helpers/plan-worlds.ts):
// pods in every phase, members started, unstarted, learners, missing or
// extra, crash loops fresh and stuck, etcd unreachable or without a leader,
// every size and version. test/plan-mutations.test.ts shows that each of
// them catches a planner that breaks it.
import t from 'tap'
import fc from 'fast-check'
import { plan, type StepName } from '../hooks/cluster/plan.js'
import { RULES } from '../hooks/cluster/rules/index.js'
import { NOW } from './helpers/fixtures.js'
import { validateKubeObject } from './helpers/kube-schema.js'
import { INVARIANTS, RUNS, propertyOf } from './helpers/plan-properties.js'
import { worldArb } from './helpers/plan-worlds.js'

t.comment(`fast-check seed ${RUNS.seed}, ${RUNS.numRuns} worlds a property (PROPERTY_SEED and PROPERTY_RUNS change them)`)

for (const invariant of INVARIANTS) {
  t.test(invariant.name, async t => {
    fc.assert(propertyOf(invariant), RUNS)
    t.pass(`${RUNS.numRuns} generated worlds`)
  })
}

t.test('every child of generated worlds is a valid Kubernetes object', async t => {
  const samples = fc.sample(worldArb, { numRuns: 60, seed: RUNS.seed })
  let checked = 0
  for (const world of samples) {
    const { response } = plan(world.request, world.observation, NOW)
    for (const child of response.children) {
      await validateKubeObject(child)
      checked++
    }
  }
  t.ok(checked > 60, `${checked} children validated`)
})

t.test('the generated worlds reach every row of the decision table', async t => {
  // A fixed seed: whether a row is reached must not depend on the run.
  const reached = new Set<string>(fc.sample(worldArb, { numRuns: 6000, seed: 1 }).map(w => plan(w.request, w.observation, NOW).rule))
  // Every rule of the table (a rule's step is named as the rule), the steps
  // rules take besides, and the steady state.
  const more: StepName[] = ['transferLeadershipBeforeRemoval', 'transferLeadershipBeforeUpgrade', 'upgradeBlocked', 'transferLeadershipFromForeign', 'steady', 'transferLeadershipBeforeDefrag', 'waitForDefrag']
  for (const row of [...RULES.map(rule => rule.name), ...more]) t.ok(reached.has(row), `reached ${row}`)
})
