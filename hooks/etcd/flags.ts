// The command lines etcd accepts, per minor release, as data: the flags
// of the etcd server and the etcdctl / etcdutl subcommands our pods and
// Jobs run. etcd exits 2 on a flag it does not know, so a pod rendered
// with one crash-loops; a deprecated flag is the next minor's unknown one.
// Pure knowledge of etcd, nothing here talks to it.
//
// Read from etcd's own flag definitions (github.com/etcd-io/etcd, every
// release tag of each minor, v3.4.0 .. v3.7.1):
// - server: the flag.FlagSet calls in etcdmain/config.go and
//   embed/config.go (3.4), server/etcdmain/config.go and
//   server/embed/config.go (3.5 on; 3.6 moved most of them into
//   embed.Config.AddFlags and added --feature-gates through
//   ServerFeatureGate.AddFlag), checked against etcdmain/help.go. Where the
//   two differ the FlagSet wins: 3.7.1's help.go still lists --discovery
//   and --discovery-proxy, which its FlagSet no longer has.
// - deprecated: etcdmain's deprecatedFlags map (3.5.18+, 3.6, 3.7), the
//   "[TO BE DEPRECATED IN v3.5]" and "Deprecated in v3.x" help texts, and
//   embed.Config's "Deprecated: ... decommissioned in v3.7" comments on
//   every --experimental-* field of 3.6.
// - etcdctl: etcdctl/ctlv3/ctl.go (global flags) and
//   etcdctl/ctlv3/command/snapshot_command.go; etcdutl: etcdutl/ctl.go and
//   etcdutl/etcdutl/snapshot_command.go.
// Flags are only ever added within a minor (none disappears between two
// patches of one minor): `since` names the first patch that has one.
// Unknown ETCD_* environment variables only make etcd warn, but a variable
// for a flag also given on the command line is fatal (pkg/flags/flag.go,
// verifyEnv, every minor).
import { compareVersions, parseVersion } from './versions.js'

interface CommandLine {
  // Known from the minor's first patch.
  readonly flags: ReadonlySet<string>
  // Flags a later patch added: the first patch that has them.
  readonly since: Readonly<Record<string, number>>
  // What etcd says of the flags it still accepts but is dropping.
  readonly deprecated: Readonly<Record<string, string>>
}

function commandLine (flags: string, since: Record<string, number> = {}, deprecated: Record<string, string> = {}): CommandLine {
  return { flags: new Set(flags.split(/\s+/).filter(word => word !== '')), since, deprecated }
}

function deprecate (flags: readonly string[], why: string): Record<string, string> {
  return Object.fromEntries(flags.map(flag => [flag, why]))
}

// Every --experimental-* flag of 3.6: deprecated there, gone in 3.7 (a
// stable flag or a --feature-gates gate replaces each).
const EXPERIMENTAL_3_6 = [
  'experimental-bootstrap-defrag-threshold-megabytes',
  'experimental-compact-hash-check-enabled',
  'experimental-compact-hash-check-time',
  'experimental-compaction-batch-limit',
  'experimental-compaction-sleep-interval',
  'experimental-corrupt-check-time',
  'experimental-distributed-tracing-address',
  'experimental-distributed-tracing-instance-id',
  'experimental-distributed-tracing-sampling-rate',
  'experimental-distributed-tracing-service-name',
  'experimental-downgrade-check-time',
  'experimental-enable-distributed-tracing',
  'experimental-enable-lease-checkpoint',
  'experimental-enable-lease-checkpoint-persist',
  'experimental-initial-corrupt-check',
  'experimental-memory-mlock',
  'experimental-peer-skip-client-san-verification',
  'experimental-snapshot-catchup-entries',
  'experimental-stop-grpc-service-on-defrag',
  'experimental-txn-mode-write-with-shared-buffer',
  'experimental-warning-apply-duration',
  'experimental-warning-unary-request-duration',
  'experimental-watch-progress-notify-interval',
]

