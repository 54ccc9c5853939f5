// A new cluster from a snapshot (spec.restore), as the hook renders and
// reports it: the seed's restore init containers for etcd 3.4 to 3.7, with
// TLS and without, from S3 and from a PVC, valid Kubernetes objects whose
// tool arguments the version's etcd and the runner itself accept; only the
// first seed restores; status.restore and the Restored condition from what
// the kubelet reports of those containers; the CRD's rules for the field.
import t from 'tap'
import type { Restore } from '../hooks/api/backup.js'
import type { ClusterSpec, ClusterStatus, EtcdCluster, SyncResponse } from '../hooks/api/cluster.js'
import type { KubeObject } from '../hooks/api/kube.js'
import { problemsOf } from '../hooks/api/validate.js'
import { plan } from '../hooks/cluster/plan.js'
import { BUMP_REVISION, RESTORE_CONTAINERS } from '../hooks/cluster/render/restore.js'
import { ETCDCTL, ETCDUTL, toolArgProblems } from '../hooks/etcd/flags.js'
import { parseFlags } from '../hooks/runner/flags.js'
import { COMMIT_FLAGS, FETCH_FLAGS, commitOptions, fetchOptions } from '../hooks/runner/options.js'
import { NAME, NOW, UID, members, reachable, syncRequest, unreachable, type RequestFixture } from './helpers/fixtures.js'
import { child, childrenOfKind, conditionOf, flags } from './helpers/inspect.js'
import { crdValidator, loadCrd, schemaOf } from './helpers/crd.js'
import { validateKubeObject } from './helpers/kube-schema.js'

interface Container { name: string, image: string, command: string[], args: string[], volumeMounts: Array<{ name: string, mountPath: string, readOnly?: boolean }>, securityContext?: unknown, terminationMessagePolicy?: string }
interface PodSpec { initContainers?: Container[], containers: Container[], volumes: Array<{ name: string, secret?: { secretName: string }, persistentVolumeClaim?: { claimName: string, readOnly?: boolean } }> }
const specOf = (pod: KubeObject) => pod.spec as PodSpec
const initOf = (pod: KubeObject) => specOf(pod).initContainers ?? []

const S3: Restore = { s3: { path: 'etcd-backups/prod/prod-20261202T183000Z-r81234.db', awsSecret: 's3-creds', endpoint: 'https://minio.storage:9000', forcePathStyle: true } }
const S3_LATEST: Restore = { s3: { path: 'etcd-backups/prod', awsSecret: 's3-creds', region: 'eu-west-1' }, latest: true }
const PVC: Restore = { pvc: { claimName: 'etcd-backups', path: 'prod/prod-20261202T183000Z-r81234.db' } }
const PVC_LATEST: Restore = { pvc: { claimName: 'etcd-backups', path: 'prod' }, latest: true }
const TLS: ClusterSpec['TLS'] = { static: { member: { peerSecret: 'peer', serverSecret: 'server' }, operatorSecret: 'operator' } }

const bootstrap = (spec: Partial<ClusterSpec>) => plan(syncRequest({ spec }), unreachable, NOW).response
const seedOf = (response: SyncResponse) => child(response, 'Pod', `${NAME}-0`)
// The runner's own parser, as `node dist/runner/main.js <command>` runs it.
const withoutLog = (args: string[]) => args.filter(a => !a.startsWith('--termination-log'))

