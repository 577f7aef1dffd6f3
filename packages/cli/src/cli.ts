import { readFileSync } from 'node:fs';
import { isLaminateError } from '@laminate/core';
import { type Command, parseCommand } from './command.js';
import { casCommand } from './commands/cas.js';
import { cat } from './commands/cat.js';
import { catalogCommand } from './commands/catalog.js';
import { drop } from './commands/drop.js';
import { du } from './commands/du.js';
import { compact } from './commands/compact.js';
import { keys } from './commands/keys.js';
import { serve } from './commands/serve.js';
import { read, write } from './commands/tables.js';
import { tail } from './commands/tail.js';
import { trim } from './commands/trim.js';
import { helpTopic, isUsage, near, usageError } from './errors.js';
import { commandHelp, mainHelp } from './help.js';
import { type Io, processIo } from './io.js';
import { Progress } from './progress.js';

export const COMMANDS: readonly Command[] = [keys, cat, tail, trim, du, drop, compact, serve, read, write, casCommand, catalogCommand];

/** The package's version; package.json is one folder up from both src/ and dist/. */
export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/**
 * Runs one `laminate` command line (without the program name) and returns its
 * exit status: 0 done, 1 the store failed, 2 the command line is wrong.
 * Errors are reported on io.stderr, never thrown.
 */
export async function run(argv: readonly string[], io: Io = processIo()): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined) {
      io.stderr.write(mainHelp(COMMANDS, VERSION));
      return 2;
    }
    if (first === '-h' || first === '--help') return print(io, mainHelp(COMMANDS, VERSION));
    if (first === '-V' || first === '--version') return print(io, `laminate ${VERSION}\n`);
    if (first === 'help') {
      if (rest.length === 0) return print(io, mainHelp(COMMANDS, VERSION));
      return print(io, commandHelp(find(rest[0])));
    }
    if (first.startsWith('-')) throw usageError(`Unknown option ${first} before the command. The command comes first: laminate COMMAND [options], such as laminate keys --json SPEC.`);
    const command = find(first);
    const parsed = parseCommand(command, [...rest]);
    if (parsed === undefined) return print(io, commandHelp(command));
    return await command.run({
      io,
      ...parsed,
      progress: (writesToStdout) => Progress.choose(io, parsed.values as never, command.name, writesToStdout),
    });
  } catch (error) {
    return report(error, io);
  }
}

function find(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (command) return command;
  const like = near(name, COMMANDS.map((c) => c.name));
  throw usageError(`Unknown command "${name}".${like.length > 0 ? ` Did you mean ${like.join(' or ')}?` : ''} The commands are ${COMMANDS.map((c) => c.name).join(', ')}.`);
}

function print(io: Io, text: string): number {
  io.stdout.write(text);
  return 0;
}

/** Prints an error as `laminate: CODE: message` and returns its exit status. */
function report(error: unknown, io: Io): number {
  // The reader of stdout went away (`laminate keys S | head`): nothing to say, as for any Unix tool.
  if ((error as NodeJS.ErrnoException)?.code === 'EPIPE') return 0;
  if (isLaminateError(error)) {
    io.stderr.write(`laminate: ${error.code}: ${error.message}\n`);
    if (isUsage(error)) {
      const topic = helpTopic(error);
      io.stderr.write(`Run "laminate ${topic === undefined ? '' : `${topic} `}--help" for usage.\n`);
      return 2;
    }
    return 1;
  }
  const text = error instanceof Error ? (io.env.LAMINATE_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
  io.stderr.write(`laminate: ${text}\n`);
  return 1;
}