// The etcd server, per minor.
export const ETCD_SERVER_FLAGS: Readonly<Record<string, CommandLine>> = {
  // v3.4.0 .. v3.4.45 (end of life): etcdmain/config.go, embed/config.go.
  3.4: commandLine(`
    advertise-client-urls auth-token auto-compaction-mode auto-compaction-retention auto-tls
    backend-batch-interval backend-batch-limit bcrypt-cost cert-file cipher-suites
    client-cert-allowed-hostname client-cert-auth client-crl-file config-file cors data-dir debug
    discovery discovery-fallback discovery-proxy discovery-srv discovery-srv-name election-timeout
    enable-grpc-gateway enable-pprof enable-v2 experimental-backend-bbolt-freelist-type
    experimental-compaction-batch-limit experimental-corrupt-check-time
    experimental-enable-lease-checkpoint experimental-enable-v2v3 experimental-initial-corrupt-check
    experimental-peer-skip-client-san-verification force-new-cluster grpc-keepalive-interval
    grpc-keepalive-min-time grpc-keepalive-timeout heartbeat-interval host-whitelist
    initial-advertise-peer-urls initial-cluster initial-cluster-state initial-cluster-token
    initial-election-tick-advance key-file listen-client-urls listen-metrics-urls listen-peer-urls
    log-level log-output log-outputs log-package-levels logger max-request-bytes max-snapshots
    max-txn-ops max-wals metrics name peer-auto-tls peer-cert-allowed-cn peer-cert-allowed-hostname
    peer-cert-file peer-client-cert-auth peer-crl-file peer-key-file peer-trusted-ca-file pre-vote proxy
    proxy-dial-timeout proxy-failure-wait proxy-read-timeout proxy-refresh-interval proxy-write-timeout
    quota-backend-bytes snapshot-count strict-reconfig-check trusted-ca-file version wal-dir
  `, {
    'auth-token-ttl': 10, 'unsafe-no-fsync': 10, 'experimental-watch-progress-notify-interval': 11,
    'experimental-warning-apply-duration': 16, 'experimental-enable-lease-checkpoint-persist': 20,
    'max-concurrent-streams': 20, 'listen-client-http-urls': 25, 'tls-max-version': 25,
    'tls-min-version': 25, 'next-cluster-version-compatible': 31,
  }, deprecate(['debug', 'log-output', 'log-package-levels'], 'marked "to be deprecated in v3.5" and gone in 3.5')),
  // v3.5.0 .. v3.5.33: server/etcdmain/config.go, server/embed/config.go.
  3.5: commandLine(`
    advertise-client-urls auth-token auth-token-ttl auto-compaction-mode auto-compaction-retention
    auto-tls backend-batch-interval backend-batch-limit backend-bbolt-freelist-type bcrypt-cost
    cert-file cipher-suites client-cert-allowed-hostname client-cert-auth client-cert-file
    client-crl-file client-key-file config-file cors data-dir discovery discovery-fallback
    discovery-proxy discovery-srv discovery-srv-name election-timeout enable-grpc-gateway
    enable-log-rotation enable-pprof enable-v2 experimental-bootstrap-defrag-threshold-megabytes
    experimental-compaction-batch-limit experimental-corrupt-check-time
    experimental-distributed-tracing-address experimental-distributed-tracing-instance-id
    experimental-distributed-tracing-service-name experimental-downgrade-check-time
    experimental-enable-distributed-tracing experimental-enable-lease-checkpoint
    experimental-enable-v2v3 experimental-initial-corrupt-check experimental-memory-mlock
    experimental-peer-skip-client-san-verification experimental-txn-mode-write-with-shared-buffer
    experimental-warning-apply-duration experimental-watch-progress-notify-interval force-new-cluster
    grpc-keepalive-interval grpc-keepalive-min-time grpc-keepalive-timeout heartbeat-interval
    host-whitelist initial-advertise-peer-urls initial-cluster initial-cluster-state
    initial-cluster-token initial-election-tick-advance key-file listen-client-urls listen-metrics-urls
    listen-peer-urls log-level log-outputs log-rotation-config-json logger max-request-bytes
    max-snapshots max-txn-ops max-wals metrics name peer-auto-tls peer-cert-allowed-cn
    peer-cert-allowed-hostname peer-cert-file peer-client-cert-auth peer-client-cert-file
    peer-client-key-file peer-crl-file peer-key-file peer-trusted-ca-file pre-vote proxy
    proxy-dial-timeout proxy-failure-wait proxy-read-timeout proxy-refresh-interval proxy-write-timeout
    quota-backend-bytes raft-read-timeout raft-write-timeout self-signed-cert-validity snapshot-count
    socket-reuse-address socket-reuse-port strict-reconfig-check trusted-ca-file unsafe-no-fsync
    v2-deprecation version wal-dir
  `, {
    'experimental-enable-lease-checkpoint-persist': 2, 'experimental-compact-hash-check-enabled': 5,
    'experimental-compact-hash-check-time': 5, 'max-concurrent-streams': 5,
    'listen-client-http-urls': 8, 'tls-max-version': 8, 'tls-min-version': 8,
    'experimental-distributed-tracing-sampling-rate': 11,
    'experimental-snapshot-catchup-entries': 14, 'experimental-stop-grpc-service-on-defrag': 14,
    'experimental-compaction-sleep-interval': 16,
  }, deprecate(['enable-v2', 'experimental-enable-v2v3', 'proxy', 'proxy-dial-timeout', 'proxy-failure-wait',
    'proxy-read-timeout', 'proxy-refresh-interval', 'proxy-write-timeout'], 'deprecated in 3.5 and gone in 3.6')),
  // v3.6.0 .. v3.6.14: server/etcdmain/config.go, server/embed/config.go.
  3.6: commandLine(`
    advertise-client-urls auth-token auth-token-ttl auto-compaction-mode auto-compaction-retention
    auto-tls backend-batch-interval backend-batch-limit backend-bbolt-freelist-type bcrypt-cost
    bootstrap-defrag-threshold-megabytes cert-file cipher-suites client-cert-allowed-hostname
    client-cert-auth client-cert-file client-crl-file client-key-file compact-hash-check-time
    compaction-batch-limit compaction-sleep-interval config-file corrupt-check-time cors data-dir
    discovery discovery-cacert discovery-cert discovery-dial-timeout discovery-endpoints
    discovery-fallback discovery-insecure-skip-tls-verify discovery-insecure-transport
    discovery-keepalive-time discovery-keepalive-timeout discovery-key discovery-password
    discovery-proxy discovery-request-timeout discovery-srv discovery-srv-name discovery-token
    discovery-user distributed-tracing-address distributed-tracing-instance-id
    distributed-tracing-sampling-rate distributed-tracing-service-name downgrade-check-time
    election-timeout enable-distributed-tracing enable-grpc-gateway enable-log-rotation enable-pprof
    experimental-bootstrap-defrag-threshold-megabytes experimental-compact-hash-check-enabled
    experimental-compact-hash-check-time experimental-compaction-batch-limit
    experimental-compaction-sleep-interval experimental-corrupt-check-time
    experimental-distributed-tracing-address experimental-distributed-tracing-instance-id
    experimental-distributed-tracing-sampling-rate experimental-distributed-tracing-service-name
    experimental-downgrade-check-time experimental-enable-distributed-tracing
    experimental-enable-lease-checkpoint experimental-enable-lease-checkpoint-persist
    experimental-initial-corrupt-check experimental-memory-mlock
    experimental-peer-skip-client-san-verification experimental-snapshot-catchup-entries
    experimental-stop-grpc-service-on-defrag experimental-txn-mode-write-with-shared-buffer
    experimental-warning-apply-duration experimental-warning-unary-request-duration
    experimental-watch-progress-notify-interval feature-gates force-new-cluster grpc-keepalive-interval
    grpc-keepalive-min-time grpc-keepalive-timeout heartbeat-interval host-whitelist
    initial-advertise-peer-urls initial-cluster initial-cluster-state initial-cluster-token
    initial-election-tick-advance key-file listen-client-http-urls listen-client-urls
    listen-metrics-urls listen-peer-urls log-format log-level log-outputs log-rotation-config-json
    logger max-concurrent-streams max-learners max-request-bytes max-snapshots max-txn-ops max-wals
    memory-mlock metrics name peer-auto-tls peer-cert-allowed-cn peer-cert-allowed-hostname
    peer-cert-file peer-client-cert-auth peer-client-cert-file peer-client-key-file peer-crl-file
    peer-key-file peer-skip-client-san-verification peer-trusted-ca-file pre-vote quota-backend-bytes
    raft-read-timeout raft-write-timeout self-signed-cert-validity snapshot-catchup-entries
    snapshot-count socket-reuse-address socket-reuse-port strict-reconfig-check tls-max-version
    tls-min-version trusted-ca-file unsafe-no-fsync v2-deprecation version wal-dir
    warning-apply-duration warning-unary-request-duration watch-progress-notify-interval
  `, {}, {
    ...deprecate(EXPERIMENTAL_3_6, 'deprecated in 3.6 and gone in 3.7 (a stable flag or a --feature-gates gate replaces it)'),
    ...deprecate(['max-snapshots', 'v2-deprecation'], 'deprecated in 3.6, to be removed in 3.8'),
    // 3.6.0 to 3.6.7 only; 3.6.8 took the deprecation back.
    'snapshot-count': 'deprecated in 3.6.0 to 3.6.7',
  }),
  // v3.7.0 .. v3.7.1: server/etcdmain/config.go, server/embed/config.go.
  3.7: commandLine(`
    advertise-client-urls auth-token auth-token-ttl auto-compaction-mode auto-compaction-retention
    auto-tls backend-batch-interval backend-batch-limit backend-bbolt-freelist-type bcrypt-cost
    bootstrap-defrag-threshold-megabytes cert-file cipher-suites client-cert-allowed-hostname
    client-cert-auth client-cert-file client-crl-file client-key-file compact-hash-check-time
    compaction-batch-limit compaction-sleep-interval config-file corrupt-check-time cors data-dir
    discovery-cacert discovery-cert discovery-dial-timeout discovery-endpoints discovery-fallback
    discovery-insecure-skip-tls-verify discovery-insecure-transport discovery-keepalive-time
    discovery-keepalive-timeout discovery-key discovery-password discovery-request-timeout discovery-srv
    discovery-srv-name discovery-token discovery-user distributed-tracing-address
    distributed-tracing-instance-id distributed-tracing-sampling-rate distributed-tracing-service-name
    downgrade-check-time election-timeout enable-distributed-tracing enable-grpc-gateway
    enable-log-rotation enable-pprof feature-gates force-new-cluster grpc-keepalive-interval
    grpc-keepalive-min-time grpc-keepalive-timeout heartbeat-interval host-whitelist
    initial-advertise-peer-urls initial-cluster initial-cluster-state initial-cluster-token
    initial-election-tick-advance key-file listen-client-http-urls listen-client-urls
    listen-metrics-urls listen-peer-urls log-format log-level log-outputs log-rotation-config-json
    logger max-concurrent-streams max-learners max-request-bytes max-snapshots max-txn-ops max-wals
    memory-mlock metrics name peer-auto-tls peer-cert-allowed-cn peer-cert-allowed-hostname
    peer-cert-file peer-client-cert-auth peer-client-cert-file peer-client-key-file peer-crl-file
    peer-key-file peer-skip-client-san-verification peer-trusted-ca-file pre-vote quota-backend-bytes
    raft-read-timeout raft-write-timeout self-signed-cert-validity snapshot-catchup-entries
    snapshot-count socket-reuse-address socket-reuse-port strict-reconfig-check tls-max-version
    tls-min-version trusted-ca-file unsafe-no-fsync v2-deprecation version wal-dir
    warning-apply-duration warning-unary-request-duration watch-progress-notify-interval
  `, {}, deprecate(['max-snapshots', 'v2-deprecation'], 'deprecated in 3.6, to be removed in 3.8')),
}