t.test('the seed restores: fetch, etcd\'s restore, commit, for 3.4 to 3.7, TLS or not, S3 or PVC', async t => {
  const versions: Array<[string, 'etcdctl' | 'etcdutl', boolean]> = [
    ['3.4.23', 'etcdctl', false], ['3.4.27', 'etcdctl', true], ['3.5.9', 'etcdutl', false], ['3.5.21', 'etcdutl', true], ['3.6.14', 'etcdutl', true], ['3.7.1', 'etcdutl', true],
  ]
  for (const [version, tool, bumps] of versions) {
    for (const tls of [undefined, TLS]) {
      for (const restore of [S3, S3_LATEST, PVC, PVC_LATEST]) {
        const label = `${version}${tls !== undefined ? ' TLS' : ''} ${restore.s3 !== undefined ? 's3' : 'pvc'}${restore.latest === true ? ' latest' : ''}`
        const seed = seedOf(bootstrap({ version, restore, ...(tls !== undefined ? { TLS: tls } : {}) }))
        await validateKubeObject(seed)
        const [fetch, snapshot, commit] = initOf(seed)
        t.same(initOf(seed).map(c => c.name), [...RESTORE_CONTAINERS], `${label}: three init containers, in order`)
        if (fetch === undefined || snapshot === undefined || commit === undefined) continue
        // The runner image, its entry point, flags it parses.
        for (const runner of [fetch, commit]) {
          t.equal(runner.image, 'ghcr.io/etcd-operator/etcd-operator-hook:0.1.0')
          t.same(runner.command, ['node', '/app/dist/runner/main.js'])
          t.equal(runner.terminationMessagePolicy, 'FallbackToLogsOnError')
          t.ok(runner.args.includes('--termination-log=/dev/termination-log'), `${label}: ${runner.name} reports through the termination log`)
        }
        const fetched = fetchOptions(parseFlags('fetch', withoutLog(fetch.args.slice(1)), FETCH_FLAGS))
        t.same(fetched.clear, { staging: '/var/etcd/restore', dataDir: '/var/etcd/data' }, `${label}: a leftover staging area is cleared, the data dir never`)
        t.equal(fetched.to, '/var/etcd/restore/snapshot.db')
        t.same(fetched.location.place, restore.latest === true ? { prefix: 'prod' } : { exact: 'prod/prod-20261202T183000Z-r81234.db' }, `${label}: the object, or the newest under the prefix`)
        t.same(commitOptions(parseFlags('commit', withoutLog(commit.args.slice(1)), COMMIT_FLAGS)), { staging: '/var/etcd/restore/restored', dataDir: '/var/etcd/data', discard: '/var/etcd/restore' })
        // etcd's own tool of the cluster's version, every flag in its table.
        t.equal(snapshot.image, `quay.io/coreos/etcd:v${version}`)
        t.same(snapshot.command, [`/usr/local/bin/${tool}`], `${label}: ${tool}`)
        t.same(toolArgProblems(tool === 'etcdctl' ? ETCDCTL : ETCDUTL, tool, version, snapshot.args), [], `${label}: ${tool} ${version} takes ${snapshot.args.join(' ')}`)
        const scheme = tls !== undefined ? 'https' : 'http'
        const peer = `${scheme}://${NAME}-0.${NAME}.default.svc:2380`
        t.same(snapshot.args, [
          'snapshot', 'restore', '/var/etcd/restore/snapshot.db', `--name=${NAME}-0`, `--initial-cluster=${NAME}-0=${peer}`,
          `--initial-advertise-peer-urls=${peer}`, `--initial-cluster-token=${flags(seed)['initial-cluster-token']}`, '--data-dir=/var/etcd/restore/restored',
          ...(bumps ? [`--bump-revision=${BUMP_REVISION}`, '--mark-compacted'] : []),
        ], `${label}: the member's own name, peer URL and token${bumps ? ', revisions bumped' : ' (this version cannot bump revisions)'}`)
        t.equal(flags(seed)['initial-advertise-peer-urls'], peer, 'the peer URL etcd then starts with')
        t.equal(flags(seed)['data-dir'], '/var/etcd/data', 'etcd starts from the committed dir')
        t.equal(flags(seed)['initial-cluster-state'], 'new')
        // The store's volume, read only.
        const volumes = specOf(seed).volumes
        if (restore.s3 !== undefined) t.ok(volumes.some(v => v.secret?.secretName === 's3-creds'), `${label}: the credentials Secret`)
        else t.ok(volumes.some(v => v.persistentVolumeClaim?.claimName === 'etcd-backups' && v.persistentVolumeClaim.readOnly === true), `${label}: the backup claim, read only`)
        t.ok(fetch.volumeMounts.every(m => m.name === 'etcd-data' || m.readOnly === true), 'the store is mounted read only')
      }
    }
  }
})

