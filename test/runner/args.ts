// Flags as the CLI parses them, for calling a command's code in-process.
import { parseFlags, type Flags } from '../../hooks/runner/flags.js'
import { FETCH_FLAGS, UPLOAD_FLAGS } from '../../hooks/runner/options.js'

export function flagsFor (command: 'upload' | 'fetch', args: string[]): Flags {
  return parseFlags(command, args, command === 'upload' ? UPLOAD_FLAGS : FETCH_FLAGS)
}
