import type { Command } from '../command.js';
import { withStore } from '../command.js';
import { usageError } from '../errors.js';
import { parseKey } from '../keys.js';

export const trim: Command = {
  name: 'trim',
  summary: "drop a key's values from the front, up to what its consumers have passed",
  usage: ['trim SPEC KEY [POSITION]'],
  description: [
    "Drops KEY's bytes before POSITION, or, without one, before the lowest position its",
    'registered consumers committed (store.commit(key, consumer, position); nothing when none',
    'is registered). Positions stay as they were: the key starts at the new position, and a',
    'follower asking for one before it gets ERR_TRIMMED. A POSITION past the key\'s end, or past',
    'a position a registered consumer committed, is refused and trims nothing.',
    '',
    'Prints the key\'s start before and after, then each consumer with its committed position.',
  ].join('\n'),
  options: {},
  positionals: { min: 2, max: 3, names: 'SPEC, KEY and POSITION' },
  examples: ["laminate trim 'msgpack(file(/data/events))' clicks", "laminate trim 'file(/data/events)' clicks 1048576"],
  async run({ io, positionals }) {
    const [spec, keyText, positionText] = positionals;
    const key = parseKey(keyText, 'trim');
    if (positionText !== undefined && !/^\d+$/.test(positionText)) throw usageError(`POSITION is a whole number of bytes, as a follower's position gives it; got ${JSON.stringify(positionText)}.`, 'trim');
    const position = positionText === undefined ? undefined : Number(positionText);
    await withStore(spec, 'trim', { io, directories: 'exists' }, async (store) => {
      const before = await store.startOf(key);
      await store.trim(key, position);
      io.stdout.write(`start ${before} → ${await store.startOf(key)}\n`);
      for (const { consumer, position: at } of await store.consumers(key)) io.stdout.write(`${consumer}\t${at}\n`);
    });
    return 0;
  },
};
