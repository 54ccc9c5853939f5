// The seed's restore init containers (spec.restore), in order:
//   restore-fetch:    operator image: the snapshot from the store into the
//                     staging area on the member's own volume, checked;
//   restore-snapshot: etcd image of the cluster's version: `etcdutl
//                     snapshot restore` (3.5+; `etcdctl` in 3.4) into a new
//                     dir inside the staging area, as this one member;
//   restore-commit:   operator image: that dir becomes the data dir only
//                     where no data is (a rerun never touches data).
// etcd refuses to restore into an existing dir and leaves a partial one
// behind on a bad hash, and its images have no shell to decide anything:
// hence staging, and the decision in the runner (hooks/runner/restore.ts).
import type { Restore } from '../../api/backup.js'
import { ETCDCTL, ETCDUTL, toolArgProblems } from '../../etcd/flags.js'
import { parseVersion } from '../../etcd/versions.js'
import { RUNNER_ENTRY } from '../../snapshot/pod.js'
import type { Cluster } from '../model.js'
import { peerURL } from '../names.js'

export const RESTORE_FETCH = 'restore-fetch'
export const RESTORE_SNAPSHOT = 'restore-snapshot'
export const RESTORE_COMMIT = 'restore-commit'
export const RESTORE_CONTAINERS = [RESTORE_FETCH, RESTORE_SNAPSHOT, RESTORE_COMMIT] as const

const AWS_DIR = '/etc/etcd-restore/aws'
const STORE_DIR = '/restore-store'
const AWS_VOLUME = 'restore-aws'
const STORE_VOLUME = 'restore-store'
// The operator image carries etcdutl (Dockerfile): the fetched snapshot's
// revision, for status.restore.
const ETCDUTL_IN_RUNNER = '/usr/local/bin/etcdutl'
// Added to the snapshot's revision where etcd can (--bump-revision with
// --mark-compacted): a client watching from a revision it saw before the
// restore gets "compacted" and lists again, instead of missing changes.
// A billion is far more than any cluster writes between backup and restore.
export const BUMP_REVISION = 1_000_000_000

// Where the member's data volume is mounted, and its data dir inside.
export interface DataVolume {
  name: string
  mountPath: string
  dataDir: string
}

// Inside the member's volume: rename() needs the same filesystem.
function stagingOf (volume: DataVolume): { area: string, snapshot: string, restored: string } {
  const area = `${volume.mountPath}/restore`
  return { area, snapshot: `${area}/snapshot.db`, restored: `${area}/restored` }
}

export function restoreInitContainers (cluster: Cluster, restore: Restore, pod: string, version: string, volume: DataVolume): Array<Record<string, unknown>> {
  const staging = stagingOf(volume)
  const data = { name: volume.name, mountPath: volume.mountPath }
  const runner = runnerContainer(cluster)
  return [
    {
      ...runner,
      name: RESTORE_FETCH,
      args: [
        'fetch', ...storeArgs(restore), `--to=${staging.snapshot}`,
        // A leftover of an interrupted attempt: etcd refuses to restore over it.
        `--staging=${staging.area}`, `--data-dir=${volume.dataDir}`,
        `--status-tool=${ETCDUTL_IN_RUNNER}`, '--status-tool-kind=etcdutl',
        '--termination-log=/dev/termination-log',
      ],
      volumeMounts: [data, restore.s3 !== undefined
        ? { name: AWS_VOLUME, mountPath: AWS_DIR, readOnly: true }
        : { name: STORE_VOLUME, mountPath: STORE_DIR, readOnly: true }],
    },
    {
      name: RESTORE_SNAPSHOT,
      image: cluster.spec.image,
      ...restoreCommand(cluster, pod, version, staging),
      // etcd's own error (a hash mismatch, a bad file) reaches the Pod's status.
      terminationMessagePolicy: 'FallbackToLogsOnError',
      volumeMounts: [data],
    },
    {
      ...runner,
      name: RESTORE_COMMIT,
      args: [
        'commit', `--staging=${staging.restored}`, `--data-dir=${volume.dataDir}`, `--discard=${staging.area}`,
        '--termination-log=/dev/termination-log',
      ],
      volumeMounts: [data],
    },
  ]
}

