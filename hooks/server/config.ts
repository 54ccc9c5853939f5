// The server's settings, from its environment. Pure: `readConfig(env)`
// returns settings or throws one error naming every bad variable (main.ts
// prints it as one line and exits).
import { DEFAULT_SETTINGS } from '../cluster/model.js'

export interface Config {
  port: number
  // A second, plain-HTTP port serving only /healthz and /readyz: probes for
  // a hook that requires client certificates (the kubelet has none).
  probePort?: number | undefined
  logLevel: string
  etcdRequestTimeoutMs: number
  // The operator image, whose runner backup Jobs run (hooks/runner).
  runnerImage: string
  tls?: { certFile: string, keyFile: string, clientCAFile?: string | undefined } | undefined
  bearerTokenFile?: string | undefined
  basicAuthFile?: string | undefined // "user:password" in one file
  basicAuthFiles?: BasicAuthFiles | undefined // a kubernetes.io/basic-auth Secret's keys
  // During a rotation, accepted as well while the files exist (README,
  // "Rotating credentials").
  previousBearerTokenFile?: string | undefined
  previousBasicAuthFile?: string | undefined
  previousBasicAuthFiles?: BasicAuthFiles | undefined
}

export interface BasicAuthFiles { usernameFile: string, passwordFile: string }

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

type Env = Record<string, string | undefined>

export function readConfig (env: Env): Config {
  const problems: string[] = []
  // An empty variable counts as unset (a chart value left blank).
  const setting = (name: string): string | undefined => env[name] === '' ? undefined : env[name]
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    // Decimal digits only: Number() would take ' 80', '0x50' or '1e3'.
    const value = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : NaN
    if (!Number.isInteger(value) || value < min || value > max) problems.push(`${name}=${raw}: want a whole number from ${min} to ${max}`)
    return value
  }
  const port = integer('PORT', 8080, 1, 65535)
  const probePort = setting('HOOK_PROBE_PORT') === undefined ? undefined : integer('HOOK_PROBE_PORT', 0, 1, 65535)
  if (probePort !== undefined && probePort === port) problems.push(`HOOK_PROBE_PORT=${probePort}: want a port other than PORT (${port})`)
  const etcdRequestTimeoutMs = integer('ETCD_REQUEST_TIMEOUT_MS', 1500, 100, 4000)
  const logLevel = env.LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel}: want one of ${LOG_LEVELS.join(', ')}`)
  const certFile = setting('HOOK_TLS_CERT_FILE')
  const keyFile = setting('HOOK_TLS_KEY_FILE')
  if ((certFile === undefined) !== (keyFile === undefined)) problems.push('HOOK_TLS_CERT_FILE and HOOK_TLS_KEY_FILE go together')
  const clientCAFile = setting('HOOK_TLS_CLIENT_CA_FILE')
  if (clientCAFile !== undefined && certFile === undefined) problems.push('HOOK_TLS_CLIENT_CA_FILE needs HOOK_TLS_CERT_FILE and HOOK_TLS_KEY_FILE')
  const bearerTokenFile = setting('HOOK_BEARER_TOKEN_FILE')
  const previousBearerTokenFile = setting('HOOK_BEARER_TOKEN_PREVIOUS_FILE')
  if (previousBearerTokenFile !== undefined && bearerTokenFile === undefined) problems.push('HOOK_BEARER_TOKEN_PREVIOUS_FILE needs HOOK_BEARER_TOKEN_FILE (the token that replaces it)')
  const current = basicAuthSettings(setting, problems, '')
  const previous = basicAuthSettings(setting, problems, 'PREVIOUS_')
  if ((previous.file !== undefined || previous.files !== undefined) && current.file === undefined && current.files === undefined) {
    problems.push('HOOK_BASIC_AUTH_PREVIOUS_* needs HOOK_BASIC_AUTH_FILE or HOOK_BASIC_AUTH_USERNAME_FILE/HOOK_BASIC_AUTH_PASSWORD_FILE (the credentials that replace them)')
  }
  if (problems.length > 0) throw new Error(`bad configuration: ${problems.join('; ')}`)
  return {
    port,
    probePort,
    logLevel,
    etcdRequestTimeoutMs,
    runnerImage: setting('RUNNER_IMAGE') ?? DEFAULT_SETTINGS.runnerImage,
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile, clientCAFile } : undefined,
    bearerTokenFile,
    basicAuthFile: current.file,
    basicAuthFiles: current.files,
    previousBearerTokenFile,
    previousBasicAuthFile: previous.file,
    previousBasicAuthFiles: previous.files,
  }
}

// HOOK_BASIC_AUTH_<infix>FILE, or HOOK_BASIC_AUTH_<infix>USERNAME_FILE and
// HOOK_BASIC_AUTH_<infix>PASSWORD_FILE (both or neither); not both forms.
function basicAuthSettings (setting: (name: string) => string | undefined, problems: string[], infix: '' | 'PREVIOUS_'): { file?: string | undefined, files?: BasicAuthFiles | undefined } {
  const [oneName, usernameName, passwordName] = [`HOOK_BASIC_AUTH_${infix}FILE`, `HOOK_BASIC_AUTH_${infix}USERNAME_FILE`, `HOOK_BASIC_AUTH_${infix}PASSWORD_FILE`]
  const file = setting(oneName)
  const usernameFile = setting(usernameName)
  const passwordFile = setting(passwordName)
  if (usernameFile !== undefined && passwordFile === undefined) problems.push(`${usernameName} needs ${passwordName}`)
  if (passwordFile !== undefined && usernameFile === undefined) problems.push(`${passwordName} needs ${usernameName}`)
  if (file !== undefined && (usernameFile !== undefined || passwordFile !== undefined)) {
    problems.push(`${oneName} and ${usernameName}/${passwordName}: set one or the other`)
  }
  return { file, files: usernameFile !== undefined && passwordFile !== undefined ? { usernameFile, passwordFile } : undefined }
}
