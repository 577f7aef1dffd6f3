import { statSync } from 'node:fs';
import { type AnyStore, BaseStore, BufferStore, FileStore, type Key, LogStore } from '@laminate/core';
import { type KeyId, keyFromId, keyId, keyParts } from '@laminate/core/layer';
import type { Command } from '../command.js';
import { PROGRESS_OPTIONS, withStore } from '../command.js';
import { Output } from '../io.js';
import { formatKey, jsonKey } from '../keys.js';
import { count, humanBytes } from '../progress.js';

export const du: Command = {
  name: 'du',
  summary: 'bytes stored per key, largest first, and the total',
  usage: ['du SPEC [--human] [--json]'],
  description: [
    'Prints the bytes each key takes where the stack stores them, largest first (ties by key),',
    'then a total line. The bytes are those of the bottom layer, after compression and',
    'framing: what the data costs, not its decoded size.',
    '',
    "- file(): the size of the key's file on disk (its length, from stat; nothing is read).",
    "- log(): the bytes of the key's live values in the segments (from the index; nothing is read).",
    '  Record headers, deleted values and dropped ones are not counted: `laminate compact` gives',
    '  their space back.',
    "- buffer(fast, slow): the key's bytes in both stores (a fresh dict() is empty).",
    '- client(), dict() and other stores: the length of the stored value, read through the layer.',
    '',
    'Files a layer keeps beside a key count for that key: typedArrays\' KEY.dtype, arrowColumns\'',
    'per-column files and .schema. The store\'s own files (lock, iset metadata) are not counted.',
    'Output: SIZE<TAB>KEY lines (keys printed as by `laminate keys`), then SIZE<TAB>total.',
  ].join('\n'),
  options: {
    human: { type: 'boolean', short: 'H', help: 'sizes in KiB, MiB, GiB instead of bytes' },
    json: { type: 'boolean', help: 'one JSON object per line: {"key":…,"bytes":…}, then {"total":…,"keys":…}' },
    ...PROGRESS_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: 'SPEC' },
  examples: ["laminate du 'file(/data/shuffle)'", "laminate du -H 'msgpack(zstd(file(/data/x)))' | head", "laminate du --json 'file(/data/x)' | jq -s 'map(.bytes // 0) | add'"],
  async run({ io, values, positionals, progress: chooseProgress }) {
    const progress = chooseProgress(false);
    let total = 0;
    let measured = 0;
    let of: number | undefined;
    progress.start(() => (of === undefined ? `listing keys… ${progress.elapsed()}` : `${count(measured)}/${count(of)} stored keys · ${humanBytes(total)}`));
    let rows: { key: Key; bytes: number }[] = [];
    try {
      await withStore(positionals[0], 'du', { io, directories: 'exists' }, async (store) => {
        const users = new Set((await store.keys()).map(keyId));
        const bottom = bottomOf(store);
        const stored = bottom === store ? [...users] : await bottom.listIds();
        of = stored.length;
        const size = sizer(bottom);
        const perKey = new Map<KeyId, number>();
        for (const id of users) perKey.set(id, 0);
        const BATCH = 256;
        for (let i = 0; i < stored.length; i += BATCH) {
          const ids = stored.slice(i, i + BATCH);
          const sizes = await size(ids);
          ids.forEach((id, j) => {
            const owner = ownerOf(id, users);
            perKey.set(owner, (perKey.get(owner) ?? 0) + sizes[j]);
            total += sizes[j];
          });
          measured += ids.length;
          progress.poke();
        }
        rows = [...perKey].map(([id, bytes]) => ({ key: keyFromId(id), bytes }));
      });
    } finally {
      progress.done();
    }
    const shown = rows.map((row) => ({ ...row, text: formatKey(row.key) }));
    shown.sort((a, b) => b.bytes - a.bytes || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
    const out = new Output(io.stdout);
    const size = (bytes: number) => (values.human ? humanBytes(bytes) : String(bytes));
    for (const row of shown) await out.text(values.json ? `{"key":${jsonKey(row.key)},"bytes":${row.bytes}}\n` : `${size(row.bytes)}\t${row.text}\n`);
    await out.text(values.json ? `{"total":${total},"keys":${shown.length}}\n` : `${size(total)}\ttotal\n`);
    await out.flush();
    return 0;
  },
};

/** The store at the bottom of the stack: below every encoding and compression layer (each keeps its store in `inner`). */
function bottomOf(store: AnyStore): AnyStore {
  let current = store;
  for (;;) {
    const inner = (current as { inner?: unknown }).inner;
    if (!(inner instanceof BaseStore)) return current;
    current = inner;
  }
}

/** How many bytes a bottom store holds for each of some keys. */
function sizer(store: AnyStore): (ids: readonly KeyId[]) => Promise<number[]> {
  if (store instanceof FileStore) {
    return async (ids) => ids.map((id) => statSync(store.fileOf(keyFromId(id)), { throwIfNoEntry: false })?.size ?? 0);
  }
  if (store instanceof LogStore) return (ids) => store.sizeIds(ids);
  if (store instanceof BufferStore) {
    const fast = sizer(store.fast);
    const slow = sizer(store.slow);
    return async (ids) => {
      const [a, b] = await Promise.all([fast(ids), slow(ids)]);
      return a.map((n, i) => n + b[i]);
    };
  }
  // Reading values: a few keys per call, so that a remote store is not asked for 256 large values in one reply.
  return async (ids) => {
    const sizes: number[] = [];
    for (let i = 0; i < ids.length; i += 16) {
      for (const value of await store.getIds(ids.slice(i, i + 16))) sizes.push((value as Uint8Array).byteLength);
    }
    return sizes;
  };
}

/**
 * The user key a stored key belongs to: itself; else the longest user key
 * its tuple starts with (arrowColumns keeps key K's columns under [...K, column]);
 * else the user key it is a dotted sidecar of (typedArrays keeps K's dtype in
 * "K.dtype"). A stored key that belongs to none is listed under its own name.
 */
function ownerOf(id: KeyId, users: ReadonlySet<KeyId>): KeyId {
  if (users.has(id)) return id;
  const parts = keyParts(id);
  for (let n = parts.length - 1; n >= 1; n--) {
    const prefix = keyId(parts.slice(0, n));
    if (users.has(prefix)) return prefix;
  }
  const last = parts[parts.length - 1];
  const dot = last.lastIndexOf('.');
  if (dot > 0) {
    const owner = keyId([...parts.slice(0, -1), last.slice(0, dot)]);
    if (users.has(owner)) return owner;
  }
  return id;
}