// A tool's command line: its global flags, and the subcommands we run.
interface Tool {
  readonly global: ReadonlySet<string>
  readonly commands: Readonly<Record<string, CommandLine>>
}

function tool (global: string, commands: Record<string, CommandLine>): Tool {
  return { global: commandLine(global).flags, commands }
}

const ETCDCTL_GLOBAL = 'cacert cert command-timeout debug dial-timeout discovery-srv discovery-srv-name endpoints hex insecure-discovery insecure-skip-tls-verify insecure-transport keepalive-time keepalive-timeout key password user write-out'
const RESTORE = 'data-dir initial-advertise-peer-urls initial-cluster initial-cluster-token name skip-hash-check wal-dir'
const MOVED_TO_ETCDUTL = 'deprecated in 3.5 (moved to etcdutl) and gone from etcdctl 3.6'
// `snapshot restore --bump-revision N --mark-compacted` (the seed of a
// restored cluster uses them where they exist): etcd-io/etcd#16029 in 3.6,
// backported by #16165 to etcdctl and etcdutl 3.5.10 (CHANGELOG-3.5,
// v3.5.10); etcdctl 3.4.27 as read from the v3.4 tags (not re-checked
// against CHANGELOG-3.4).

// etcdctl (v3 API; the default from 3.4 on). 3.6 and 3.7 only save.
export const ETCDCTL: Readonly<Record<string, Tool>> = {
  3.4: tool(ETCDCTL_GLOBAL, {
    'snapshot save': commandLine(''),
    'snapshot status': commandLine(''),
    'snapshot restore': commandLine(RESTORE, { 'bump-revision': 27, 'mark-compacted': 27 }),
  }),
  3.5: tool(ETCDCTL_GLOBAL, {
    'snapshot save': commandLine(''),
    'snapshot status': commandLine('', {}, { '': MOVED_TO_ETCDUTL }),
    'snapshot restore': commandLine(RESTORE, { 'bump-revision': 10, 'mark-compacted': 10, 'initial-memory-map-size': 14 }, { '': MOVED_TO_ETCDUTL }),
  }),
  3.6: tool(`${ETCDCTL_GLOBAL} max-recv-bytes max-request-bytes`, { 'snapshot save': commandLine('') }),
  3.7: tool(`${ETCDCTL_GLOBAL} max-recv-bytes max-request-bytes auth-jwt-token`, { 'snapshot save': commandLine('') }),
}

