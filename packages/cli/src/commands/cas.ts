import { createReadStream } from 'node:fs';
import type { Command } from '../command.js';
import { withStore } from '../command.js';
import { usageError } from '../errors.js';
import { Output } from '../io.js';
import { loadCas } from './cas-module.js';

export const casCommand: Command = {
  name: 'cas',
  summary: 'put a file into a content-addressed store, or get an object out by its id',
  usage: ['cas put SPEC FILE', 'cas get SPEC ID'],
  description: [
    'cas() keeps immutable objects named by the SHA-256 of their bytes in the store SPEC',
    'describes (file, log, redis, …).',
    '',
    '`cas put SPEC FILE` streams FILE (- for stdin) into the store and prints its id; the same',
    'bytes put twice are stored once and print the same id.',
    '',
    '`cas get SPEC ID` writes the object to stdout, raw. Its bytes are hashed before any is',
    'written: a damaged object prints nothing and fails with ERR_CORRUPT (exit 1).',
  ].join('\n'),
  options: {},
  positionals: { min: 3, max: 3, names: 'put or get, SPEC and FILE or ID' },
  examples: ["laminate cas put 'file(/data/objects)' report.pdf", "laminate cas get 'file(/data/objects)' 9f86d0…0f00a08 > report.pdf", "tar c src | laminate cas put 'log(/data/objects)' -"],
  async run({ io, positionals }) {
    const [action, spec, arg] = positionals;
    if (action !== 'put' && action !== 'get') throw usageError(`cas needs put or get first; got ${JSON.stringify(action)}.`, 'cas');
    const { cas } = await loadCas();
    if (action === 'put') {
      const input = arg === '-' ? io.stdin : createReadStream(arg);
      const id = await withStore(spec, 'cas', { io }, (store) => cas(store).put(input));
      io.stdout.write(`${id}\n`);
      return 0;
    }
    await withStore(spec, 'cas', { io, directories: 'exists' }, async (store) => {
      const out = new Output(io.stdout);
      for await (const chunk of cas(store).open(arg)) await out.bytes(chunk);
      await out.flush();
    });
    return 0;
  },
};
