// Recording the result on the runner's own Job: one JSON merge patch of
// annotations, sent to a local HTTPS API server (self-signed certificate,
// its CA in the service account dir) that records it; an API that fails is
// logged and the backup still succeeds.
import t from 'tap'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { flagsFor } from './args.js'
import { STATUS_TOOL, fakeApiServer, needsEtcd, selfSigned, serviceAccountDir, sha256Of, startEtcd, tempDir } from './helpers.js'
import { readFile, writeFile } from 'node:fs/promises'
import { uploadOptions } from '../../hooks/runner/options.js'
import { upload } from '../../hooks/runner/upload.js'

t.test('the Job PATCH', needsEtcd(), async t => {
  const [etcd, work] = await Promise.all([startEtcd(t), tempDir(t, 'job-work')])
  await etcd.put('/k', 'v')
  const snapshot = join(work, 'snapshot.db')
  await etcd.snapshot(snapshot)
  const revision = await etcd.revision()
  let status = 200
  const api = await fakeApiServer(t, () => status)
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const log: string[] = []
    const result = await upload(uploadOptions(flagsFor('upload', [
      '--store', 'pvc', '--pvc-dir', work, '--pvc-subpath', 'out', '--cluster', 'prod', '--snapshot', snapshot,
      '--status-tool', STATUS_TOOL.path, ...args,
    ])), { env, log: line => log.push(line) })
    return { result, log }
  }

  t.test('PATCH /apis/batch/v1/namespaces/NS/jobs/NAME, a merge patch with the bearer token', async t => {
    const sa = await serviceAccountDir(t, api.ca, 'backups-ns')
    const { result, log } = await run(['--job', 'prod-backup-1', '--kube-api', api.url, '--service-account-dir', sa])
    t.equal(api.requests.length, 1)
    const [request] = api.requests
    t.equal(request?.method, 'PATCH')
    t.equal(request?.path, '/apis/batch/v1/namespaces/backups-ns/jobs/prod-backup-1', 'the namespace from the service account dir')
    t.equal(request?.headers['content-type'], 'application/merge-patch+json')
    t.equal(request?.headers.authorization, 'Bearer the-token')
    t.same(JSON.parse(request?.body ?? ''), {
      metadata: {
        annotations: {
          'etcd.database.coreos.com/backup-object': result.object,
          'etcd.database.coreos.com/backup-revision': String(revision),
          'etcd.database.coreos.com/backup-size': String((await readFile(snapshot)).length),
          'etcd.database.coreos.com/backup-sha256': sha256Of(await readFile(snapshot)),
        },
      },
    })
    t.equal(log.filter(line => line.includes('Job')).length, 0, 'nothing to log')
  })

  t.test('a failed upload records its error on the Job (the hook sees the Job, not the pod\'s log), and still fails', async t => {
    api.requests.length = 0
    const sa = await serviceAccountDir(t, api.ca, 'backups-ns')
    const truncated = join(work, 'truncated.db')
    await writeFile(truncated, (await readFile(snapshot)).subarray(0, 4096))
    const failed = await upload(uploadOptions(flagsFor('upload', [
      '--store', 'pvc', '--pvc-dir', work, '--pvc-subpath', 'out', '--cluster', 'prod', '--snapshot', truncated,
      '--status-tool', STATUS_TOOL.path, '--job', 'prod-backup-2', '--kube-api', api.url, '--service-account-dir', sa,
    ])), { env: {}, log: () => undefined }).then(() => undefined, (error: unknown) => error)
    t.ok(failed instanceof Error, 'the upload fails')
    t.equal(api.requests.length, 1, 'one PATCH')
    const annotations = (JSON.parse(api.requests[0]?.body ?? '{}') as { metadata: { annotations: Record<string, string> } }).metadata.annotations
    t.same(Object.keys(annotations), ['etcd.database.coreos.com/backup-error'], 'only the error: no object, revision or size')
    t.equal(annotations['etcd.database.coreos.com/backup-error'], (failed as Error).message, 'in the runner\'s own words')
  })

  t.test('the address from KUBERNETES_SERVICE_HOST and _PORT, the namespace from --namespace', async t => {
    api.requests.length = 0
    const sa = await serviceAccountDir(t, api.ca)
    await run(['--job', 'j2', '--namespace', 'given', '--service-account-dir', sa], { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) })
    t.equal(api.requests[0]?.path, '/apis/batch/v1/namespaces/given/jobs/j2')
  })

  t.test('a failing API is logged, retried on 5xx, and the backup succeeds', async t => {
    const sa = await serviceAccountDir(t, api.ca, 'ns')
    api.requests.length = 0
    status = 500
    const failed = await run(['--job', 'j3', '--kube-api', api.url, '--service-account-dir', sa])
    t.equal(failed.result.revision, revision, 'the result all the same')
    t.equal(api.requests.length, 3, 'three attempts')
    t.match(failed.log.at(-1), /^recording the result on Job ns\/j3 failed \(attempt 3 of 3\): PATCH \/apis\/batch\/v1\/namespaces\/ns\/jobs\/j3: HTTP 500: \{"kind":"Status","message":"refused with 500","code":500\}; the backup itself succeeded$/)

    api.requests.length = 0
    status = 403
    const refused = await run(['--job', 'j4', '--kube-api', api.url, '--service-account-dir', sa])
    t.equal(api.requests.length, 1, 'a refusal is not retried')
    t.match(refused.log.at(-1), /attempt 1 of 3\): PATCH \S+: HTTP 403: .*; the backup itself succeeded$/)
    status = 200
  })

  t.test('a wrong CA, a missing token, no API address: logged, not fatal', async t => {
    const other = await selfSigned(t, 'someone-else')
    const wrongCa = await serviceAccountDir(t, other.cert, 'ns')
    api.requests.length = 0
    const tls = await run(['--job', 'j5', '--kube-api', api.url, '--service-account-dir', wrongCa])
    t.equal(api.requests.length, 0, 'nothing reached the server')
    t.match(tls.log.at(-1), /^recording the result on Job ns\/j5 failed \(attempt 1 of 3\): .*certificate.*; the backup itself succeeded$/, 'a certificate error is not retried')
    const noToken = await serviceAccountDir(t, api.ca, 'ns')
    await rm(join(noToken, 'token'))
    t.match((await run(['--job', 'j6', '--kube-api', api.url, '--service-account-dir', noToken])).log.at(-1), /^recording the result on Job j6 failed: ENOENT: no such file or directory, open '\S+\/token'; the backup itself succeeded$/)
    const noHost = await serviceAccountDir(t, api.ca, 'ns')
    t.match((await run(['--job', 'j7', '--service-account-dir', noHost], {})).log.at(-1), /^recording the result on Job j7 failed: KUBERNETES_SERVICE_HOST is not set \(not in a pod\?\) and no --kube-api given; the backup itself succeeded$/)
  })
})
