import { createInterface } from 'node:readline';
import { formatSpec } from '@laminate/core';
import type { Command } from '../command.js';
import { PROGRESS_OPTIONS, withStore } from '../command.js';
import { usageError } from '../errors.js';
import type { Io } from '../io.js';
import { count } from '../progress.js';

export const drop: Command = {
  name: 'drop',
  summary: 'delete every key of a store (asks first, or --yes)',
  usage: ['drop SPEC [--yes]'],
  description: [
    'Empties the store with its drop(): every key and its values, and iset metadata. The store',
    'stays usable (for file(), the directory and its lock stay).',
    '',
    'Without --yes, drop asks on the terminal first and does nothing unless you answer y.',
    'Without --yes and with no terminal to ask on (a script, a pipe), it refuses with exit 2.',
    'It also refuses (exit 1, ERR_NOT_A_STORE) a file() directory that may not be a store: one',
    "holding anything file() does not write (a dotfile, a name with a space, a folder without",
    "%d, a symlink), or holding files but no .laminate.gen (laminate never wrote there).",
    'A refused or declined drop changes nothing.',
  ].join('\n'),
  options: {
    yes: { type: 'boolean', short: 'y', help: 'drop without asking' },
    ...PROGRESS_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: 'SPEC' },
  examples: ["laminate drop 'file(/tmp/shuffle)'", "laminate drop --yes 'file(/tmp/shuffle)'"],
  async run({ io, values, positionals, progress: chooseProgress }) {
    const [spec] = positionals;
    // Refuse before opening anything: a script without --yes must not even take the lock.
    if (!values.yes && !(io.stdin.isTTY && io.stderr.isTTY)) {
      throw usageError(`drop deletes every key of ${spec}; it asks for confirmation on a terminal, and there is none here. Pass --yes to drop without asking.`, 'drop');
    }
    const progress = chooseProgress(false);
    let keys: number | undefined;
    let cancelled = false;
    let name = spec;
    try {
      await withStore(spec, 'drop', { io, directories: 'store' }, async (store) => {
        name = formatSpec(store.describe());
        progress.start(() => `counting keys… ${progress.elapsed()}`);
        keys = (await store.keys()).length;
        if (!values.yes) {
          progress.done();
          if (!(await confirm(io, `Drop all ${count(keys)} keys of ${name}? This cannot be undone. [y/N] `))) {
            cancelled = true;
            return;
          }
        }
        progress.start(() => `dropping ${count(keys ?? 0)} keys… ${progress.elapsed()}`);
        await store.drop();
      });
    } finally {
      progress.done();
    }
    if (cancelled) {
      io.stderr.write('laminate: drop cancelled; nothing was deleted.\n');
      return 1;
    }
    io.stderr.write(`laminate: dropped ${count(keys ?? 0)} keys from ${name}\n`);
    return 0;
  },
};

/** Asks on stderr and reads one line from stdin: y or yes (any case) is yes. */
async function confirm(io: Io, question: string): Promise<boolean> {
  const lines = createInterface({ input: io.stdin, output: io.stderr, terminal: false });
  try {
    io.stderr.write(question);
    const answer = await new Promise<string>((resolve) => {
      lines.once('line', resolve);
      lines.once('close', () => resolve(''));
    });
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    lines.close();
  }
}
