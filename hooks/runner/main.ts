// The operator image's second entry point, for backup Jobs and restore init
// containers: node dist/runner/main.js upload|fetch|commit [flags].
import { run } from './cli.js'

// Exits when done: an idle keep-alive socket of a client must not hold the
// container open (stdout and stderr are synchronous on pipes and files).
process.exit(await run(process.argv.slice(2), {
  env: process.env,
  out: line => process.stdout.write(`${line}\n`),
  err: line => process.stderr.write(`${line}\n`),
}))
