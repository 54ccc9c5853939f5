// The image, checked by reading (no Docker daemon in the test run): the
// runtime stage holds production dependencies only, and those are enough to
// run dist/server/main.js; it runs as uid 65532 and starts the server directly.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import t from 'tap'
import { ROOT } from './helpers/helm.js'

const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8')
const lines = dockerfile.split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
const stages = lines.reduce<string[][]>((all, line) => {
  if (/^FROM\s/i.test(line)) all.push([])
  all.at(-1)?.push(line)
  return all
}, [])
const runtime = stages.at(-1) ?? []

t.test('the runtime stage', async t => {
  t.ok(stages.length >= 2, 'multi-stage')
  t.ok(runtime.includes('USER 65532:65532'), 'runs as uid and gid 65532')
  t.ok(runtime.includes('EXPOSE 8080'))
  t.ok(runtime.some(l => l.includes('NODE_ENV=production')), 'NODE_ENV=production')
  // npm run bench measures memory with these two (bench/run.ts reads them here).
  t.ok(runtime.some(l => /NODE_OPTIONS=--max-semi-space-size=\d+/.test(l)), 'a smaller young generation')
  t.ok(runtime.some(l => /MALLOC_ARENA_MAX=\d+/.test(l)), 'few malloc arenas')
  t.ok(runtime.includes('CMD ["node", "dist/server/main.js"]'), 'starts the server itself, not through npm (prestart would compile)')
  const copies = runtime.filter(l => /^COPY\s/.test(l))
  t.same(copies.map(l => l.split(/\s+/).at(-1)), ['./node_modules', './dist', '/usr/local/bin/etcdutl', './'], 'only node_modules, dist, etcdutl and package.json')
  t.ok(copies.includes('COPY --from=etcd /usr/local/bin/etcdutl /usr/local/bin/etcdutl'), 'etcdutl from the etcd image, for the backup runner')
  t.ok(stages.some(s => s[0] === 'FROM ${ETCD_IMAGE} AS etcd'), 'an etcd stage')
  t.match(dockerfile, /ARG NODE_IMAGE=node:24-/, 'Node 24 (LTS) at run time')
  t.ok(copies.some(l => l === 'COPY package.json ./'), 'package.json (type: module) and nothing else from the context')
  t.ok(stages.some(s => s.some(l => l.includes('npm ci --omit=dev'))), 'node_modules come from npm ci --omit=dev')
  t.ok(stages.some(s => s.some(l => l === 'RUN npm run build')), 'dist comes from npm run build')
})

t.test('.dockerignore keeps local builds and modules out of the context', async t => {
  const ignored = readFileSync(`${ROOT}.dockerignore`, 'utf8').split('\n').map(l => l.trim())
  for (const entry of ['node_modules', 'dist', 'test', '.git']) t.ok(ignored.includes(entry), entry)
})

t.test('production dependencies are enough for dist/', async t => {
  const dist = `${ROOT}dist/`
  if (!existsSync(`${dist}server/main.js`)) {
    t.fail('dist/server/main.js is missing: run npm run build (npm test does)')
    return
  }
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { dependencies: Record<string, string> }
  const builtins = new Set(builtinModules)
  const imported = new Set<string>()
  for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.js'))) {
    const text = readFileSync(`${dist}${file}`, 'utf8')
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"./][^'"]*)['"]/g)) {
      const specifier = m[1]!
      if (specifier.startsWith('node:') || builtins.has(specifier)) continue
      const parts = specifier.split('/')
      imported.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!)
    }
  }
  t.ok(imported.has('fastify'), 'the scan finds imports')
  for (const name of imported) t.ok(pkg.dependencies[name], `${name} is a production dependency`)
})
