// The runner's command line: `<command> [flags]` -> one JSON line on stdout
// and exit 0, or one line on stderr naming what is wrong and exit 1 (the
// work failed) or 2 (the command line is wrong). Progress goes to stderr.
import { RunnerError, UsageError, describe } from './errors.js'
import { parseFlags } from './flags.js'
import { COMMIT_FLAGS, FETCH_FLAGS, UPLOAD_FLAGS, commitOptions, fetchOptions, uploadOptions } from './options.js'
import { commitRestore, fetchBackup } from './restore.js'
import { upload } from './upload.js'

export interface Io {
  env: NodeJS.ProcessEnv
  out: (line: string) => void
  err: (line: string) => void
}

const COMMANDS = ['upload', 'fetch', 'commit'] as const

export async function run (argv: readonly string[], io: Io): Promise<number> {
  const [command = '', ...args] = argv
  try {
    const result = await dispatch(command, args, io)
    io.out(JSON.stringify(result))
    return 0
  } catch (error) {
    const prefix = COMMANDS.includes(command as typeof COMMANDS[number]) ? `runner ${command}` : 'runner'
    io.err(`${prefix}: ${describe(error)}`)
    if (error instanceof UsageError) return 2
    if (!(error instanceof RunnerError) && error instanceof Error && error.stack !== undefined) {
      // Not one of ours: the stack helps whoever reads the pod's log.
      io.err(error.stack.split('\n').slice(1, 4).join(' | '))
    }
    return 1
  }
}

async function dispatch (command: string, args: readonly string[], io: Io): Promise<object> {
  const log = (line: string) => { io.err(`runner ${command}: ${line}`) }
  switch (command) {
    case 'upload':
      return upload(uploadOptions(parseFlags(command, args, UPLOAD_FLAGS)), { env: io.env, log })
    case 'fetch':
      return fetchBackup(fetchOptions(parseFlags(command, args, FETCH_FLAGS)))
    case 'commit':
      return commitRestore(commitOptions(parseFlags(command, args, COMMIT_FLAGS)))
    default:
      throw new UsageError(`${command === '' ? 'no command' : `unknown command '${command}'`}: expected ${COMMANDS.join(', ')} (node dist/runner/main.js <command> --flag value ...)`)
  }
}
