// Self-test of the end-to-end harness, without the hook: a 3-member etcd
// cluster from hand-written pods, reached through the client Service by its
// DNS name and through the LoadBalancer's external address; a killed
// container restarts in place; an image change restarts the container and
// keeps its data; a pod spec change other than the image is refused; a
// deleted pod's processes, namespace and files go away; a pod address
// reverse-resolves to the pod's name; a pod with a secret volume waits for
// its Secret and then finds the decoded files (and later changes); init
// containers run in order and a failing one is reported and retried; a Job's
// pod of the operator image PATCHes its Job through the API server endpoint
// with its service account token (RBAC decides); a CronJob run on demand.
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { World, sleep, waitFor } from './harness/world.js'
import { POD, SERVICE, SECRET, type Obj } from './harness/store.js'
import { podReady } from './harness/services.js'
import { memberPod, services } from './harness/fixtures.js'
import { missingPrereq, skipBanner, REQUIRE_ALL } from './harness/prereqs.js'
import { runSyncQuiet } from './harness/util.js'
import { runId } from './harness/network.js'
import { JOB } from './harness/apiserver.js'
import { finished } from './harness/jobs.js'
import { RUNNER_IMAGE } from './harness/kubelet.js'

const missing = missingPrereq({ hook: false })
if (missing) {
  if (REQUIRE_ALL) t.fail(`end-to-end harness cannot run: ${missing}`)
  else {
    console.error(skipBanner('harness.test.ts', missing))
    t.comment(skipBanner('harness.test.ts', missing))
    t.test('harness self-test', { skip: missing }, async () => {})
  }
} else {
  t.test('harness self-test', async t => {
    const started = Date.now()
    const world = await World.start({ hook: false, log: s => (process.env.E2E_VERBOSE ? console.error(s) : undefined) })
    t.teardown(() => world.destroy())
    const store = world.store
    const pod = (name: string) => store.get(POD, name)
    const allReady = (names: string[]) => names.every(n => {
      const p = pod(n)
      return p && podReady(p)
    })

    for (const s of services('hw', true)) store.create(s)
    for (const i of [0, 1, 2]) store.create(memberPod('hw', i, [0, 1, 2], 'new'))
    await waitFor(() => allReady(['hw-0', 'hw-1', 'hw-2']), { timeoutMs: 40_000, what: 'three hand-written members to be Ready' })
    t.pass(`three members Ready after ${((Date.now() - started) / 1000).toFixed(1)} s`)

    const p0 = pod('hw-0')!
    t.equal(p0.status.phase, 'Running', 'phase Running')
    t.match(p0.status.conditions, [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }, { type: 'PodScheduled', status: 'True' }])
    t.match(p0.status.containerStatuses, [{ name: 'etcd', ready: true, started: true, restartCount: 0, image: 'quay.io/coreos/etcd:v3.4.23', state: { running: {} } }])
    t.ok(world.network.inSubnet(p0.status.podIP), 'pod address in the harness subnet')

    const health = await world.etcdctlOk(['endpoint', 'health'], { endpoints: 'http://hw-client:2379', what: 'endpoint health through the client Service' })
    t.match(health, /is healthy/, 'healthy through the client Service name')
    t.equal((await world.etcdctl(['put', 'foo', 'bar'], { endpoints: 'http://hw-client.default.svc:2379' })).stdout.trim(), 'OK', 'put through the client Service')

    // Members resolve each other by DNS; data reaches every member.
    for (const n of ['hw-0', 'hw-1', 'hw-2']) {
      const out = await world.etcdctlOk(['get', 'foo', '--print-value-only', '--consistency=s'], { endpoints: `http://${n}.hw.default.svc.cluster.local:2379` })
      t.equal(out.trim(), 'bar', `foo read from ${n}`)
    }

    // Reverse lookups of a pod address answer the pod's own name first (etcd
    // matches a peer's wildcard certificate that way).
    const ptr = await world.network.runIn(world.kubelet.namespaceOf('hw-0')!, '/usr/bin/getent', ['hosts', pod('hw-1')!.status.podIP])
    t.match(ptr.stdout, /\shw-1\.hw\.default\.svc\.cluster\.local\s/, `reverse lookup of hw-1's address from hw-0: ${ptr.stdout.trim()}`)

    // LoadBalancer: an external address, reported on the Service.
    const lbIP = await waitFor(() => store.get(SERVICE, 'hw-client-lb')?.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined, { timeoutMs: 10_000, what: 'the load balancer address' })
    const viaLB = await world.etcdctlOk(['get', 'foo', '--print-value-only'], { endpoints: `http://${lbIP}:2379`, from: 'external' })
    t.equal(viaLB.trim(), 'bar', 'read through the LoadBalancer address from outside')
    const noDns = await world.network.runIn(world.externalNs, '/usr/bin/getent', ['hosts', 'hw-client.default.svc'])
    t.not(noDns.code, 0, 'the external namespace has no cluster DNS')

    // Kill -9: the container restarts in place with its data.
    const pid1 = world.kubelet.pid('hw-1')!
    process.kill(pid1, 'SIGKILL')
    await waitFor(() => pod('hw-1')?.status.containerStatuses?.[0]?.restartCount === 1 && allReady(['hw-1']), { timeoutMs: 30_000, what: 'hw-1 to restart and be Ready' })
    t.not(world.kubelet.pid('hw-1'), pid1, 'a new process')
    t.match(pod('hw-1')!.status.containerStatuses[0].lastState, { terminated: { exitCode: 137 } }, 'lastState records the kill')
    t.equal((await world.etcdctlOk(['get', 'foo', '--print-value-only', '--consistency=s'], { endpoints: 'http://hw-1.hw.default.svc:2379' })).trim(), 'bar', 'restarted member kept its data')

    // Image update: container restarts with the new image and its data.
    const p2 = structuredClone<Obj>(pod('hw-2')!)
    p2.spec.containers[0].image = 'quay.io/coreos/etcd:v3.4.24'
    store.update(p2)
    await waitFor(() => pod('hw-2')?.status.containerStatuses?.[0]?.image === 'quay.io/coreos/etcd:v3.4.24' && allReady(['hw-2']), { timeoutMs: 30_000, what: 'hw-2 to run the new image' })
    t.equal(pod('hw-2')!.status.containerStatuses[0].restartCount, 1, 'image change counted as a restart')
    t.equal((await world.etcdctlOk(['get', 'foo', '--print-value-only', '--consistency=s'], { endpoints: 'http://hw-2.hw.default.svc:2379' })).trim(), 'bar', 'data kept across the image change')

    // Any other pod spec change is refused, like the API server does.
    const bad = structuredClone<Obj>(pod('hw-0')!)
    bad.spec.containers[0].args.push('--debug')
    t.throws(() => store.update(bad), { code: 422 }, 'pod spec change other than the image is refused')

    // Graceful deletion: Terminating, then gone with its namespace and files.
    const ns0 = world.kubelet.namespaceOf('hw-0')!
    store.delete(POD, 'hw-0')
    t.ok(pod('hw-0')?.metadata.deletionTimestamp, 'deletionTimestamp set while terminating')
    await waitFor(() => !pod('hw-0'), { timeoutMs: 15_000, what: 'hw-0 to be gone' })
    await waitFor(() => !runSyncQuiet('ip', ['netns', 'list']).includes(ns0.name), { timeoutMs: 5000, what: 'the namespace of hw-0 to be removed' })
    t.notOk(fs.existsSync(`/etc/netns/${ns0.name}`), '/etc/netns entry removed')
    // The client Service no longer sends to it; the rest still serve.
    t.equal((await world.etcdctlOk(['get', 'foo', '--print-value-only'], { endpoints: 'http://hw-client:2379' })).trim(), 'bar', 'client Service serves from the remaining members')

    // A secret volume: the pod waits for its Secret, then gets its files.
    const sp = memberPod('hw', 5, [5], 'new')
    sp.metadata.name = 'hw-secret'
    sp.spec.hostname = 'hw-secret'
    sp.spec.containers[0].args = sp.spec.containers[0].args.map((a: string) => a.replaceAll('hw-5', 'hw-secret'))
    sp.spec.containers[0].volumeMounts.push({ name: 'certs', mountPath: '/etc/certs', readOnly: true })
    sp.spec.volumes.push({ name: 'certs', secret: { secretName: 'hw-certs' } })
    store.create(sp)
    // The kubelet has looked at the pod (it reports it Pending, scheduled);
    // then, a while later, it still has not started it.
    await waitFor(() => pod('hw-secret')?.status?.conditions?.some((c: { type: string, status: string }) => c.type === 'PodScheduled' && c.status === 'True'), { timeoutMs: 10_000, what: 'the kubelet to report hw-secret' })
    await sleep(1000)
    t.match(pod('hw-secret')!.status, { phase: 'Pending', conditions: [{ type: 'Initialized' }, { type: 'Ready', status: 'False' }] }, 'Pending while its Secret is missing')
    t.notOk(pod('hw-secret')!.status.podIP, 'no sandbox yet')
    store.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hw-certs' }, stringData: { 'a.txt': 'hello' }, data: { 'b.bin': Buffer.from([0, 1, 2]).toString('base64') } })
    t.same(store.get(SECRET, 'hw-certs')!.data, { 'a.txt': 'aGVsbG8=', 'b.bin': 'AAEC' }, 'stringData folded into base64 data')
    await waitFor(() => allReady(['hw-secret']), { timeoutMs: 30_000, what: 'hw-secret to start once its Secret exists' })
    const podDir = path.join(world.dir, 'pods', `hw-secret-${pod('hw-secret')!.metadata.uid!.slice(0, 8)}`, 'volumes', 'certs')
    t.equal(fs.readFileSync(path.join(podDir, 'a.txt'), 'utf8'), 'hello', 'the Secret\'s files, decoded, in the pod\'s volume')
    t.same([...fs.readFileSync(path.join(podDir, 'b.bin'))], [0, 1, 2], 'binary data decoded too')
    const upd = structuredClone(store.get(SECRET, 'hw-certs')!)
    upd.data = { 'a.txt': Buffer.from('rotated').toString('base64') }
    store.update(upd)
    t.equal(fs.readFileSync(path.join(podDir, 'a.txt'), 'utf8'), 'rotated', 'a changed Secret reaches the volume')
    t.notOk(fs.existsSync(path.join(podDir, 'b.bin')), 'a removed key goes')

    // Init containers run in order before the containers; a failing one
    // is reported as the kubelet does and retried (restartPolicy Always).
    const ETCD_IMAGE = 'quay.io/coreos/etcd:v3.4.23'
    store.create({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hw-init' },
      spec: {
        restartPolicy: 'Always',
        initContainers: [
          { name: 'first', image: ETCD_IMAGE, command: ['/usr/local/bin/etcdctl'], args: ['version'] },
          { name: 'second', image: ETCD_IMAGE, command: ['/usr/local/bin/etcdutl'], args: ['snapshot', 'status', '/nonexistent/etcd.db'], terminationMessagePolicy: 'FallbackToLogsOnError' },
        ],
        containers: [{ name: 'main', image: ETCD_IMAGE, command: ['/usr/local/bin/etcdctl'], args: ['version'] }],
      },
    })
    const init = await waitFor(() => {
      const st = pod('hw-init')?.status
      return st?.initContainerStatuses?.[1]?.restartCount >= 1 && st.initContainerStatuses[1].state?.waiting?.reason === 'CrashLoopBackOff' ? st : undefined
    }, { timeoutMs: 20_000, what: 'hw-init\'s second init container in CrashLoopBackOff' })
    t.match(init.initContainerStatuses[0], { name: 'first', state: { terminated: { exitCode: 0, reason: 'Completed' } } }, 'the first init container completed')
    t.match(init.initContainerStatuses[1].lastState, { terminated: { exitCode: 1, reason: 'Error', message: /no such file or directory/ } }, `the second failed, its message from its output (FallbackToLogsOnError): ${init.initContainerStatuses[1].lastState.terminated.message}`)
    t.match(init, { phase: 'Pending', conditions: [{ type: 'Initialized', status: 'False', reason: 'ContainersNotInitialized', message: 'containers with incomplete status: [second]' }] }, 'Pending, not Initialized')
    t.match(init.containerStatuses[0], { name: 'main', restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }, 'the container waits for the init containers')
    store.delete(POD, 'hw-init')

    // A Job's pod runs the operator image (node) with a service account
    // token at its real path and KUBERNETES_SERVICE_HOST: it PATCHes its
    // Job; RBAC from the store's Role/RoleBinding decides.
    const patcher = [
      'const fs = require("node:fs"); const https = require("node:https")',
      'const dir = "/var/run/secrets/kubernetes.io/serviceaccount"',
      'const body = JSON.stringify({ metadata: { annotations: { "e2e/patched-by": process.argv[1] } } })',
      'const req = https.request({ host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, method: "PATCH", path: "/apis/batch/v1/namespaces/" + fs.readFileSync(dir + "/namespace", "utf8") + "/jobs/" + process.argv[1], ca: fs.readFileSync(dir + "/ca.crt"), headers: { Authorization: "Bearer " + fs.readFileSync(dir + "/token", "utf8"), "Content-Type": "application/merge-patch+json" } }, res => { console.log("HTTP", res.statusCode); process.exit(res.statusCode === 200 ? 0 : 1) })',
      'req.on("error", e => { console.error(String(e)); process.exit(2) }); req.end(body)',
    ].join('\n')
    const job = (name: string, sa: string): Obj => ({
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: { app: 'hw-job' } },
          spec: {
            restartPolicy: 'Never', serviceAccountName: sa, automountServiceAccountToken: true,
            initContainers: [{ name: 'snapshot', image: ETCD_IMAGE, command: ['/usr/local/bin/etcdctl'], args: ['version'] }],
            containers: [{
              name: 'patch', image: RUNNER_IMAGE, command: ['node'], args: ['-e', patcher, '$(JOB_NAME)'],
              env: [{ name: 'JOB_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.labels[\'batch.kubernetes.io/job-name\']' } } }],
            }],
          },
        },
      },
    })
    store.create(job('hw-job', 'hw-sa'))
    await sleep(500)
    t.same(store.list(POD).filter(p => p.metadata.labels?.['job-name'] === 'hw-job'), [], 'no pod while the Job\'s service account is missing')
    for (const sa of ['hw-sa', 'hw-other']) store.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa } })
    store.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'hw-patch' }, rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['patch'] }] })
    store.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'hw-patch' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'hw-patch' }, subjects: [{ kind: 'ServiceAccount', name: 'hw-sa', namespace: 'default' }] })
    const done = await waitFor(() => finished(store.get(JOB, 'hw-job')!) && store.get(JOB, 'hw-job'), { timeoutMs: 30_000, what: 'hw-job to finish' })
    t.equal(finished(done), 'Complete', 'the Job completed')
    t.equal(done.metadata.annotations?.['e2e/patched-by'], 'hw-job', 'its pod patched its annotations ($(JOB_NAME) from the downward API)')
    t.match(world.api.requests.at(-1), { method: 'PATCH', user: 'system:serviceaccount:default:hw-sa', code: 200 }, 'an allowed PATCH by hw-sa')
    const jobPod = store.list(POD).find(p => p.metadata.labels?.['job-name'] === 'hw-job')!
    t.equal(jobPod.status.phase, 'Succeeded', 'its pod Succeeded')
    store.create(job('hw-denied', 'hw-other'))
    const denied = await waitFor(() => finished(store.get(JOB, 'hw-denied')!) && store.get(JOB, 'hw-denied'), { timeoutMs: 30_000, what: 'hw-denied to finish' })
    t.match(denied.status.conditions, [{ type: 'FailureTarget', reason: 'BackoffLimitExceeded' }, { type: 'Failed', reason: 'BackoffLimitExceeded' }], 'without a RoleBinding: the PATCH is refused and the Job Failed')
    t.match(world.api.requests.at(-1), { user: 'system:serviceaccount:default:hw-other', code: 403 }, `refused: ${world.api.requests.at(-1)?.message}`)
    t.equal(denied.metadata.annotations?.['e2e/patched-by'], undefined, 'nothing patched')

    // activeDeadlineSeconds: the pod is stopped, the Job Failed; a
    // downwardAPI volume holds the pod's own labels.
    const slow = job('hw-slow', 'hw-sa')
    slow.spec.activeDeadlineSeconds = 2
    slow.spec.template.spec.initContainers = []
    slow.spec.template.spec.containers = [{
      name: 'etcd', image: ETCD_IMAGE, args: ['--data-dir=/data/etcd', '--name=$(JOB_NAME)'],
      env: [{ name: 'JOB_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.labels[\'job-name\']' } } }],
      volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'podinfo', mountPath: '/etc/podinfo' }],
    }]
    slow.spec.template.spec.volumes = [{ name: 'data', emptyDir: {} }, { name: 'podinfo', downwardAPI: { items: [{ path: 'job', fieldRef: { fieldPath: 'metadata.labels[\'batch.kubernetes.io/job-name\']' } }] } }]
    store.create(slow)
    const slowPod = await waitFor(() => store.list(POD).find(p => p.metadata.labels?.['job-name'] === 'hw-slow' && p.status?.phase === 'Running'), { timeoutMs: 10_000, what: 'hw-slow\'s pod to run' })
    const info = path.join(world.dir, 'pods', `${slowPod.metadata.name}-${slowPod.metadata.uid!.slice(0, 8)}`, 'volumes', 'podinfo', 'job')
    t.equal(fs.readFileSync(info, 'utf8'), 'hw-slow', 'the downwardAPI volume holds the job-name label')
    const slowDone = await waitFor(() => finished(store.get(JOB, 'hw-slow')!) && store.get(JOB, 'hw-slow'), { timeoutMs: 15_000, what: 'hw-slow to hit its deadline' })
    t.match(slowDone.status.conditions, [{ type: 'FailureTarget', status: 'True', reason: 'DeadlineExceeded' }, { type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }], 'Failed: DeadlineExceeded')
    await waitFor(() => !store.get(POD, slowPod.metadata.name), { timeoutMs: 15_000, what: 'the deadline to stop hw-slow\'s pod' })
    t.pass('its pod was stopped')

    // A CronJob run on demand; Forbid refuses a second while one is active.
    store.create({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'hw-cron' }, spec: { schedule: '0 3 * * *', concurrencyPolicy: 'Forbid', jobTemplate: { metadata: { labels: { app: 'hw-cron' } }, spec: job('x', 'hw-sa').spec } } })
    const run1 = world.jobs.trigger('hw-cron')
    t.ok(run1, `a run: Job ${run1?.metadata.name}`)
    t.equal(world.jobs.trigger('hw-cron'), undefined, 'Forbid: no second run while the first is active')
    t.match(run1, { metadata: { labels: { app: 'hw-cron' }, ownerReferences: [{ kind: 'CronJob', name: 'hw-cron', controller: true }] } }, 'the jobTemplate\'s labels, owned by the CronJob')
    await waitFor(() => finished(store.get(JOB, run1!.metadata.name)!), { timeoutMs: 30_000, what: 'the CronJob\'s run to finish' })
    t.ok(world.jobs.trigger('hw-cron'), 'a next run once it finished')

    await world.destroy()
    const leftovers = [...runSyncQuiet('ip', ['netns', 'list']).split('\n'), ...runSyncQuiet('ip', ['-o', 'link', 'show']).split('\n')].filter(l => l.includes(`eoe2e-${runId}`) || l.includes(`eoe2e${runId}`))
    t.same(leftovers, [], 'no namespace or link left after teardown')
    t.notOk(fs.existsSync(world.dir), 'temp dir removed')
    t.comment(`harness self-test took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  })
}
