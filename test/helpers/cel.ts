// A deliberately tiny CEL interpreter: exactly the subset the CRD's
// `x-kubernetes-validations` rules use (scripts/crd.ts), so tests can run
// those rules against example and bad EtcdClusters without an API server.
// No CEL evaluator ships in node_modules, and none is worth a dependency
// for three rules.
//
// Covered: identifiers, field selection, string/int/bool literals,
// `! && || == != < <= > >=`, parentheses, the methods `size()`,
// `matches(re)`, `startsWith(s)`, `endsWith(s)`, `contains(s)`, and the
// macros `has(a.b)` and `all(x, p)` / `exists(x, p)` over lists and map keys. Anything
// else is a parse error: a new rule outside the subset makes the tests
// fail rather than pass unchecked.
//
// Differences from real CEL, none of which our rules reach: `&&`/`||`
// short-circuit left to right (CEL also absorbs errors from either side);
// `matches` uses JavaScript's RegExp instead of RE2 (same result for the
// plain character classes we use); `size()` counts code points, as CEL does.

type Value = string | number | boolean | Value[] | { [key: string]: Value } | null

type Node =
  | { kind: 'literal', value: Value }
  | { kind: 'ident', name: string }
  | { kind: 'select', target: Node, field: string }
  | { kind: 'call', target: Node, method: string, args: Node[] }
  | { kind: 'macro', target: Node, macro: 'all' | 'exists', variable: string, body: Node }
  | { kind: 'has', target: Node, field: string }
  | { kind: 'not', operand: Node }
  | { kind: 'binary', op: string, left: Node, right: Node }

interface Token { kind: 'ident' | 'string' | 'int' | 'op', text: string, value?: Value }

const OPERATORS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '(', ')', '.', ',']

function tokenize (source: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < source.length) {
    const c = source[i]!
    if (/\s/.test(c)) { i++; continue }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!
      tokens.push({ kind: 'ident', text: m[0] }); i += m[0].length; continue
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(source.slice(i))!
      tokens.push({ kind: 'int', text: m[0], value: Number(m[0]) }); i += m[0].length; continue
    }
    if (c === '\'' || c === '"') {
      let j = i + 1
      let value = ''
      while (j < source.length && source[j] !== c) {
        if (source[j] === '\\') {
          const e = source[j + 1]
          if (e === undefined || !'\\\'"n'.includes(e)) throw new Error(`unsupported escape in ${source}`)
          value += e === 'n' ? '\n' : e
          j += 2
        } else {
          value += source[j]; j++
        }
      }
      if (j >= source.length) throw new Error(`unterminated string in ${source}`)
      tokens.push({ kind: 'string', text: source.slice(i, j + 1), value }); i = j + 1; continue
    }
    const op = OPERATORS.find(o => source.startsWith(o, i))
    if (op === undefined) throw new Error(`unsupported character ${JSON.stringify(c)} in ${source}`)
    tokens.push({ kind: 'op', text: op }); i += op.length
  }
  return tokens
}

export function parse (source: string): Node {
  const tokens = tokenize(source)
  let pos = 0
  const peek = () => tokens[pos]
  const accept = (text: string) => { if (peek()?.kind === 'op' && peek()?.text === text) { pos++; return true } return false }
  const expect = (text: string) => { if (!accept(text)) throw new Error(`expected ${text} at token ${pos} of ${source}`) }

  const or = (): Node => {
    let left = and()
    while (accept('||')) left = { kind: 'binary', op: '||', left, right: and() }
    return left
  }
  const and = (): Node => {
    let left = relation()
    while (accept('&&')) left = { kind: 'binary', op: '&&', left, right: relation() }
    return left
  }
  const relation = (): Node => {
    const left = unary()
    for (const op of ['==', '!=', '<=', '>=', '<', '>']) {
      if (accept(op)) return { kind: 'binary', op, left, right: unary() }
    }
    return left
  }
  const unary = (): Node => accept('!') ? { kind: 'not', operand: unary() } : member()
  const member = (): Node => {
    let node = primary()
    while (accept('.')) {
      const name = peek()
      if (name?.kind !== 'ident') throw new Error(`expected a name after . in ${source}`)
      pos++
      if (!accept('(')) { node = { kind: 'select', target: node, field: name.text }; continue }
      if (name.text === 'all' || name.text === 'exists') {
        const variable = peek()
        if (variable?.kind !== 'ident') throw new Error(`${name.text}() needs a variable in ${source}`)
        pos++
        expect(',')
        const body = or()
        expect(')')
        node = { kind: 'macro', target: node, macro: name.text, variable: variable.text, body }
        continue
      }
      const args: Node[] = []
      if (!accept(')')) {
        do args.push(or()); while (accept(','))
        expect(')')
      }
      node = { kind: 'call', target: node, method: name.text, args }
    }
    return node
  }
  const primary = (): Node => {
    const token = peek()
    if (token === undefined) throw new Error(`unexpected end of ${source}`)
    pos++
    if (token.kind === 'string' || token.kind === 'int') return { kind: 'literal', value: token.value! }
    if (token.kind === 'ident') {
      if (token.text === 'true' || token.text === 'false') return { kind: 'literal', value: token.text === 'true' }
      if (token.text === 'has' && accept('(')) {
        // has(a.b): only a field selection is allowed inside.
        const inner = member()
        expect(')')
        if (inner.kind !== 'select') throw new Error(`has() wants a field selection in ${source}`)
        return { kind: 'has', target: inner.target, field: inner.field }
      }
      return { kind: 'ident', name: token.text }
    }
    if (token.text === '(') { const inner = or(); expect(')'); return inner }
    throw new Error(`unexpected ${token.text} in ${source}`)
  }

  const tree = or()
  if (pos !== tokens.length) throw new Error(`unexpected ${tokens[pos]?.text} in ${source}`)
  return tree
}

