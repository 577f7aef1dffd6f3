// What the machine charges for the operations the stores are made of, so the
// report can say what bounds each ratio: creating a key's file, one append to
// an open file (file()), open + append + close (partd.File), the mkdir +
// rmdir that a proper-lockfile lock is, reading a 3 MB file into a new buffer
// or into one reused, and inflating one 100-byte zlib frame.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { now } from './measure.js';

export interface Primitives {
  /** µs to create (open with O_CREAT) and close a new file. */
  create: number;
  /** µs per 100-byte write to a file kept open. */
  write: number;
  /** µs per open + 100-byte write + close of an existing file. */
  openWriteClose: number;
  /** µs per mkdir + rmdir. */
  mkdirRmdir: number;
  /** µs to read a 3 MB file with readFileSync (a new buffer each time). */
  read3MB: number;
  /** µs to read it into one buffer allocated once. */
  read3MBReused: number;
  /** µs per zlib.inflateSync of a 100-byte value's frame. */
  inflate100: number;
}

export function primitives(root: string, n = 1000): Primitives {
  const dir = join(root, 'primitives');
  fs.mkdirSync(dir, { recursive: true });
  const value = Buffer.alloc(100, 'x');
  const time = (count: number, fn: (i: number) => void) => {
    const t0 = now();
    for (let i = 0; i < count; i++) fn(i);
    return ((now() - t0) / count) * 1e6;
  };
  try {
    const create = time(n, (i) => fs.closeSync(fs.openSync(join(dir, `f${i}`), 'a')));
    const fd = fs.openSync(join(dir, 'f0'), 'a');
    const write = time(20 * n, () => fs.writeSync(fd, value));
    fs.closeSync(fd);
    const openWriteClose = time(10 * n, (i) => {
      const f = fs.openSync(join(dir, `f${i % n}`), 'a');
      fs.writeSync(f, value);
      fs.closeSync(f);
    });
    const lock = join(dir, 'lock');
    const mkdirRmdir = time(n, () => {
      fs.mkdirSync(lock);
      fs.rmdirSync(lock);
    });
    const big = join(dir, 'big');
    fs.writeFileSync(big, Buffer.alloc(3_000_000, 'y'));
    const read3MB = time(200, () => fs.readFileSync(big));
    const reused = Buffer.allocUnsafe(3_000_000);
    const read3MBReused = time(200, () => {
      const f = fs.openSync(big, 'r');
      fs.readSync(f, reused, 0, reused.length, 0);
      fs.closeSync(f);
    });
    const compressed = deflateSync(Buffer.from('2025-03-14T09:26:53.582Z,ev_1000001,user_4821,checkout,/api/v2/orders/83121,200,1832,12.48,eu-west-1\n'));
    const inflate100 = time(10 * n, () => inflateSync(compressed));
    return { create, write, openWriteClose, mkdirRmdir, read3MB, read3MBReused, inflate100 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