t.test('the runner runs as etcd does unless spec.pod names a user', async t => {
  const root = initOf(seedOf(bootstrap({ restore: S3 })))
  t.same(root[0]?.securityContext, { runAsUser: 0, runAsGroup: 0 }, 'etcd\'s images run as root: the runner moves what etcd\'s tool wrote')
  const user = initOf(seedOf(bootstrap({ restore: S3, pod: { securityContext: { runAsUser: 1000, fsGroup: 1000 } } })))
  t.equal(user[0]?.securityContext, undefined, 'the pod\'s user for every container')
})

t.test('only the first seed restores; members added later and replacements never', async t => {
  t.equal(specOf(seedOf(bootstrap({}))).initContainers, undefined, 'no spec.restore: no init containers')
  const spec = { restore: S3 }
  // The seed runs; etcd answers: the next member joins as a learner.
  const grow = plan(syncRequest({ spec, pods: [{ ordinal: 0 }] }), reachable(members(0), 0), NOW)
  t.equal(grow.rule, 'addMember')
  t.equal(specOf(child(grow.response, 'Pod', `${NAME}-1`)).initContainers, undefined, 'a learner joins with no restore')
  // A dead member's pod is replaced on its claim: joins, never restores.
  const claims = { spec: { ...spec, pod: { persistentVolumeClaimSpec: { resources: { requests: { storage: '1Gi' } } } } }, pods: [{ ordinal: 0 }, { ordinal: 1 }], claims: [0, 1, 2] }
  const restart = plan(syncRequest(claims), reachable(members(0, 1, 2), 0), NOW)
  t.equal(restart.rule, 'restartOnClaim')
  t.equal(specOf(child(restart.response, 'Pod', `${NAME}-2`)).initContainers, undefined, 'a member restarted on its volume never restores')
  // The seed, gone before the cluster formed, comes back on its volume:
  // it restores again (commit keeps any data the volume has).
  const again = plan(syncRequest({ ...claims, pods: [], claims: [0] }), unreachable, NOW)
  t.equal(again.rule, 'restartFromClaims')
  t.same(initOf(seedOf(again.response)).map(c => c.name), [...RESTORE_CONTAINERS])
  // After it formed, a restart from volumes never restores.
  const formed = plan(syncRequest({ ...claims, pods: [], claims: [0, 1], status: { clusterID: 'c1' } }), unreachable, NOW)
  t.equal(formed.rule, 'restartFromClaims')
  for (const pod of childrenOfKind(formed.response, 'Pod')) t.equal(specOf(pod).initContainers, undefined, `${pod.metadata.name}: no restore once the cluster formed`)
})

// The seed pod as the API server stores it and the kubelet reports it.
interface InitState { state: Record<string, unknown>, lastState?: Record<string, unknown> }
function restoringSeed (spec: Partial<ClusterSpec>, inits: Array<InitState | undefined>, etcdRunning: boolean): KubeObject {
  const pod = structuredClone(seedOf(bootstrap(spec)))
  pod.metadata = { ...pod.metadata, uid: 'uid-seed', creationTimestamp: '2026-11-26T09:00:00Z', labels: { ...pod.metadata.labels, 'controller-uid': UID } }
  pod.status = {
    phase: etcdRunning ? 'Running' : 'Pending',
    initContainerStatuses: RESTORE_CONTAINERS.flatMap((name, i) => {
      const init = inits[i]
      return init === undefined ? [] : [{ name, image: 'x', ready: false, restartCount: 0, ...init }]
    }),
    containerStatuses: [{ name: 'etcd', image: 'x', ready: etcdRunning, restartCount: 0, state: etcdRunning ? { running: { startedAt: '2026-11-26T09:01:00Z' } } : { waiting: { reason: 'PodInitializing' } } }],
    conditions: [{ type: 'Ready', status: etcdRunning ? 'True' : 'False', lastTransitionTime: '2026-11-26T09:01:00Z' }],
  }
  return pod
}
const done = (message: string, finishedAt = '2026-11-26T09:00:30Z'): InitState => ({ state: { terminated: { exitCode: 0, reason: 'Completed', message, finishedAt } } })
const FETCHED = JSON.stringify({ object: 's3://etcd-backups/prod/prod-20261202T183000Z-r81234.db', size: 20480, sha256: 'ab'.repeat(32), revision: 81234 })
const COMMITTED = JSON.stringify({ dataDir: '/var/etcd/data', committed: true, message: 'moved' })