function isMap (v: Value): v is { [key: string]: Value } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function str (v: Value, what: string): string {
  if (typeof v !== 'string') throw new Error(`${what} wants a string, got ${JSON.stringify(v)}`)
  return v
}

function evaluate (node: Node, scope: Record<string, Value>): Value {
  switch (node.kind) {
    case 'literal': return node.value
    case 'ident':
      if (!(node.name in scope)) throw new Error(`undeclared reference to '${node.name}'`)
      return scope[node.name]!
    case 'select': {
      const target = evaluate(node.target, scope)
      if (!isMap(target) || !(node.field in target)) throw new Error(`no such key: ${node.field}`)
      return target[node.field]!
    }
    case 'has': {
      const target = evaluate(node.target, scope)
      if (!isMap(target)) throw new Error('has() wants a map or object')
      return node.field in target
    }
    case 'not': {
      const v = evaluate(node.operand, scope)
      if (typeof v !== 'boolean') throw new Error('! wants a bool')
      return !v
    }
    case 'binary': {
      if (node.op === '&&' || node.op === '||') {
        const left = evaluate(node.left, scope)
        if (typeof left !== 'boolean') throw new Error(`${node.op} wants bools`)
        if (node.op === '&&' ? !left : left) return left
        const right = evaluate(node.right, scope)
        if (typeof right !== 'boolean') throw new Error(`${node.op} wants bools`)
        return right
      }
      const left = evaluate(node.left, scope)
      const right = evaluate(node.right, scope)
      if (node.op === '==') return JSON.stringify(left) === JSON.stringify(right)
      if (node.op === '!=') return JSON.stringify(left) !== JSON.stringify(right)
      if (typeof left !== typeof right || (typeof left !== 'number' && typeof left !== 'string')) throw new Error(`${node.op} wants two numbers or two strings`)
      const l = left as number | string
      const r = right as number | string
      return node.op === '<' ? l < r : node.op === '<=' ? l <= r : node.op === '>' ? l > r : l >= r
    }
    case 'call': {
      const target = evaluate(node.target, scope)
      const args = node.args.map(a => evaluate(a, scope))
      const arg = (i: number) => str(args[i] ?? null, `${node.method}()`)
      switch (node.method) {
        case 'size':
          if (typeof target === 'string') return [...target].length
          if (Array.isArray(target)) return target.length
          if (isMap(target)) return Object.keys(target).length
          throw new Error('size() wants a string, list or map')
        case 'matches': return new RegExp(arg(0), 'u').test(str(target, 'matches()'))
        case 'startsWith': return str(target, 'startsWith()').startsWith(arg(0))
        case 'endsWith': return str(target, 'endsWith()').endsWith(arg(0))
        case 'contains': return str(target, 'contains()').includes(arg(0))
        default: throw new Error(`unsupported function ${node.method}()`)
      }
    }
    case 'macro': {
      const target = evaluate(node.target, scope)
      const elements: Value[] = Array.isArray(target) ? target : isMap(target) ? Object.keys(target) : []
      if (!Array.isArray(target) && !isMap(target)) throw new Error(`${node.macro}() wants a list or map`)
      const test = (element: Value) => {
        const v = evaluate(node.body, { ...scope, [node.variable]: element })
        if (typeof v !== 'boolean') throw new Error(`${node.macro}() wants a bool predicate`)
        return v
      }
      return node.macro === 'all' ? elements.every(test) : elements.some(test)
    }
  }
}

// Evaluates a rule with `self` bound to a value; true means the value passes.
export function celRule (rule: string, self: unknown): boolean {
  const result = evaluate(parse(rule), { self: self as Value })
  if (typeof result !== 'boolean') throw new Error(`rule ${rule} did not give a bool`)
  return result
}
