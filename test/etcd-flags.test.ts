// Issue 16, items 1-3: every command line our pods and Jobs give etcd,
// etcdctl and etcdutl is one that version takes (hooks/etcd/flags.ts, read
// from etcd's flag definitions), for each etcd we support, and stays valid
// across every in-place upgrade the planner allows (a member keeps its
// arguments; only its image moves). No etcd 3.5-3.7 binary runs here
// (Debian has 3.4.23 only; the e2e harness runs that one with these
// arguments): the later minors are checked through their flag tables.
import { readFileSync } from 'node:fs'
import t from 'tap'
import type { ClusterSpec } from '../hooks/api/cluster.js'
import type { KubeObject } from '../hooks/api/kube.js'
import { problemsOf } from '../hooks/api/validate.js'
import { plan } from '../hooks/cluster/plan.js'
import {
  ETCDCTL, ETCDUTL, ETCD_SERVER_FLAGS, chooseFlag, envOfFlag, envProblems, runnableServerArgs, serverArgProblems,
  serverArgProblemsAhead, toolArgProblems, versionsAhead,
} from '../hooks/etcd/flags.js'
import { compareVersions, hasReadyzLivez, upgradeRefusal } from '../hooks/etcd/versions.js'
import { templateBackupPodSpec } from '../hooks/snapshot/pod.js'
import { NOW, members, memberId, reachable, syncRequest, unreachable } from './helpers/fixtures.js'
import { child, childrenOfKind, etcdContainer } from './helpers/inspect.js'
import { validateKubeObject } from './helpers/kube-schema.js'

// The oldest and newest patch of each minor we support (3.4.23 is what
// Debian ships and the e2e harness runs).
const VERSIONS = ['3.4.23', '3.4.45', '3.5.0', '3.5.33', '3.6.0', '3.6.14', '3.7.1']
const TLS = { static: { member: { peerSecret: 'peer', serverSecret: 'server' }, operatorSecret: 'operator' } }
// Settings every minor knows under the same name, none of them rendered.
const ETCD_ENV = [
  { name: 'ETCD_HEARTBEAT_INTERVAL', value: '200' },
  { name: 'ETCD_ELECTION_TIMEOUT', value: '2000' },
  { name: 'ETCD_LOG_LEVEL', value: 'warn' },
]
const VARIANTS: Record<string, Partial<ClusterSpec>> = {
  plain: {},
  tls: { TLS },
  pvc: { pod: { persistentVolumeClaimSpec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '8Gi' } } } } },
  etcdEnv: { pod: { etcdEnv: ETCD_ENV } },
  all: { TLS, pod: { etcdEnv: ETCD_ENV, persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } },
  // Issue 15: the quota and compaction flags.
  maintenance: { quotaBackendBytes: '16Mi', autoCompaction: { mode: 'periodic', retention: '1h' } },
  revisionCompaction: { quotaBackendBytes: 8589934592, autoCompaction: { mode: 'revision', retention: '1000' }, TLS },
}

interface EtcdContainerShape { args: string[], env?: Array<{ name: string }>, readinessProbe?: Probe, livenessProbe?: Probe, startupProbe?: Probe }
interface Probe { httpGet?: { path: string }, tcpSocket?: unknown }
const container = (pod: KubeObject) => etcdContainer(pod) as unknown as EtcdContainerShape
const answering = (...ordinals: number[]) => ({ ...reachable(members(...ordinals), 0), answering: ordinals.map(memberId) })

// The member pods the planner renders for this spec: the seed, and a
// member joining a running cluster (--initial-cluster-state existing).
function memberPods (spec: Partial<ClusterSpec>): KubeObject[] {
  const seed = plan(syncRequest({ spec }), unreachable, NOW)
  const join = plan(syncRequest({ spec: { ...spec, size: 4 }, pods: [0, 1, 2].map(ordinal => ({ ordinal })) }), answering(0, 1, 2), NOW)
  const joiner = child(join.response, 'Pod', 'example-3')
  if (!container(joiner).args.includes('--initial-cluster-state=existing')) throw new Error('the joining member is not rendered to join')
  return [...childrenOfKind(seed.response, 'Pod'), joiner]
}

