import type { Command } from '../command.js';
import { PROGRESS_OPTIONS, withStore } from '../command.js';
import { Output } from '../io.js';
import { formatKey, jsonKey } from '../keys.js';
import { count } from '../progress.js';

export const keys: Command = {
  name: 'keys',
  summary: 'list the keys of a store, one per line',
  usage: ['keys SPEC [--json]'],
  description: [
    'Prints every key of the store, sorted, one per line. A string key is printed as it is,',
    'unless it is empty, starts with [ or ", has leading or trailing white space or holds a',
    'control character (a newline): then it is printed as a JSON string. A tuple key is a JSON',
    'array. Every line reads back as the same key in `laminate cat SPEC KEY`.',
  ].join('\n'),
  options: {
    json: { type: 'boolean', help: 'print every key as JSON (a string or an array), one per line' },
    ...PROGRESS_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: 'SPEC' },
  examples: ["laminate keys 'file(/data/shuffle)'", "laminate keys --json 'msgpack(zstd(file(/data/x)))' | jq -r 'if type == \"array\" then .[0] else . end'"],
  async run({ io, values, positionals, progress: chooseProgress }) {
    const progress = chooseProgress(true);
    let listed: readonly unknown[] | undefined;
    let printed = 0;
    progress.start(() => (listed === undefined ? `listing keys… ${progress.elapsed()}` : `${count(printed)}/${count(listed.length)} keys`));
    try {
      await withStore(positionals[0], 'keys', { io, directories: 'exists' }, async (store) => {
        const format = values.json ? jsonKey : formatKey;
        const lines = (await store.keys()).map(format);
        listed = lines;
        // Sorted by code unit, so the listing is the same on every run and platform.
        lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const out = new Output(io.stdout);
        for (const line of lines) {
          await out.text(line + '\n');
          printed++;
          if ((printed & 1023) === 0) progress.poke();
        }
        await out.flush();
      });
    } finally {
      progress.done();
    }
    return 0;
  },
};
