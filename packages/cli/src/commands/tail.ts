import type { Command } from '../command.js';
import { withStore, holdsBytes } from '../command.js';
import { usageError } from '../errors.js';
import { Output } from '../io.js';
import { parseKey } from '../keys.js';
import { itemLines } from '../render.js';

export const tail: Command = {
  name: 'tail',
  summary: "print a key's values as they land (with -f, until the key is sealed)",
  usage: ['tail [-f] [--from POSITION] [--consumer NAME [--commit]] SPEC KEY'],
  description: [
    "Writes the values of KEY to stdout as `cat` does: raw bytes for a stack of bytes, one JSON",
    'line per item for an encoding layer (each row of an Arrow table, each item of a msgpack',
    'list).',
    '',
    'Without -f it prints what the key holds now and ends. With -f it then waits for new values,',
    'from this process or any other, and prints each as it lands, until the key is sealed',
    '(store.seal(key)); stop it sooner with Ctrl-C.',
    '',
    '--from starts at a position: a byte offset in the key\'s stored bytes, as a follower\'s',
    '`position` gives it (the start of a value), or "end" for only what lands from now on;',
    'the default is "start". With --print-position, the position after the last value printed',
    'goes to stderr at the end, for the next --from.',
    '',
    '--consumer NAME starts where the consumer NAME committed (store.commit(key, name, position)),',
    'or at --from when it has committed nothing; with --commit, the position after each value',
    'printed is committed under that name, so the next `tail --consumer NAME` goes on from there',
    '(and `laminate trim` may drop what every consumer has passed).',
  ].join('\n'),
  options: {
    follow: { type: 'boolean', short: 'f', help: 'wait for new values until the key is sealed' },
    from: { type: 'string', value: 'POSITION', help: 'start at this position, "start" (the default) or "end"' },
    'print-position': { type: 'boolean', help: 'print the position to resume from on stderr at the end' },
    consumer: { type: 'string', value: 'NAME', help: 'start where the consumer NAME committed' },
    commit: { type: 'boolean', help: 'with --consumer: commit the position after each value printed' },
  },
  positionals: { min: 2, max: 2, names: 'SPEC and KEY' },
  examples: ["laminate tail -f 'arrow(file(/data/pipeline))' batches", "laminate tail -f 'client(tcp://10.0.0.5:7070)' log > log.bin", "laminate tail --from 1048576 'msgpack(file(/data/events))' clicks"],
  async run({ io, values, positionals }) {
    const [spec, keyText] = positionals;
    const key = parseKey(keyText, 'tail');
    const fromText = (values.from as string | undefined) ?? 'start';
    if (!(fromText === 'start' || fromText === 'end' || /^\d+$/.test(fromText))) throw usageError(`--from takes a position (a whole number of bytes), "start" or "end"; got ${JSON.stringify(fromText)}.`, 'tail');
    const from = fromText === 'start' || fromText === 'end' ? fromText : Number(fromText);
    const consumer = values.consumer as string | undefined;
    if (values.commit && consumer === undefined) throw usageError('--commit commits under a consumer\'s name: give --consumer NAME too.', 'tail');
    const out = new Output(io.stdout);
    // Ctrl-C ends a follower between values, so what was printed is whole and the position is known.
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    let position: number | undefined;
    try {
      await withStore(spec, 'tail', { io, directories: 'exists' }, async (store) => {
        const bytes = holdsBytes(store);
        // Without -f: what is there now, which a follower reads without waiting; it ends at the first wait.
        const follower = store.follow(key, { from, signal: controller.signal, ...(consumer === undefined ? {} : { consumer }), ...(values.follow ? {} : { idleTimeoutMs: 1 }) });
        try {
          for await (const { value } of follower.entries()) {
            if (bytes) await out.bytes(value as Uint8Array);
            else for (const line of itemLines(value)) await out.text(line + '\n');
            position = follower.position;
            // Each value reaches stdout as it lands, not when a buffer fills; a commit only once it has.
            if (values.follow || values.commit) await out.flush();
            if (values.commit) await follower.commit();
          }
        } catch (error) {
          if (!controller.signal.aborted) throw error;
        }
        position = follower.position;
        await out.flush();
      });
    } finally {
      process.off('SIGINT', stop);
    }
    if (values['print-position'] && position !== undefined) io.stderr.write(`position ${position}\n`);
    return 0;
  },
};
