// Watching the clusters: the chart's PodMonitor, PrometheusRule and Grafana
// dashboard, through a real helm. Objects are checked against
// prometheus-operator's published schemas; every expression is parsed by
// Prometheus's own PromQL grammar (@prometheus-io/lezer-promql); every etcd
// metric they name is one a real etcd 3.4 serves, and every hook metric one
// the hook registers.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { parser } from '@prometheus-io/lezer-promql'
import t, { type Test } from 'tap'
import { parseAllDocuments } from 'yaml'
import { HookMetrics } from '../hooks/server/metrics.js'
import { ToolMissing, helmPath, requireAll, runHelm } from './helpers/helm.js'
import { loopbackNamespace, waitFor } from './helpers/loopback-cluster.js'
import { validateObject } from './helpers/objects.js'
import { ETCD, missingForNamespaces, skipUnless } from './helpers/requirements.js'

const CHART = 'charts/etcd-operator'
type Obj = Record<string, any>

async function render (...extra: string[]): Promise<Obj[]> {
  const { stdout } = await runHelm(['template', 'etcd-operator', CHART, '--namespace', 'etcd-operator', ...extra])
  return parseAllDocuments(stdout).map(doc => doc.toJS() as Obj | null).filter((doc): doc is Obj => doc !== null)
}

// Where the grammar refused the expression, or undefined; and the metric
// names its selectors read.
function parsePromQL (expr: string): { error: string | undefined, metrics: string[] } {
  const cursor = parser.parse(expr).cursor()
  const metrics: string[] = []
  let error: string | undefined
  do {
    if (cursor.type.isError) error ??= `syntax error at ${cursor.from}: '${expr.slice(Math.max(0, cursor.from - 10), cursor.from + 10)}'`
    if (cursor.name === 'VectorSelector') {
      const selector = cursor.node.getChild('Identifier')
      if (selector !== null) metrics.push(expr.slice(selector.from, selector.to))
    }
  } while (cursor.next())
  return { error, metrics }
}