const RESTORE_3_6 = `${RESTORE} bump-revision initial-memory-map-size mark-compacted`

// etcdutl (3.5 on): file operations on snapshots and data dirs.
export const ETCDUTL: Readonly<Record<string, Tool>> = {
  3.5: tool('write-out', {
    'snapshot save': commandLine('', {}, { '': 'deprecated: etcdctl snapshot save downloads snapshots' }),
    'snapshot status': commandLine(''),
    'snapshot restore': commandLine(RESTORE, { 'bump-revision': 10, 'mark-compacted': 10, 'initial-memory-map-size': 14 }),
  }),
  3.6: tool('write-out', { 'snapshot status': commandLine(''), 'snapshot restore': commandLine(RESTORE_3_6) }),
  3.7: tool('timeout write-out', { 'snapshot status': commandLine(''), 'snapshot restore': commandLine(RESTORE_3_6) }),
}

// This version's entry of a per-minor table, and its patch; undefined
// when it is no version or a minor the table does not have.
function entryOf<T> (table: Readonly<Record<string, T>>, version: string): { entry: T, minor: string, patch: number } | undefined {
  const parsed = parseVersion(version)
  if (parsed === undefined) return undefined
  const minor = `${parsed[0]}.${parsed[1]}`
  const entry = table[minor]
  return entry === undefined ? undefined : { entry, minor, patch: parsed[2] }
}

