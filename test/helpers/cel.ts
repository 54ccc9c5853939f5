// The CRD's `x-kubernetes-validations` rules (hooks/api/crd.ts), run by a
// real CEL implementation (@marcbachmann/cel-js) so tests can hold example
// and bad EtcdClusters against them without an API server.
//
// As in Kubernetes, a rule sees the value it validates as `self` and nothing
// else, and is compiled in two steps before it runs: parsing and type
// checking. `parse` does both and throws on either, so a rule with a syntax
// error, an unknown variable, or a function the library does not have (such
// as a Kubernetes-only extension like `isURL` or `quantity`) makes the tests
// fail. It does not pass unchecked. The CRD's rules need no extension: they
// only use standard CEL (`size`, `matches`, `startsWith`, `has`, `all`).
//
// Where this differs from the API server: `self` is declared `dyn`, where the
// API server derives its type from the schema. So a misspelt field is not
// caught when the rule is compiled: `has()` of it is false, and selecting it
// fails only when the rule runs on a value without it. `matches` uses
// JavaScript's RegExp, not RE2, which gives the same answers for the plain
// ASCII classes the CRD uses. JSON has one kind of number, so integral
// numbers become CEL ints, as the schema's `integer` fields are.
import { Environment, type ParseResult } from '@marcbachmann/cel-js'

// `oldSelf` is bound in transition rules only (an update: the value before).
const env = new Environment().registerVariable('self', 'dyn').registerVariable('oldSelf', 'dyn')

// What the JSON value is in CEL: integral numbers are ints (bigint), every
// other value is as it is.
function toCel (value: unknown): unknown {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value)
  if (Array.isArray(value)) return value.map(toCel)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]))
  }
  return value
}

const compiled = new Map<string, ParseResult>()

// Parses and type-checks a rule, as the API server does when the CRD is
// created: it throws the library's ParseError or TypeError, or an error when
// the rule cannot give a bool.
export function parse (rule: string): ParseResult {
  const known = compiled.get(rule)
  if (known !== undefined) return known
  const program = env.parse(rule)
  const checked = program.check()
  if (!checked.valid) throw checked.error ?? new Error(`rule ${rule} does not type-check`)
  if (checked.type !== 'bool' && checked.type !== 'dyn') throw new Error(`rule ${rule} gives ${checked.type}, not bool`)
  compiled.set(rule, program)
  return program
}

// A rule that reads oldSelf runs on updates only, where both values exist
// (the API server skips it on create).
export function isTransitionRule (rule: string): boolean {
  return /\boldSelf\b/.test(rule)
}

// Evaluates a rule with `self` bound to a value (and `oldSelf` to the one
// before, for a transition rule). True means the value passes.
// The library's EvaluationError propagates when the rule cannot be evaluated.
export function celRule (rule: string, self: unknown, oldSelf?: unknown): boolean {
  const result: unknown = parse(rule)({ self: toCel(self), ...(oldSelf !== undefined ? { oldSelf: toCel(oldSelf) } : {}) })
  if (typeof result !== 'boolean') throw new Error(`rule ${rule} did not give a bool`)
  return result
}
