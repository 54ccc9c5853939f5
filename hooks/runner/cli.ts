// The runner's command line: `<command> [flags]` -> one JSON line on stdout
// and exit 0, or one line on stderr naming what is wrong and exit 1 (the
// work failed) or 2 (the command line is wrong). Progress goes to stderr.
import { writeFile } from 'node:fs/promises'
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
  const [command = '', ...rest] = argv
  const { terminationLog, args } = takeTerminationLog(rest)
  try {
    const result = await dispatch(command, args, io)
    io.out(JSON.stringify(result))
    await writeTerminationLog(terminationLog, JSON.stringify(result), io)
    return 0
  } catch (error) {
    const prefix = COMMANDS.includes(command as typeof COMMANDS[number]) ? `runner ${command}` : 'runner'
    io.err(`${prefix}: ${describe(error)}`)
    await writeTerminationLog(terminationLog, `${prefix}: ${describe(error)}`, io)
    if (error instanceof UsageError) return 2
    if (!(error instanceof RunnerError) && error instanceof Error && error.stack !== undefined) {
      // Not one of ours: the stack helps whoever reads the pod's log.
      io.err(error.stack.split('\n').slice(1, 4).join(' | '))
    }
    return 1
  }
}

// --termination-log FILE (any command): the result line, or the error,
// also goes there. Kubernetes shows that file's text in the Pod's status
// (containerStatuses[].state.terminated.message), where the hook reads it.
function takeTerminationLog (args: readonly string[]): { terminationLog: string | undefined, args: string[] } {
  let terminationLog: string | undefined
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ''
    if (arg.startsWith('--termination-log=')) terminationLog = arg.slice('--termination-log='.length)
    else if (arg === '--termination-log') terminationLog = args[++i]
    else rest.push(arg)
  }
  return { terminationLog, args: rest }
}

// Kubernetes keeps at most 4096 bytes of it; a failed write is only logged.
async function writeTerminationLog (path: string | undefined, text: string, io: Io): Promise<void> {
  if (path === undefined || path === '') return
  await writeFile(path, text.slice(0, 4096)).catch((error: unknown) => {
    io.err(`runner: could not write --termination-log ${path}: ${describe(error)}`)
  })
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