function syncWith (seed: KubeObject, status?: ClusterStatus, observation = unreachable) {
  const request = syncRequest({ spec: { restore: S3 }, ...(status !== undefined ? { status } : {}) } satisfies RequestFixture)
  request.children = { ...request.children, 'Pod.v1': { [seed.metadata.name]: seed } }
  return plan(request, observation, NOW)
}

t.test('status: Restoring, then Restored with where the data came from; kept after the seed is gone', async t => {
  const waiting = syncWith(restoringSeed({ restore: S3 }, [{ state: { running: { startedAt: '2026-11-26T09:00:01Z' } } }], false))
  t.match(conditionOf(waiting.response, 'Restored'), { status: 'False', reason: 'Restoring', message: `${NAME}-0 is restoring s3://${S3.s3!.path} (if its init containers do not start, kubectl describe pod ${NAME}-0 says why: it needs the Secret s3-creds)` })
  t.equal(waiting.response.status.restore, undefined)
  t.equal(waiting.rule, 'unreachable', 'the hook waits; it changes nothing')
  t.same(childrenOfKind(waiting.response, 'Pod').map(p => p.metadata.name), [`${NAME}-0`], 'the seed is kept as it is')

  const seed = restoringSeed({ restore: S3 }, [done(FETCHED), done(''), done(COMMITTED, '2026-11-26T09:00:40Z')], true)
  const restored = syncWith(seed, undefined, reachable(members(0), 0))
  t.same(restored.response.status.restore, { object: 's3://etcd-backups/prod/prod-20261202T183000Z-r81234.db', revision: 81234, time: '2026-11-26T09:00:40Z' })
  t.match(conditionOf(restored.response, 'Restored'), { status: 'True', reason: 'Restored', message: 'restored s3://etcd-backups/prod/prod-20261202T183000Z-r81234.db at revision 81234' })
  t.same(syncWith(seed, restored.response.status, reachable(members(0), 0)).response.status, restored.response.status, 'an unchanged world: an unchanged status')

  // Later the seed pod is gone (replaced): the record stays.
  const later = plan(syncRequest({ spec: { restore: S3 }, status: restored.response.status, pods: [{ ordinal: 1 }, { ordinal: 2 }] }), reachable(members(1, 2), 1), NOW)
  t.same(later.response.status.restore, restored.response.status.restore, 'status.restore kept')
  t.match(conditionOf(later.response, 'Restored'), { status: 'True', reason: 'Restored' })
  t.notOk(plan(syncRequest({}), unreachable, NOW).response.status.conditions?.some(c => c.type === 'Restored'), 'no spec.restore: no Restored condition')
})