t.test('item 1: the table has every minor we support, and what etcd\'s sources say of the flags that changed', async t => {
  t.same(Object.keys(ETCD_SERVER_FLAGS), ['3.4', '3.5', '3.6', '3.7'])
  const says = (version: string, flag: string) => serverArgProblems(version, [`--${flag}=x`])
  t.same(says('3.4.23', 'enable-v2'), [], '--enable-v2 is fine in 3.4')
  t.match(says('3.5.33', 'enable-v2'), [/etcd 3\.5\.33 deprecates --enable-v2/])
  t.match(says('3.6.0', 'enable-v2'), [/etcd 3\.6\.0 does not know --enable-v2/], 'gone in 3.6')
  t.match(says('3.6.14', 'proxy'), [/does not know --proxy/])
  t.match(says('3.5.0', 'feature-gates'), [/does not know --feature-gates/], '--feature-gates from 3.6 on')
  t.same(says('3.6.0', 'feature-gates'), [])
  t.match(says('3.6.14', 'experimental-initial-corrupt-check'), [/deprecates --experimental-initial-corrupt-check/])
  t.match(says('3.7.1', 'experimental-initial-corrupt-check'), [/does not know/], 'every --experimental-* flag is gone in 3.7')
  t.ok(Object.keys(ETCD_SERVER_FLAGS[3.7]?.since ?? {}).length === 0 && ![...ETCD_SERVER_FLAGS[3.7]?.flags ?? []].some(f => f.startsWith('experimental-')), 'no --experimental-* flag in 3.7')
  t.match(says('3.7.1', 'discovery'), [/does not know --discovery/], '3.7 dropped v2 discovery (its help.go still lists it)')
  t.match(says('3.5.4', 'max-concurrent-streams'), [/does not know --max-concurrent-streams \(3\.5\.5 and later do\)/], 'a flag a later patch added')
  t.same(says('3.5.5', 'max-concurrent-streams'), [])
  t.match(says('3.6.3', 'snapshot-count'), [/deprecates --snapshot-count/], 'deprecated in 3.6.0-3.6.7 (kept as deprecated for all of 3.6)')
  t.match(says('3.8.0', 'name'), [/etcd 3\.8\.0 is not in the flag table/])
  t.match(serverArgProblems('3.5.33', ['name=x']), [/takes flags only, not 'name=x'/])
  t.match(serverArgProblems('latest', ['--name=x']), [/etcd latest is not in the flag table/])
})

t.test('items 1-2: member pods for every version and variant take only flags their etcd knows and does not deprecate', async t => {
  for (const version of VERSIONS) {
    for (const [variant, spec] of Object.entries(VARIANTS)) {
      for (const pod of memberPods({ version, ...spec })) {
        const { args, env = [] } = container(pod)
        const what = `${version} ${variant} ${pod.metadata.name}`
        t.same(serverArgProblems(version, args), [], `${what}: every flag known, none deprecated`)
        t.same(envProblems(version, env.map(e => e.name), args), [], `${what}: no ETCD_* variable repeats a flag`)
        await validateKubeObject(pod)
      }
    }
  }
})

