// Credentials from a mounted Secret, the CoreOS operator's format: files
// `credentials` (and optionally `config`) in the AWS shared-file format, read
// by the SDK's own provider; or files AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN). Without a
// directory the SDK's default chain applies (environment, web identity, ...).
import type { S3ClientConfig } from '@aws-sdk/client-s3'
import { fromIni } from '@aws-sdk/credential-providers'
import { getProfileName, loadSharedConfigFiles } from '@smithy/core/config'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RunnerError, describe, errorCode } from './errors.js'
import { exists } from './files.js'
import { isRegionName } from './options.js'

export type Credentials = NonNullable<S3ClientConfig['credentials']>

export async function credentialsFrom (awsDir: string | undefined): Promise<Credentials | undefined> {
  if (awsDir === undefined) return undefined
  const credentialsFile = join(awsDir, 'credentials')
  const configFile = join(awsDir, 'config')
  if (await exists(credentialsFile) || await exists(configFile)) {
    // The profile is AWS_PROFILE's, else `default`, as everywhere in the SDK.
    return fromIni({ filepath: credentialsFile, configFilepath: configFile, ignoreCache: true })
  }
  const [accessKeyId, secretAccessKey, sessionToken] = await Promise.all(
    ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'].map(name => readKey(awsDir, name)),
  )
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new RunnerError(`--aws-dir ${awsDir}: expected files credentials (and config), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`)
  }
  return { accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) }
}

async function readKey (dir: string, name: string): Promise<string | undefined> {
  try {
    const value = (await readFile(join(dir, name), 'utf8')).trim()
    return value === '' ? undefined : value
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined
    throw new RunnerError(`--aws-dir ${dir}: cannot read ${name}: ${describe(error)}`)
  }
}

// The region of the profile in the Secret's `config` file (the CoreOS
// format carries it there), read by the SDK's own ini loader; the S3
// client itself only looks at ~/.aws, not at the mounted Secret.
export async function regionFrom (awsDir: string | undefined): Promise<string | undefined> {
  if (awsDir === undefined) return undefined
  const configFile = join(awsDir, 'config')
  if (!await exists(configFile)) return undefined
  const { configFile: profiles } = await loadSharedConfigFiles({
    filepath: join(awsDir, 'credentials'), configFilepath: configFile, ignoreCache: true,
  })
  const region = profiles[getProfileName({})]?.region
  if (region === undefined) return undefined
  if (!isRegionName(region)) throw new RunnerError(`--aws-dir ${awsDir}: config names region '${region}', which is not a region name`)
  return region
}