t.test('status: a failing init container gives RestoreFailed with its own words; the seed never starts', async t => {
  const crashLoop = (message: string): InitState => ({
    state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
    lastState: { terminated: { exitCode: 1, reason: 'Error', message } },
  })
  const rows: Array<{ why: string, inits: Array<InitState | undefined>, message: RegExp }> = [
    // The runner wrote its error to the termination log: the store's words.
    { why: 'a missing object', inits: [crashLoop('runner fetch: s3 download of s3://etcd-backups/prod/x.db failed: NoSuchKey: The specified key does not exist. (HTTP 404)')], message: /^example-0: restore-fetch failed: runner fetch: s3 download of s3:\/\/etcd-backups\/prod\/x\.db failed: NoSuchKey: The specified key does not exist\. \(HTTP 404\) \[exit code 1 \(Error\)\]$/ },
    { why: 'wrong credentials, first run', inits: [{ state: { terminated: { exitCode: 1, reason: 'Error', message: 'runner fetch: s3 download of s3://b/k failed: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records. (HTTP 403)' } } }], message: /restore-fetch failed: .*InvalidAccessKeyId.*\(HTTP 403\)/ },
    { why: 'a corrupt snapshot', inits: [crashLoop('runner fetch: snapshot integrity check failed for s3://b/k: sha256 mismatch')], message: /restore-fetch failed: runner fetch: snapshot integrity check failed/ },
    // etcd's tool: the tail of its log (FallbackToLogsOnError).
    { why: 'etcd\'s restore fails', inits: [done(FETCHED), crashLoop('{"level":"info"}\nError: snapshot file integrity check failed\n')], message: /^example-0: restore-snapshot failed: \{"level":"info"\} \| Error: snapshot file integrity check failed \[exit code 1 \(Error\)\]$/ },
    { why: 'commit refuses a data dir it does not know', inits: [done(FETCHED), done(''), crashLoop('runner commit: commit: --data-dir /var/etcd/data has no member/ but is not empty (lost+found): refusing to replace it')], message: /restore-commit failed: .*refusing to replace it/ },
    { why: 'the runner image cannot be pulled', inits: [{ state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' } } }], message: /restore-fetch failed: ImagePullBackOff: Back-off pulling image "x"$/ },
  ]
  for (const row of rows) {
    const p = syncWith(restoringSeed({ restore: S3 }, row.inits, false))
    const restored = conditionOf(p.response, 'Restored')
    t.equal(restored.status, 'False', row.why)
    t.equal(restored.reason, 'RestoreFailed', row.why)
    t.match(restored.message, row.message, row.why)
    t.equal(p.response.status.restore, undefined, `${row.why}: no record`)
    t.equal(p.rule, 'unreachable', `${row.why}: nothing deleted, nothing added`)
    t.same(childrenOfKind(p.response, 'Pod').map(pod => pod.metadata.name), [`${NAME}-0`])
    t.equal(p.action, undefined)
  }
})

t.test('CRD and hook: one store; spec.restore cannot change once created', async t => {
  const validate = crdValidator(schemaOf(loadCrd()))
  const cluster = (restore?: Restore): EtcdCluster => ({
    apiVersion: 'etcd.database.coreos.com/v1beta2', kind: 'EtcdCluster', metadata: { name: 'restored' },
    spec: { size: 3, version: '3.6.14', ...(restore !== undefined ? { restore } : {}) },
  })
  for (const restore of [S3, S3_LATEST, PVC, PVC_LATEST]) {
    t.same(validate(cluster(restore)), [], 'created with a restore')
    t.same(problemsOf(cluster(restore)), [], 'the hook takes it')
    t.same(validate(cluster(restore), cluster(restore)), [], 'an update that leaves it alone')
    t.same(validate({ ...cluster(restore), spec: { ...cluster(restore).spec, size: 5 } }, cluster(restore)), [], 'other fields still change')
  }
  const immutable = /^spec: restore cannot be added, changed or removed after the cluster is created$/
  t.match(validate(cluster(PVC), cluster(S3)), [immutable], 'changed')
  t.match(validate(cluster(), cluster(S3)), [immutable], 'removed')
  t.match(validate(cluster(S3), cluster()), [immutable], 'added')
  t.match(validate(cluster({ ...S3, latest: true }), cluster(S3)), [immutable], 'latest turned on')
  t.same(validate(cluster(), cluster()), [], 'no restore before or after')
  const both = { s3: S3.s3, pvc: PVC.pvc } as Restore
  t.match(validate(cluster(both)), [/^spec\.restore: exactly one of s3 and pvc says where the snapshot is$/])
  t.match(problemsOf(cluster(both)), [/^spec\.restore: exactly one of s3 and pvc/])
  t.match(validate(cluster({ s3: { path: 'nobucket', awsSecret: 'a' } })), [/^spec\.restore\.s3\.path: must match pattern/])
})

t.test('a cluster that formed without a record says so rather than Restoring', async t => {
  const p = plan(syncRequest({ spec: { restore: S3 }, pods: [{ ordinal: 0 }] }), reachable(members(0), 0), NOW)
  t.match(conditionOf(p.response, 'Restored'), { status: 'True', reason: 'RestoredUnrecorded' })
})