t.test('item 2: the checks bite: the rendered arguments plus a flag the version dropped, or an env var repeating one', async t => {
  const [pod] = memberPods({ version: '3.6.14', TLS })
  const args = container(pod!).args
  t.match(serverArgProblems('3.6.14', [...args, '--enable-v2=true']), [/etcd 3\.6\.14 does not know --enable-v2/], '--enable-v2 is caught for 3.6')
  t.match(serverArgProblems('3.5.33', [...args, '--enable-v2=true']), [/etcd 3\.5\.33 deprecates --enable-v2/], 'and as deprecated for 3.5')
  t.match(serverArgProblems('3.6.14', [...args, '--experimental-compact-hash-check-enabled']), [/deprecates/])
  t.match(envProblems('3.6.14', ['ETCD_NAME', 'ETCD_LOG_LEVEL'], args), [/^ETCD_NAME repeats the argument --name=example-0: etcd refuses to start/])
  t.match(envProblems('3.5.33', ['ETCD_ENABLE_V2'], args), [/ETCD_ENABLE_V2: etcd 3\.5\.33 deprecates --enable-v2/], 'a deprecated setting through the environment is named too')
  t.same(envProblems('3.5.33', ['GOMAXPROCS', 'ETCD_UNHEARD_OF'], [...args, 'stray']), [], 'others only make etcd warn')
  t.same(envProblems('3.8.0', ['ETCD_ENABLE_V2'], []), [], 'a minor the table lacks says nothing here (spec.version refuses it)')
  t.throws(() => runnableServerArgs('3.5.33', [...args, '--enable-v2=true']), /would not run: etcd 3\.5\.33 deprecates --enable-v2.*; etcd 3\.6\.0 does not know --enable-v2/, 'the renderer refuses it, naming each version')
})

t.test('item 2: every flag a member pod renders is refused in spec.pod.etcdEnv (etcd would exit on the pair)', async t => {
  const rendered = new Set(VERSIONS.flatMap(version => Object.values(VARIANTS).flatMap(spec => memberPods({ version, ...spec }).flatMap(pod => container(pod).args))))
  const names = new Set([...rendered].map(arg => /^--([^=]+)/.exec(arg)?.[1] ?? arg))
  t.ok(names.size >= 21, `${names.size} flags`)
  for (const flag of ['quota-backend-bytes', 'auto-compaction-mode', 'auto-compaction-retention']) t.ok(names.has(flag), `--${flag} is rendered`)
  for (const flag of names) {
    const parent = syncRequest({ spec: { ...VARIANTS.maintenance, pod: { etcdEnv: [{ name: envOfFlag(flag), value: 'x' }] } } }).parent
    t.not(problemsOf(parent).length, 0, `${envOfFlag(flag)} is refused`)
  }
})

t.test('item 3: a pod\'s arguments suit every version it may be upgraded to in place', async t => {
  t.same(versionsAhead('3.5.33'), ['3.5.33', '3.6.0', '3.7.0'], 'its own, then each later minor from its first patch')
  t.same(versionsAhead('3.7.1'), ['3.7.1'])
  t.same(versionsAhead('latest'), ['3.4.0', '3.5.0', '3.6.0', '3.7.0'], 'no version: every minor')
  // Every pair the upgrade rules allow, and the chain 3.5 -> 3.6 -> 3.7
  // (versionsAhead): what the pod rendered for `from` runs on `to`.
  let pairs = 0
  for (const from of VERSIONS) {
    for (const to of VERSIONS) {
      if (compareVersions(to, from) <= 0 || upgradeRefusal(from, to) !== undefined) continue
      pairs++
      for (const [variant, spec] of Object.entries(VARIANTS)) {
        for (const pod of memberPods({ version: from, ...spec })) {
          const { args, readinessProbe, livenessProbe, startupProbe } = container(pod)
          t.same(serverArgProblems(to, args), [], `${from} -> ${to} ${variant}: arguments`)
          t.same(serverArgProblemsAhead(from, args), [], `${from} ${variant}: arguments for every minor ahead`)
          // A probe path the pod keeps must exist in the new version.
          for (const probe of [readinessProbe, livenessProbe, startupProbe]) {
            const path = probe?.httpGet?.path
            if (path !== undefined && path !== '/health') t.ok(hasReadyzLivez(to), `${from} -> ${to}: ${path} is served`)
          }
        }
      }
    }
  }
  // 3.4.23 -> 3.4.45, 3.5.0, 3.5.33; 3.4.45 -> 3.5.33 (not 3.5.0: no
  // /readyz); 3.5.0 -> 3.5.33; 3.5.33 -> 3.6.0, 3.6.14; 3.6.0 -> 3.6.14;
  // 3.6.14 -> 3.7.1.
  t.equal(pairs, 9, `${pairs} allowed upgrade pairs`)
  for (const [from, to] of [['3.5.33', '3.6.0'], ['3.5.33', '3.6.14'], ['3.6.14', '3.7.1'], ['3.4.45', '3.5.33']] as const) {
    t.equal(upgradeRefusal(from, to), undefined, `${from} -> ${to} is one of them`)
  }
  // A setting whose flag changes name between minors: the renderer takes
  // the name every version ahead knows, or leaves it out.
  t.equal(chooseFlag('3.5.33', 'experimental-compaction-batch-limit', 'compaction-batch-limit'), undefined, '3.5 only knows the experimental name, which 3.7 dropped')
  t.equal(chooseFlag('3.6.14', 'compaction-batch-limit', 'experimental-compaction-batch-limit'), 'compaction-batch-limit')
  t.equal(chooseFlag('3.4.45', 'experimental-initial-corrupt-check', 'quota-backend-bytes'), 'quota-backend-bytes')
})

