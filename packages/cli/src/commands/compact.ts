import { type AnyStore, BaseStore, BufferStore, LaminateError, LogStore } from '@laminate/core';
import type { Command } from '../command.js';
import { withStore } from '../command.js';
import { humanBytes } from '../progress.js';

export const compact: Command = {
  name: 'compact',
  summary: 'give back the space of deleted and dropped values in the log() stores of a stack',
  usage: ['compact SPEC'],
  description: [
    'Runs compact() on every log() store in the stack: the live values of sealed segments and of',
    'writers that are gone, where at least a quarter of the segment is garbage, are copied into a',
    'new segment, and the segments nothing points into any more are removed. Other processes may',
    'read and append meanwhile. log() also compacts by itself once its garbage passes',
    'autoCompactBytes and autoCompactRatio. Prints one line per log() store: its directory,',
    'segment bytes before and after, values moved, segments removed.',
  ].join('\n'),
  options: {},
  positionals: { min: 1, max: 1, names: 'SPEC' },
  examples: ["laminate compact 'log(/data/shuffle)'", "laminate compact 'msgpack(zstd(log(/data/x)))'"],
  async run({ io, positionals }) {
    await withStore(positionals[0], 'compact', { io, directories: 'exists' }, async (store) => {
      const logs = logStores(store);
      if (logs.length === 0) throw new LaminateError('ERR_NOT_SUPPORTED', `${positionals[0]} holds no log() store: only log() compacts. A file() store gives space back as keys are deleted.`);
      for (const log of logs) {
        const done = await log.compact();
        io.stdout.write(`${log.path}\t${humanBytes(done.before)} → ${humanBytes(done.after)}\t${done.moved} values moved\t${done.removed} segments removed\n`);
      }
    });
    return 0;
  },
};

/** The log() stores of a stack: below encodings and compressors (`inner`) and on both sides of a buffer(). */
function logStores(store: AnyStore): LogStore[] {
  if (store instanceof LogStore) return [store];
  if (store instanceof BufferStore) return [...logStores(store.fast), ...logStores(store.slow)];
  const inner = (store as { inner?: unknown }).inner;
  return inner instanceof BaseStore ? logStores(inner) : [];
}