// A real etcd 3.4's metric names. Its initial cluster names a second member
// that never starts, so the per-peer counters exist too (sends to it fail).
async function etcdMetricNames (t: Test): Promise<Set<string>> {
  const ips = ['127.0.0.11', '127.0.0.12']
  const { ns, work, processes, inNs } = await loopbackNamespace(t, 'eomon', ips.map((ip, i) => `${ip} m${i}`))
  processes.push(spawn('ip', ['netns', 'exec', ns, ETCD, '--name=m0', `--data-dir=${join(work, 'm0')}`,
    '--listen-client-urls=http://127.0.0.11:2379', '--advertise-client-urls=http://m0:2379',
    '--listen-peer-urls=http://127.0.0.11:2380', '--initial-advertise-peer-urls=http://m0:2380',
    '--initial-cluster=m0=http://m0:2380,m1=http://m1:2380', '--listen-metrics-urls=http://127.0.0.11:2381'], { stdio: 'ignore' }))
  let text = ''
  await waitFor('etcd to count failed sends to its missing peer', 30_000, async () => {
    text = (await inNs('curl', ['-sf', 'http://127.0.0.11:2381/metrics'])).stdout
    if (!text.includes('etcd_network_peer_sent_failures_total{')) throw new Error('no peer send failure yet')
  })
  return new Set(text.split('\n').filter(l => l !== '' && !l.startsWith('#')).map(l => l.split(/[{ ]/)[0] ?? ''))
}

// The hook's own metric names, with a histogram's series names.
async function hookMetricNames (): Promise<Set<string>> {
  const names = new Set<string>()
  for (const metric of await new HookMetrics().registry.getMetricsAsJSON()) {
    names.add(metric.name)
    if (metric.type.toString() === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix)
  }
  return names
}

let helmMissing: string | undefined
try {
  await helmPath()
} catch (error) {
  if (!(error instanceof ToolMissing)) throw error
  helmMissing = error.message
}

if (helmMissing !== undefined) {
  if (requireAll()) t.fail(`helm is required (ETCD_OPERATOR_REQUIRE_ALL=1): ${helmMissing}`)
  else t.pass('skipped: helm not found', { skip: helmMissing })
} else {
  t.test('off by default: no PodMonitor, PrometheusRule or dashboard', async t => {
    const kinds = (await render()).map(o => `${o.kind}/${o.metadata.name}`)
    t.notOk(kinds.some(k => /^(PodMonitor|PrometheusRule)\//.test(k) || k.endsWith('-dashboard')), kinds.join(', '))
  })

  t.test('enabled, every object is valid against its published schema and lands where asked', async t => {
    const objects = await render('--values', `${CHART}/ci/monitoring-values.yaml`, '--set', 'monitoring.grafanaDashboard.namespace=monitoring')
    const monitoring = objects.filter(o => ['PodMonitor', 'PrometheusRule', 'ServiceMonitor'].includes(o.kind) || o.metadata.name.endsWith('-dashboard'))
    t.same(monitoring.map(o => o.kind).sort(), ['ConfigMap', 'PodMonitor', 'PrometheusRule', 'ServiceMonitor'])
    for (const object of monitoring) await t.resolves(validateObject(object), `${object.kind} is valid`)
    const podMonitor = monitoring.find(o => o.kind === 'PodMonitor')!
    // What the member pods really carry (hooks/cluster/render/labels.ts and pod.ts).
    t.same(podMonitor.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'etcd', 'app.kubernetes.io/managed-by': 'etcd-operator' })
    t.same(podMonitor.spec.namespaceSelector, { any: true }, 'every namespace by default')
    t.match(podMonitor.spec.podMetricsEndpoints, [{ port: 'metrics', scheme: 'http' }])
    t.equal(monitoring.find(o => o.kind === 'ConfigMap')!.metadata.namespace, 'monitoring')
    const scoped = (await render('--set', 'monitoring.podMonitor.enabled=true', '--set', 'monitoring.podMonitor.namespaces={prod,staging}')).find(o => o.kind === 'PodMonitor')!
    t.same(scoped.spec.namespaceSelector, { matchNames: ['prod', 'staging'] })
    const bad = await runHelm(['template', 'x', CHART, '--set', 'monitoring.prometheusRule.quotaUsePercent=120']).then(() => 'rendered', (e: unknown) => String(e))
    t.match(bad, /quotaUsePercent/, 'a threshold out of range is refused by the values schema')
  })

  t.test('every alert and panel expression parses as PromQL and reads metrics that exist', { ...skipUnless(missingForNamespaces()) }, async t => {
    const objects = await render('--values', `${CHART}/ci/monitoring-values.yaml`)
    const rules = objects.find(o => o.kind === 'PrometheusRule')!.spec.groups.flatMap((g: Obj) => g.rules as Obj[])
    const dashboard = JSON.parse(objects.find(o => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'))!.data['etcd-clusters.json'])
    const expressions: Array<[string, string]> = [
      ...rules.map((r: Obj): [string, string] => [`alert ${r.alert}`, String(r.expr)]),
      ...dashboard.panels.flatMap((p: Obj) => (p.targets as Obj[]).map((target): [string, string] => [`panel ${p.title}`, String(target.expr)])),
      ...dashboard.templating.list.filter((v: Obj) => v.type === 'query').map((v: Obj): [string, string] => [`variable ${v.name}`, String(v.query.query).replace(/^label_values\((.*), \w+\)$/, '$1')]),
    ]
    const alerts = rules.map((r: Obj) => r.alert as string)
    for (const wanted of ['EtcdNoLeader', 'EtcdMembersDown', 'EtcdHighNumberOfLeaderChanges', 'EtcdHighFsyncDurations', 'EtcdHighCommitDurations', 'EtcdDatabaseQuotaHighUse', 'EtcdDatabaseSpaceExceeded', 'EtcdNoSpaceAlarm', 'EtcdBackupOverdue']) {
      t.ok(alerts.includes(wanted), `alert ${wanted}`)
    }
    const etcd = await etcdMetricNames(t)
    const hook = await hookMetricNames()
    for (const [where, expr] of expressions) {
      const { error, metrics } = parsePromQL(expr)
      t.equal(error, undefined, `${where} parses: ${expr}`)
      t.ok(metrics.length > 0, `${where} reads a metric`)
      for (const metric of metrics) {
        const known = metric.startsWith('etcd_operator_') ? hook.has(metric) : metric === 'up' || etcd.has(metric)
        t.ok(known, `${where}: ${metric} is a metric ${metric.startsWith('etcd_operator_') ? 'the hook registers' : 'etcd 3.4 serves'}`)
      }
    }
    // The parser is the check: a broken expression is caught.
    t.match(parsePromQL('sum by (pod (rate(x[5m]))').error, /syntax error/)
    t.same(parsePromQL('rate(etcd_a{job="etcd"}[5m]) / etcd_b').metrics, ['etcd_a', 'etcd_b'])
  })
}
