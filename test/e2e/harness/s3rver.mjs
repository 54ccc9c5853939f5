// An S3-protocol server (s3rver, from npm) for the backup scenarios, run
// inside a network namespace of the harness: node s3rver.mjs ADDRESS PORT
// DIRECTORY BUCKET. Objects live as files under DIRECTORY, so a restart on
// the same directory keeps them. Prints "listening" once it serves; exits
// when stdin closes (its harness is gone) or on SIGTERM.
import S3rver from 's3rver'

const [address, port, directory, bucket] = process.argv.slice(2)
const server = new S3rver({ address, port: Number(port), directory, silent: true, configureBuckets: [{ name: bucket }] })
await server.run()
process.stdout.write('listening\n')
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
process.on('SIGTERM', () => process.exit(0))
