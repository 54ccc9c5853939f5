// The server's settings, from its environment. Pure: `readConfig(env)`
// returns settings or throws one error naming every bad variable.
export interface Config {
  port: number
  logLevel: string
  etcdRequestTimeoutMs: number
  tls?: { certFile: string, keyFile: string, clientCAFile?: string | undefined } | undefined
  bearerTokenFile?: string | undefined
  basicAuthFile?: string | undefined // "user:password" in one file
  basicAuthFiles?: { usernameFile: string, passwordFile: string } | undefined // a kubernetes.io/basic-auth Secret's keys
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function readConfig (env: Record<string, string | undefined>): Config {
  const problems: string[] = []
  // An empty variable counts as unset (a chart value left blank).
  const setting = (name: string): string | undefined => env[name] === '' ? undefined : env[name]
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min || value > max) problems.push(`${name}=${raw}: want a whole number from ${min} to ${max}`)
    return value
  }
  const port = integer('PORT', 8080, 1, 65535)
  const etcdRequestTimeoutMs = integer('ETCD_REQUEST_TIMEOUT_MS', 1500, 100, 4000)
  const logLevel = env.LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel}: want one of ${LOG_LEVELS.join(', ')}`)
  const certFile = setting('HOOK_TLS_CERT_FILE')
  const keyFile = setting('HOOK_TLS_KEY_FILE')
  if ((certFile === undefined) !== (keyFile === undefined)) problems.push('HOOK_TLS_CERT_FILE and HOOK_TLS_KEY_FILE go together')
  const clientCAFile = setting('HOOK_TLS_CLIENT_CA_FILE')
  if (clientCAFile !== undefined && certFile === undefined) problems.push('HOOK_TLS_CLIENT_CA_FILE needs HOOK_TLS_CERT_FILE and HOOK_TLS_KEY_FILE')
  const basicAuthFile = setting('HOOK_BASIC_AUTH_FILE')
  const usernameFile = setting('HOOK_BASIC_AUTH_USERNAME_FILE')
  const passwordFile = setting('HOOK_BASIC_AUTH_PASSWORD_FILE')
  if (usernameFile !== undefined && passwordFile === undefined) problems.push('HOOK_BASIC_AUTH_USERNAME_FILE needs HOOK_BASIC_AUTH_PASSWORD_FILE')
  if (passwordFile !== undefined && usernameFile === undefined) problems.push('HOOK_BASIC_AUTH_PASSWORD_FILE needs HOOK_BASIC_AUTH_USERNAME_FILE')
  if (basicAuthFile !== undefined && (usernameFile !== undefined || passwordFile !== undefined)) {
    problems.push('HOOK_BASIC_AUTH_FILE and HOOK_BASIC_AUTH_USERNAME_FILE/HOOK_BASIC_AUTH_PASSWORD_FILE: set one or the other')
  }
  if (problems.length > 0) throw new Error(`bad configuration: ${problems.join('; ')}`)
  return {
    port,
    logLevel,
    etcdRequestTimeoutMs,
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile, clientCAFile } : undefined,
    bearerTokenFile: setting('HOOK_BEARER_TOKEN_FILE'),
    basicAuthFile,
    basicAuthFiles: usernameFile !== undefined && passwordFile !== undefined ? { usernameFile, passwordFile } : undefined,
  }
}
