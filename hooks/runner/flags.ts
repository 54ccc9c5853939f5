// The command line, pure: `--name value`, `--name=value`, or a bare
// `--name` for a switch. Every setting is a flag (the Job's containers give
// an explicit command; no shell expands anything), so anything else is an
// error naming the offending word.
import { UsageError } from './errors.js'

export type FlagKind = 'value' | 'switch'
export type FlagSpec = Readonly<Record<string, FlagKind>>

export function parseFlags (command: string, args: readonly string[], spec: FlagSpec): Flags {
  const values = new Map<string, string | true>()
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? ''
    if (!arg.startsWith('--') || arg === '--') throw new UsageError(`unexpected argument '${arg}' (every setting of ${command} is a --flag)`)
    const equals = arg.indexOf('=')
    const name = arg.slice(2, equals === -1 ? undefined : equals)
    const kind = spec[name]
    if (kind === undefined) throw new UsageError(`unknown flag --${name} (known: ${Object.keys(spec).map(flag => `--${flag}`).join(' ')})`)
    if (values.has(name)) throw new UsageError(`--${name} given twice`)
    if (kind === 'switch') {
      if (equals !== -1) throw new UsageError(`--${name} is a switch and takes no value`)
      values.set(name, true)
      continue
    }
    const value = equals === -1 ? args[++index] : arg.slice(equals + 1)
    if (value === undefined || (equals === -1 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`)
    values.set(name, value)
  }
  return new Flags(values)
}

// Typed reads of the parsed flags; each complaint names its flag.
export class Flags {
  constructor (private readonly values: ReadonlyMap<string, string | true>) {}

  has (name: string): boolean {
    return this.values.has(name)
  }

  optional (name: string): string | undefined {
    const value = this.values.get(name)
    if (value === true) return undefined
    if (value === '') throw new UsageError(`--${name} must not be empty`)
    return value
  }

  required (name: string, why = ''): string {
    const value = this.optional(name)
    if (value === undefined) throw new UsageError(`--${name} is required${why}`)
    return value
  }

  switch (name: string): boolean {
    return this.values.get(name) === true
  }

  choice<T extends string> (name: string, allowed: readonly T[], fallback?: T): T {
    const value = fallback === undefined ? this.required(name) : this.optional(name) ?? fallback
    if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name}: expected ${allowed.join(' or ')}, got '${value}'`)
    return value as T
  }

  count (name: string, fallback: number): number {
    const value = this.optional(name)
    if (value === undefined) return fallback
    if (!/^\d{1,6}$/.test(value)) throw new UsageError(`--${name}: expected a whole number (0 or more), got '${value}'`)
    return Number(value)
  }

  // Flags that make no sense together with `reason`.
  forbid (names: readonly string[], reason: string): void {
    const given = names.filter(name => this.has(name))
    if (given.length > 0) throw new UsageError(`${given.map(name => `--${name}`).join(', ')}: not allowed ${reason}`)
  }
}
