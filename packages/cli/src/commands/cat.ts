import type { Command } from '../command.js';
import { PROGRESS_OPTIONS, holdsBytes, withStore } from '../command.js';
import { Output } from '../io.js';
import { formatKey, parseKey } from '../keys.js';
import { count, humanBytes } from '../progress.js';
import { itemLines } from '../render.js';

export const cat: Command = {
  name: 'cat',
  summary: "print a key's value: raw bytes, or one JSON line per item",
  usage: ['cat SPEC KEY [KEY…]'],
  description: [
    'Writes the value of each KEY to stdout, in the order given, read in pieces so that a value',
    'larger than memory streams through.',
    '',
    'A stack of bytes (file, buffer, client, a compressor over them) writes the raw bytes, as',
    'appended, with nothing added: `laminate cat S k > k.bin` is the value. An encoding layer',
    'prints one JSON value per line for every item: each item of a msgpack list, each element',
    'of a typed array (datetime64 as ISO 8601 text), each row of an Arrow table as an object.',
    'In JSON, int64 values are exact integers, NaN and ±Infinity are strings, and bytes inside',
    'a value are {"$base64": "…"}.',
    '',
    'A key that was never written prints nothing (a store returns the empty value for it).',
    'KEY is the key as written; one that starts with [ is a tuple as a JSON array, such as',
    '\'["2024-01-01",7]\'; one that starts with " is a JSON string. Put -- before a key that',
    'starts with -.',
  ].join('\n'),
  options: { ...PROGRESS_OPTIONS },
  positionals: { min: 2, max: Infinity, names: 'SPEC and at least one KEY' },
  examples: ["laminate cat 'file(/data/blobs)' report.pdf > report.pdf", "laminate cat 'msgpack(lz4(file(/data/shuffle)))' part-7 | jq .user", 'laminate cat \'typedArrays(file(/data/arrays))\' \'["x",0]\'', "laminate cat 'file(/data/x)' -- -odd-key"],
  async run({ io, positionals, progress: chooseProgress }) {
    const [spec, ...keyArgs] = positionals;
    const keys = keyArgs.map((text) => parseKey(text, 'cat'));
    const out = new Output(io.stdout);
    const progress = chooseProgress(true);
    let index = 0;
    progress.start(() => `key ${count(Math.min(index + 1, keys.length))}/${count(keys.length)} (${formatKey(keys[Math.min(index, keys.length - 1)])}) · ${humanBytes(out.written)} written`);
    try {
      await withStore(spec, 'cat', { io, directories: 'exists' }, async (store) => {
        const bytes = holdsBytes(store);
        for (; index < keys.length; index++) {
          // iter() gives a key's appended values one by one (a file in pieces), never the whole key at once.
          for await (const value of store.iter(keys[index])) {
            if (bytes) {
              await out.bytes(value as Uint8Array);
            } else {
              let lines = 0;
              for (const line of itemLines(value)) {
                await out.text(line + '\n');
                if ((++lines & 1023) === 0) progress.poke();
              }
            }
            progress.poke();
          }
        }
        await out.flush();
      });
    } finally {
      progress.done();
    }
    return 0;
  },
};