// What etcd `version` would say of `--flag` in this command line:
// undefined when it takes the flag as it is.
function flagProblem (line: CommandLine, at: { minor: string, patch: number }, version: string, flag: string, global: ReadonlySet<string> = new Set()): string | undefined {
  const since = line.since[flag]
  if (!line.flags.has(flag) && !global.has(flag) && (since === undefined || at.patch < since)) {
    return `etcd ${version} does not know --${flag}${since !== undefined ? ` (${at.minor}.${since} and later do)` : ''}`
  }
  const why = line.deprecated[flag]
  return why === undefined ? undefined : `etcd ${version} deprecates --${flag}: ${why}`
}

// `--name=value` or `--name` → name; undefined for anything else.
function flagName (arg: string): string | undefined {
  const match = /^--([a-z][a-z0-9.-]*)(=|$)/.exec(arg)
  return match?.[1]
}

// Why the etcd server of exactly this version would not run these
// arguments as they are (exit 2 on an unknown flag, a warning on a
// deprecated one): one sentence each.
export function serverArgProblems (version: string, args: readonly string[]): string[] {
  const found = entryOf(ETCD_SERVER_FLAGS, version)
  if (found === undefined) return [`etcd ${version} is not in the flag table (hooks/etcd/flags.ts knows ${Object.keys(ETCD_SERVER_FLAGS).join(', ')})`]
  return args.flatMap(arg => {
    const name = flagName(arg)
    if (name === undefined) return [`etcd takes flags only, not '${arg}'`]
    const problem = flagProblem(found.entry, found, version, name)
    return problem === undefined ? [] : [problem]
  })
}

