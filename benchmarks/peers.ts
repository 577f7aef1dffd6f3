// The Node.js stores a user might pick instead of laminate, each doing the
// same work — append values under a key, read the key back whole — the way a
// competent user would build it on that engine:
//
// - LevelDB (classic-level): one record per value under `key \0 sequence`, one
//   batch per append call, a prefix range read for get. Default options, so
//   LevelDB compresses its blocks with snappy, as users get it.
// - LMDB (lmdb): the same scheme, with [key, sequence] array keys and one
//   transaction per append call. `noSync: true`, so that a commit reaches the
//   page cache but is not flushed to the disk — the durability every other
//   store here has (none of them fsyncs by default).
// - fs.promises.appendFile: one file per key, one appendFile per value (all of
//   a call's keys at once), readFile for get.
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { open } from 'lmdb';

/** What the benchmark asks of a store: the part of laminate's Store it uses. */
export interface AppendGet {
  append(batch: Record<string, Uint8Array>): Promise<void>;
  get(key: string): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface NodePeer {
  label: string;
  make(dir: string): Promise<AppendGet>;
}

/** Joins a key's records, in the order they were appended. */
function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** Per-key sequence numbers: records of one key sort in append order under `key + sequence`. */
function sequencer(): (key: string) => number {
  const next = new Map<string, number>();
  return (key) => {
    const n = next.get(key) ?? 0;
    next.set(key, n + 1);
    return n;
  };
}

async function level(dir: string): Promise<AppendGet> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  const seq = sequencer();
  // Fixed-width hex keeps the byte order of the keys the order of the sequence.
  const recordKey = (key: string, n: number) => `${key}\0${n.toString(16).padStart(8, '0')}`;
  return {
    async append(batch) {
      await db.batch(Object.entries(batch).map(([key, value]) => ({ type: 'put' as const, key: recordKey(key, seq(key)), value })));
    },
    async get(key) {
      return concat(await db.values({ gte: `${key}\0`, lt: `${key}\u0001` }).all());
    },
    close: () => db.close(),
  };
}

async function lmdb(dir: string): Promise<AppendGet> {
  const db = open<Buffer, [string, number]>({ path: dir, encoding: 'binary', compression: false, noSync: true });
  const seq = sequencer();
  return {
    async append(batch) {
      await db.transaction(() => {
        for (const [key, value] of Object.entries(batch)) db.put([key, seq(key)], value as Buffer);
      });
    },
    async get(key) {
      // Values of a range read may point into LMDB's memory map; copying them out is what concat does.
      const parts: Uint8Array[] = [];
      for (const { value } of db.getRange({ start: [key], end: [key, Number.MAX_SAFE_INTEGER] })) parts.push(value);
      return Buffer.concat(parts);
    },
    close: () => db.close(),
  };
}

async function appendFiles(dir: string): Promise<AppendGet> {
  await mkdir(dir, { recursive: true });
  // The benchmark's keys are plain names (k0000 …); real keys would need escaping.
  return {
    async append(batch) {
      await Promise.all(Object.entries(batch).map(([key, value]) => appendFile(join(dir, key), value)));
    },
    async get(key) {
      try {
        return await readFile(join(dir, key));
      } catch (error) {
        // A key nothing was appended to has no file: it is empty, as in every other store here.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Uint8Array(0);
        throw error;
      }
    },
    close: async () => {},
  };
}

export const NODE_PEERS: Record<string, NodePeer> = {
  leveldb: { label: 'LevelDB (classic-level)', make: level },
  lmdb: { label: 'LMDB (lmdb, noSync)', make: lmdb },
  appendfile: { label: 'fs.promises.appendFile', make: appendFiles },
};
