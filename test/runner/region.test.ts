// Which region the S3 client signs for: --s3-region (spec's region), else
// the profile's region in the Secret's `config` file (the CoreOS format
// puts it there), else us-east-1. The SDK itself would only read ~/.aws.
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { S3Settings } from '../../hooks/runner/options.js'
import { s3ClientConfig } from '../../hooks/runner/s3.js'
import { keyFilesDir, tempDir } from './helpers.js'

const settings = (extra: Partial<S3Settings>): S3Settings => ({ kind: 's3', bucket: 'b', forcePathStyle: false, ...extra })
const regionOf = async (extra: Partial<S3Settings>) => (await s3ClientConfig(settings(extra))).region

t.test('the region comes from the flag, then the Secret\'s config file, then us-east-1', async t => {
  const coreos = await tempDir(t, 'region-coreos')
  await writeFile(join(coreos, 'credentials'), '[default]\naws_access_key_id = A\naws_secret_access_key = B\n')
  await writeFile(join(coreos, 'config'), '[default]\nregion = eu-central-1\n\n[profile other]\nregion = ap-south-1\n')
  t.equal(await regionOf({ awsDir: coreos }), 'eu-central-1', 'the config file\'s default profile')
  t.equal(await regionOf({ awsDir: coreos, region: 'eu-west-1' }), 'eu-west-1', 'the flag wins over the file')

  const saved = process.env.AWS_PROFILE
  t.teardown(() => {
    if (saved === undefined) delete process.env.AWS_PROFILE
    else process.env.AWS_PROFILE = saved
  })
  process.env.AWS_PROFILE = 'other'
  t.equal(await regionOf({ awsDir: coreos }), 'ap-south-1', 'AWS_PROFILE picks the profile, as for the credentials')
  delete process.env.AWS_PROFILE

  const noRegion = await tempDir(t, 'region-none')
  await writeFile(join(noRegion, 'config'), '[default]\noutput = json\n')
  t.equal(await regionOf({ awsDir: noRegion }), 'us-east-1', 'a config without a region')
  t.equal(await regionOf({ awsDir: await keyFilesDir(t) }), 'us-east-1', 'key files, no config')
  t.equal(await regionOf({}), 'us-east-1', 'no Secret')

  const bad = await tempDir(t, 'region-bad')
  await writeFile(join(bad, 'config'), '[default]\nregion = Not A Region\n')
  await t.rejects(regionOf({ awsDir: bad }), { message: /^--aws-dir \S+: config names region 'Not A Region', which is not a region name$/ })
})