// The versions a member pod rendered for `version` may run: its arguments
// stay while in-place upgrades change only its image (pod specs are
// immutable, DESIGN.md §4), so they must suit its own version and every
// later minor it may be upgraded to, one minor at a time; each from its
// first patch, which knows the fewest flags. A tag that is no version (a
// digest, `latest`): every minor we know. (A patch downgrade within the
// minor is not covered: flags with a `since` patch are for new code to
// weigh.)
export function versionsAhead (version: string): string[] {
  const minors = Object.keys(ETCD_SERVER_FLAGS)
  const parsed = parseVersion(version)
  if (parsed === undefined) return minors.map(minor => `${minor}.0`)
  const own = parsed.join('.')
  return [own, ...minors.filter(minor => compareVersions(`${minor}.0`, `${parsed[0]}.${parsed[1]}.0`) > 0).map(minor => `${minor}.0`)]
}

// Problems of these arguments for any version the pod may run under.
export function serverArgProblemsAhead (version: string, args: readonly string[]): string[] {
  return [...new Set(versionsAhead(version).flatMap(ahead => serverArgProblems(ahead, args)))]
}

// The first of these flag names (one setting under the names etcd gave
// it over time) that every version ahead takes, for settings whose flag
// differs between minors; undefined when none does (leave it out).
export function chooseFlag (version: string, ...names: string[]): string | undefined {
  return names.find(name => serverArgProblemsAhead(version, [`--${name}`]).length === 0)
}

// The member's etcd arguments, refused when a version the pod may run
// under would not take them: a crash-looping member is worse than a sync
// that fails (500, nothing changes) naming the flag.
export function runnableServerArgs (version: string, args: string[]): string[] {
  const problems = serverArgProblemsAhead(version, args)
  if (problems.length > 0) throw new Error(`the member's etcd arguments would not run: ${problems.join('; ')}`)
  return args
}

// etcd reads ETCD_<FLAG> for each flag not given on the command line.
export function envOfFlag (flag: string): string {
  return `ETCD_${flag.toUpperCase().replaceAll('-', '_').replaceAll('.', '_')}`
}

// Environment variables (spec.pod.etcdEnv) that etcd would refuse with
// these arguments: a variable for a flag the command line also sets is
// fatal at start; one for a flag a version ahead deprecates is named too.
// Others etcd does not know only make it warn.
export function envProblems (version: string, names: readonly string[], args: readonly string[]): string[] {
  const given = new Map(args.flatMap(arg => {
    const flag = flagName(arg)
    return flag === undefined ? [] : [[envOfFlag(flag), arg] as const]
  }))
  return names.flatMap(name => {
    const arg = given.get(name)
    if (arg !== undefined) return [`${name} repeats the argument ${arg}: etcd refuses to start`]
    if (!name.startsWith('ETCD_')) return []
    const flag = name.slice('ETCD_'.length).toLowerCase().replaceAll('_', '-')
    return versionsAhead(version).flatMap(ahead => {
      const why = entryOf(ETCD_SERVER_FLAGS, ahead)?.entry.deprecated[flag]
      return why === undefined ? [] : [`${name}: etcd ${ahead} deprecates --${flag}: ${why}`]
    })
  })
}

// Why etcdctl or etcdutl of this version would not run these arguments
// (global flags, the subcommand's words, its flags, then its file).
export function toolArgProblems (tools: Readonly<Record<string, Tool>>, name: string, version: string, args: readonly string[]): string[] {
  const found = entryOf(tools, version)
  if (found === undefined) return [`${name} ${version} is not in the flag table`]
  const { commands, global } = found.entry
  const words = args.filter(arg => !arg.startsWith('--')).join(' ')
  const match = Object.entries(commands).find(([known]) => words === known || words.startsWith(`${known} `))
  if (match === undefined) return [`${name} ${version} has no subcommand '${words.split(' ').slice(0, 2).join(' ')}' (it has: ${Object.keys(commands).join(', ')})`]
  const [command, line] = match
  const deprecated = line.deprecated['']
  return [
    ...(deprecated !== undefined ? [`${name} ${version} deprecates '${command}': ${deprecated}`] : []),
    ...args.flatMap(arg => {
      if (!arg.startsWith('--')) return []
      const problem = flagProblem(line, found, version, flagName(arg) ?? arg.slice(2), global)
      return problem === undefined ? [] : [problem.replace(/^etcd /, `${name} `)]
    }),
  ]
}