// The runner, as the user etcd runs as: what it moves and removes was
// written by etcd's tool (root in etcd's images) unless spec.pod's
// securityContext names a user for every container.
function runnerContainer (cluster: Cluster): Record<string, unknown> {
  const podUser: unknown = (cluster.spec.pod.securityContext as Record<string, unknown> | undefined)?.runAsUser
  return {
    image: cluster.settings.runnerImage,
    command: ['node', RUNNER_ENTRY],
    terminationMessagePolicy: 'FallbackToLogsOnError',
    ...(podUser === undefined ? { securityContext: { runAsUser: 0, runAsGroup: 0 } } : {}),
  }
}

function storeArgs (restore: Restore): string[] {
  const latest = restore.latest === true
  if (restore.s3 !== undefined) {
    const { s3 } = restore
    return [
      '--store=s3', latest ? `--s3-path=${s3.path}` : `--s3-object=${s3.path}`, `--aws-dir=${AWS_DIR}`,
      ...(latest ? ['--latest'] : []),
      ...(s3.endpoint !== undefined ? [`--s3-endpoint=${s3.endpoint}`] : []),
      ...(s3.region !== undefined ? [`--s3-region=${s3.region}`] : []),
      ...(s3.forcePathStyle === true ? ['--s3-force-path-style'] : []),
    ]
  }
  const path = restore.pvc?.path ?? ''
  return ['--store=pvc', `--pvc-dir=${STORE_DIR}`, `--pvc-claim=${restore.pvc?.claimName ?? ''}`, ...(latest ? [`--pvc-subpath=${path}`, '--latest'] : [`--pvc-file=${path}`])]
}

// etcdutl from 3.5 on, etcdctl in 3.4 (etcd/flags.ts: etcdctl 3.5
// deprecates its restore, 3.6 has none). The restored member is this pod,
// alone: the others join later as learners.
function restoreCommand (cluster: Cluster, pod: string, version: string, staging: { snapshot: string, restored: string }): { command: string[], args: string[] } {
  const own = peerURL(cluster, pod)
  const args = [
    'snapshot', 'restore', staging.snapshot,
    `--name=${pod}`,
    `--initial-cluster=${pod}=${own}`,
    `--initial-advertise-peer-urls=${own}`,
    `--initial-cluster-token=${cluster.token}`,
    `--data-dir=${staging.restored}`,
  ]
  const tool = restoreTool(version)
  const bump = [...args, `--bump-revision=${BUMP_REVISION}`, '--mark-compacted']
  const withBump = toolArgProblems(tool.table, tool.name, version, bump).length === 0
  const chosen = withBump ? bump : args
  const problems = toolArgProblems(tool.table, tool.name, version, chosen)
  if (problems.length > 0) throw new Error(`the restore init container would not run: ${problems.join('; ')}`)
  return { command: [`/usr/local/bin/${tool.name}`], args: chosen }
}

function restoreTool (version: string): { name: 'etcdctl' | 'etcdutl', table: typeof ETCDUTL } {
  const parsed = parseVersion(version)
  const before35 = parsed !== undefined && (parsed[0] < 3 || (parsed[0] === 3 && parsed[1] < 5))
  return before35 ? { name: 'etcdctl', table: ETCDCTL } : { name: 'etcdutl', table: ETCDUTL }
}

// The store's volume: the credentials Secret, or the claim (read only).
export function restoreVolumes (restore: Restore): Array<Record<string, unknown>> {
  if (restore.s3 !== undefined) return [{ name: AWS_VOLUME, secret: { secretName: restore.s3.awsSecret } }]
  return [{ name: STORE_VOLUME, persistentVolumeClaim: { claimName: restore.pvc?.claimName ?? '', readOnly: true } }]
}