t.test('item 3: a rolling upgrade 3.5.33 -> 3.6.14 -> 3.7.1 keeps each member\'s arguments, valid on its new version', async t => {
  for (const [from, to] of [['3.5.33', '3.6.14'], ['3.6.14', '3.7.1']] as const) {
    // Pods the hook rendered while the cluster ran `from`; then the spec moves.
    const running = syncRequest({ spec: { version: from, TLS }, pods: [0, 1, 2].map(ordinal => ({ ordinal })) })
    const request = syncRequest({ spec: { version: to, TLS } })
    request.children = running.children
    const after = plan(request, answering(0, 1, 2), NOW)
    t.equal(after.rule, 'upgradeMember', `${from} -> ${to}`)
    const moved = childrenOfKind(after.response, 'Pod').find(p => etcdContainer(p).image.endsWith(`:v${to}`))
    if (moved === undefined) throw new Error('no pod moved')
    const before = Object.values(running.children?.['Pod.v1'] ?? {}).find(p => p.metadata.name === moved.metadata.name)
    t.same(container(moved).args, container(before!).args, 'the same arguments')
    t.same(serverArgProblems(to, container(moved).args), [], `valid for ${to}`)
  }
})

t.test('item 5: the backup Job runs etcdctl snapshot save of the cluster\'s version and the operator image\'s etcdutl snapshot status', async t => {
  const etcdutl = /^ARG ETCD_IMAGE=quay\.io\/coreos\/etcd:v(\S+)$/m.exec(readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8'))?.[1] ?? ''
  t.equal(etcdutl, '3.6.14', 'the operator image takes etcdutl from the default version')
  // What hooks/runner/snapshot.ts runs.
  t.same(toolArgProblems(ETCDUTL, 'etcdutl', etcdutl, ['snapshot', 'status', '--write-out=json', '/snapshot/etcd.db']), [])
  for (const version of VERSIONS) {
    for (const clientTLSSecret of [undefined, 'operator']) {
      const spec = templateBackupPodSpec({
        cluster: 'example', endpoint: 'https://example-client:2379', etcdImage: `quay.io/coreos/etcd:v${version}`, runnerImage: 'hook:1',
        clientTLSSecret, timeoutSeconds: 900, store: { s3: { path: 'b/p', awsSecret: 'aws' } }, maxBackups: 0,
      }) as { initContainers: Array<{ command: string[], args: string[] }> }
      const snapshot = spec.initContainers[0]
      t.same(snapshot?.command, ['/usr/local/bin/etcdctl'])
      t.same(toolArgProblems(ETCDCTL, 'etcdctl', version, snapshot?.args ?? []), [], `etcdctl ${version}${clientTLSSecret !== undefined ? ' with TLS' : ''}: ${snapshot?.args.join(' ') ?? ''}`)
    }
  }
  // The cluster's own CronJob renders the same pod.
  const steady = plan(syncRequest({ spec: { version: '3.7.1', backup: { schedule: '@hourly', s3: { path: 'b/p', awsSecret: 'aws' } } }, pods: [0, 1, 2].map(ordinal => ({ ordinal })) }), answering(0, 1, 2), NOW)
  const cron = child(steady.response, 'CronJob', 'example-backup').spec as { jobTemplate: { spec: { template: { spec: { initContainers: Array<{ args: string[] }> } } } } }
  t.same(toolArgProblems(ETCDCTL, 'etcdctl', '3.7.1', cron.jobTemplate.spec.template.spec.initContainers[0]?.args ?? []), [])
  // Bites: what 3.6 removed from etcdctl, and what 3.5 moved to etcdutl.
  t.match(toolArgProblems(ETCDCTL, 'etcdctl', '3.6.14', ['snapshot', 'status', 'f.db']), [/etcdctl 3\.6\.14 has no subcommand 'snapshot status' \(it has: snapshot save\)/])
  t.match(toolArgProblems(ETCDCTL, 'etcdctl', '3.7.1', ['snapshot', 'restore', 'f.db', '--data-dir=/d']), [/has no subcommand 'snapshot restore'/])
  t.match(toolArgProblems(ETCDCTL, 'etcdctl', '3.5.33', ['snapshot', 'restore', 'f.db']), [/etcdctl 3\.5\.33 deprecates 'snapshot restore'/])
  t.same(toolArgProblems(ETCDCTL, 'etcdctl', '3.4.23', ['snapshot', 'restore', 'f.db', '--data-dir=/d']), [], 'etcdctl restores in 3.4')
  t.match(toolArgProblems(ETCDCTL, 'etcdctl', '3.4.23', ['snapshot', 'restore', 'f.db', '--bump-revision=1']), [/etcdctl 3\.4\.23 does not know --bump-revision \(3\.4\.27 and later do\)/])
  t.match(toolArgProblems(ETCDUTL, 'etcdutl', '3.5.33', ['snapshot', 'save', 'f.db']), [/deprecates 'snapshot save'/])
  t.same(toolArgProblems(ETCDUTL, 'etcdutl', '3.7.1', ['snapshot', 'restore', 'f.db', '--data-dir=/d', '--bump-revision=1000', '--mark-compacted']), [])
  t.match(toolArgProblems(ETCDUTL, 'etcdutl', '3.4.23', ['snapshot', 'status', 'f.db']), [/etcdutl 3\.4\.23 is not in the flag table/], 'no etcdutl before 3.5')
  t.match(toolArgProblems(ETCDCTL, 'etcdctl', '3.6.0', ['--endpoints=x', '--max-recv-bytes=1', '--auth-jwt-token=t', 'snapshot', 'save', 'f']), [/etcdctl 3\.6\.0 does not know --auth-jwt-token/], 'global flags per version')
  t.match(toolArgProblems(ETCDCTL, 'etcdctl', '3.6.0', ['--Bad', 'snapshot', 'save', 'f']), [/etcdctl 3\.6\.0 does not know --Bad/])
})

t.test('item 5: the restoring seed runs etcd\'s restore of the cluster\'s version, with --bump-revision where it has it, and the operator image\'s etcdutl snapshot status', async t => {
  // The floor of --bump-revision/--mark-compacted: etcdctl 3.4.27, etcdutl
  // and etcdctl 3.5.10 (etcd's CHANGELOG-3.5, v3.5.10: etcd-io/etcd#16165),
  // every 3.6 and 3.7.
  const floors: Array<[string, boolean]> = [['3.4.26', false], ['3.4.27', true], ['3.5.9', false], ['3.5.10', true], ['3.6.0', true], ['3.7.0', true]]
  for (const [version, bumps] of floors) {
    const tool = version.startsWith('3.4.') ? ETCDCTL : ETCDUTL
    t.equal(toolArgProblems(tool, 'etcd', version, ['snapshot', 'restore', 'f.db', '--bump-revision=1', '--mark-compacted']).length === 0, bumps, `${version}: ${bumps ? 'bumps' : 'cannot bump'} revisions`)
  }
  for (const version of [...VERSIONS, '3.4.27', '3.5.9']) {
    for (const TLS of [undefined, { static: { member: { peerSecret: 'p', serverSecret: 's' }, operatorSecret: 'o' } }]) {
      const seed = child(plan(syncRequest({ spec: { version, restore: { s3: { path: 'b/k.db', awsSecret: 'aws' } }, ...(TLS !== undefined ? { TLS } : {}) } }), unreachable, NOW).response, 'Pod', 'example-0')
      const [fetch, restore] = (seed.spec as { initContainers: Array<{ command: string[], args: string[] }> }).initContainers
      const name = version.startsWith('3.4.') ? 'etcdctl' : 'etcdutl'
      t.same(restore?.command, [`/usr/local/bin/${name}`])
      t.same(toolArgProblems(name === 'etcdctl' ? ETCDCTL : ETCDUTL, name, version, restore?.args ?? []), [], `${name} ${version}${TLS !== undefined ? ' with TLS' : ''}: ${restore?.args.join(' ') ?? ''}`)
      t.ok(fetch?.args.includes('--status-tool=/usr/local/bin/etcdutl'), 'fetch reads the revision with the operator image\'s etcdutl (3.6.14: snapshot status, checked above)')
    }
  }
})

t.test('item 4: /readyz and /livez where etcd serves them (3.4.29+, 3.5.11+, 3.6, 3.7), /health before; the startupProbe stays', async t => {
  const rows: Array<[string, boolean]> = [
    ['3.4.23', false], ['3.4.28', false], ['3.4.29', true], ['3.4.45', true], ['3.5.0', false], ['3.5.10', false],
    ['3.5.11', true], ['3.5.33', true], ['3.6.0', true], ['3.6.14', true], ['3.7.1', true],
  ]
  for (const [version, modern] of rows) {
    t.equal(hasReadyzLivez(version), modern, version)
    const [pod] = memberPods({ version })
    const { readinessProbe, livenessProbe, startupProbe } = container(pod!)
    t.equal(readinessProbe?.httpGet?.path, modern ? '/readyz' : '/health', `${version}: readiness`)
    t.same(livenessProbe?.httpGet?.path, modern ? '/livez' : undefined, `${version}: liveness`)
    t.ok(startupProbe !== undefined && (modern ? startupProbe.httpGet?.path === '/livez' : startupProbe.tcpSocket !== undefined), `${version}: startupProbe`)
  }
})

t.test('item 4: no in-place move to a version without the probes the pods use', async t => {
  t.match(upgradeRefusal('3.4.29', '3.5.10'), /probed on \/readyz and \/livez, which etcd 3\.5\.10 does not serve/)
  t.equal(upgradeRefusal('3.4.29', '3.5.11'), undefined)
  t.equal(upgradeRefusal('3.4.28', '3.5.0'), undefined, '/health pods move anywhere')
  t.match(upgradeRefusal('3.5.11', '3.5.10'), /does not serve/, 'nor a patch back below /readyz')
  const blocked = plan(syncRequest({ spec: { version: '3.5.10' }, pods: [0, 1, 2].map(ordinal => ({ ordinal, image: 'quay.io/coreos/etcd:v3.4.45' })) }), answering(0, 1, 2), NOW)
  t.equal(blocked.rule, 'upgradeBlocked')
  t.match(blocked.response.status.reason, /\/readyz/)
})

t.test('item 5: a spec.version the table does not know is refused before anything is rendered', async t => {
  t.match(problemsOf(syncRequest({ spec: { version: '3.8.0' } }).parent), [/^spec\.version 3\.8\.0: the operator knows the command line of etcd 3\.4, 3\.5, 3\.6, 3\.7 only/])
  t.same(problemsOf(syncRequest({ spec: { version: 'v3.7.1' } }).parent), [])
  t.throws(() => runnableServerArgs('3.3.27', ['--name=a']), /etcd 3\.3\.27 is not in the flag table/)
})
