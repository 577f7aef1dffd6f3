/**
 * Retention in a file() directory (retention.ts): consumer positions and
 * trimmed keys, on disk where every process sharing the directory sees them.
 *
 * A consumer's position is a small file holding the position as decimal
 * text, at `.consumers/<key>/<consumer>`: the key and the consumer's name
 * together as a tuple key under the escaped layout, so that every key and
 * every name gets a safe, distinct file (a key's consumers are the files in
 * its `%d` folder; longer tuple keys are folders there). A commit writes the
 * file aside and renames it into place, under the directory lock, so a reader
 * finds the old position or the new one, whole.
 *
 * A trimmed key's file holds only its bytes from its start on, so partd's
 * layout stays as it was (partd reads what is left). The start is kept in a
 * marker at `.trimmed/<key>`: `start inode previousStart previousInode`. A
 * trim, under the directory lock, copies the bytes that stay into a new file
 * in `.trimmed`, writes the marker (naming the new file's inode, and the
 * old file's with the old start), then renames the new file over the key's
 * file. A follower reads without the lock (follow-file.ts), so it opens the
 * key's file first, then reads the marker and takes the start recorded for
 * the inode of the file it opened: the marker is written before the rename,
 * so either entry fits. A file that was unlinked meanwhile (replaced by a
 * later trim, or deleted) has no link left: the follower opens the key again.
 * A trim that dies between the marker and the rename leaves the old file in
 * place, which the marker's previous entry still describes.
 */
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { LaminateError } from './errors.js';
import { fsyncFolders, fsyncPath } from './fsync.js';
import { KeyPaths, escapedLayout } from './key-paths.js';
import { type KeyId, keyFromParts, keyParts, showKey } from './keys.js';
import { type Consumer, byName, trimmedError } from './retention.js';
import { CONSUMER_DIR, TRIM_DIR, isetAsideName } from './store-directory.js';
import { READ, openOwn, readOwnText, refuseLink } from './symlinks.js';

const EMPTY = new Uint8Array(0);
/** The bytes a trim copies at once. */
const COPY_PIECE = 4 << 20;

export function trimPaths(root: string): KeyPaths {
  return new KeyPaths(join(root, TRIM_DIR), escapedLayout, root);
}

export function consumerPaths(root: string): KeyPaths {
  return new KeyPaths(join(root, CONSUMER_DIR), escapedLayout, root);
}

/** A trim marker: the start of the file `file` (fileName()), and of the one it replaced. */
interface Marker {
  start: number;
  file: string;
  previousStart: number;
  previousFile: string;
}

/**
 * A file as a marker names it: its inode. (Not its birth time as well: where
 * the system has no statx, Node reports the change time as the birth time,
 * which every append moves.)
 */
function fileName(stat: fs.Stats): string {
  return String(stat.ino);
}

function readMarker(trims: KeyPaths, id: KeyId): Marker | undefined {
  const path = trims.reach(id);
  // Most keys were never trimmed: an lstat that finds nothing costs less than an open that throws.
  let text: string | undefined;
  try {
    text = fs.lstatSync(path, { throwIfNoEntry: false }) === undefined ? undefined : readOwnText(path, id);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
  if (text === undefined) return undefined;
  const fields = text.split(' ');
  const [start, previousStart] = [Number(fields[0]), Number(fields[2])];
  const named = (f: string | undefined) => f !== undefined && /^\d+$/.test(f);
  if (fields.length !== 4 || !/^\d+$/.test(fields[0]) || !/^\d+$/.test(fields[2]) || !Number.isSafeInteger(start) || !Number.isSafeInteger(previousStart) || !named(fields[1]) || !named(fields[3])) {
    throw new LaminateError('ERR_IO', `${trims.of(id)} should hold where key ${showKey(id)} starts after a trim, but holds something else; it was changed by hand. Restore it, or delete the key.`, { key: showKey(id) });
  }
  return { start, file: fields[1], previousStart, previousFile: fields[3] };
}

/** The start of the key file `stat` describes, from its marker; undefined when the marker describes other files. */
function startOfFile(marker: Marker | undefined, stat: fs.Stats): number | undefined {
  if (marker === undefined) return 0;
  const name = fileName(stat);
  if (marker.file === name) return marker.start;
  if (marker.previousFile === name) return marker.previousStart;
  return undefined;
}

/** `id`'s file opened for reading, with the position of its first byte and its size. */
export interface PositionedFile {
  fd: number;
  start: number;
  size: number;
}

/**
 * Opens `id`'s file and learns its start without the directory lock; undefined
 * when the key holds nothing (start 0). Tries again when the file opened was
 * replaced or deleted meanwhile.
 */
export async function openPositioned(data: KeyPaths, trims: KeyPaths, id: KeyId): Promise<PositionedFile | undefined> {
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openOwn(data.reach(id), READ, undefined, id);
    } catch (error) {
      if (data.absent(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw error;
    }
    let start: number | undefined;
    let stat: fs.Stats;
    try {
      const marker = readMarker(trims, id);
      // After the marker: a file still linked now was the key's file when the marker was read.
      stat = fs.fstatSync(fd);
      if (!stat.isFile()) {
        fs.closeSync(fd);
        return undefined;
      }
      if (stat.nlink > 0) start = startOfFile(marker, stat);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    if (start !== undefined) return { fd, start, size: stat.size };
    fs.closeSync(fd);
    if (attempt >= 1000) {
      throw new LaminateError(
        'ERR_IO',
        `${trims.of(id)} does not describe the file of key ${showKey(id)}: a delete died before removing it, or the file was replaced by something other than file(). The next commit, trim or seal of the key removes a marker left by a delete.`,
        { key: showKey(id) },
      );
    }
    // A trim or delete under way in another process: its next step is the rename or the removal.
    await new Promise((resolve) => setTimeout(resolve, attempt < 10 ? 0 : 5));
  }
}

/** Up to `max` bytes of `id` from the position `offset`, without the lock; ERR_TRIMMED before its start. */
export async function readFromPosition(data: KeyPaths, trims: KeyPaths, id: KeyId, offset: number, max: number): Promise<Uint8Array> {
  const file = await openPositioned(data, trims, id);
  if (file === undefined) return EMPTY;
  try {
    if (offset < file.start) throw trimmedError(id, file.start, offset);
    const from = offset - file.start;
    if (from >= file.size) return EMPTY;
    const bytes = Buffer.allocUnsafe(Math.min(max, file.size - from));
    let done = 0;
    while (done < bytes.byteLength) {
      const n = fs.readSync(file.fd, bytes, done, bytes.byteLength - done, from + done);
      if (n === 0) break;
      done += n;
    }
    return bytes.subarray(0, done);
  } finally {
    fs.closeSync(file.fd);
  }
}

/**
 * The start of `id`'s file whose lstat is `stat`. The caller holds the lock,
 * so no trim is half done but one that died before its rename, which the
 * marker's previous entry describes. A marker that describes neither file is
 * left from a delete that died between removing the key's file and its
 * marker: the key was written anew since, from position 0, and the marker goes.
 * (Should the new file have been given the deleted file's inode, as a system
 * may do at once, the marker would describe it: that needs a process to die
 * between two system calls of a delete, and is not detected.)
 */
export function startUnderLock(trims: KeyPaths, id: KeyId, stat: fs.Stats | undefined): number {
  if (stat === undefined || !stat.isFile()) return 0;
  const marker = readMarker(trims, id);
  const start = startOfFile(marker, stat);
  if (start !== undefined) return start;
  removeMarker(trims, id);
  return 0;
}

/** Writes `text` aside in `folder`'s root and renames it to `target`, replacing what is there. */
function replaceFile(paths: KeyPaths, target: string, text: string, durable: boolean, base: string): void {
  const aside = join(paths.root, isetAsideName());
  try {
    fs.writeFileSync(aside, text, { flag: 'wx' });
    if (durable) fsyncPath(aside);
    fs.renameSync(aside, target);
    if (durable) fsyncFolders(base, [target]);
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

/**
 * Drops `id`'s bytes before the position `to`: its file (`stat`, starting
 * at `start`) is replaced by one holding the bytes from
 * `to` on. The caller holds the directory lock.
 */
export function rewriteFrom(data: KeyPaths, trims: KeyPaths, id: KeyId, stat: fs.Stats, start: number, to: number, durable: boolean): void {
  trims.prepare(id, durable);
  const path = data.reach(id);
  const copy = join(trims.root, isetAsideName());
  const source = openOwn(path, READ, undefined, id);
  let renamed = false;
  try {
    const target = fs.openSync(copy, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0), stat.mode & 0o777);
    let name: string;
    try {
      const piece = Buffer.allocUnsafe(Math.min(COPY_PIECE, Math.max(1, stat.size - (to - start))));
      for (let at = to - start; at < stat.size; ) {
        const n = fs.readSync(source, piece, 0, Math.min(piece.byteLength, stat.size - at), at);
        if (n === 0) break;
        let written = 0;
        while (written < n) written += fs.writeSync(target, piece, written, n - written);
        at += n;
      }
      if (durable) fs.fsyncSync(target);
      name = fileName(fs.fstatSync(target));
    } finally {
      fs.closeSync(target);
    }
    // The marker names both files before the new one takes the key's name (see the top of this file).
    replaceFile(trims, trims.of(id), `${to} ${name} ${start} ${fileName(stat)}`, durable, trims.base);
    fs.renameSync(copy, path);
    renamed = true;
    if (durable) fsyncFolders(data.base, [path]);
  } finally {
    fs.closeSync(source);
    if (!renamed) fs.rmSync(copy, { force: true });
  }
}

/** Removes `id`'s trim marker (after its file was removed: a reader then finds no file, never a file without its start). */
export function removeMarker(trims: KeyPaths, id: KeyId): void {
  if (trims.stat(id) === undefined) return;
  trims.remove(id);
}

/** The file of `consumer`'s position on `id`. */
function consumerId(id: KeyId, consumer: string): KeyId {
  return keyFromParts([...keyParts(id), consumer]);
}

function readPosition(consumers: KeyPaths, id: KeyId, path: string): number | undefined {
  const text = readOwnText(path, id);
  if (text === undefined) return undefined;
  const position = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(position)) {
    throw new LaminateError('ERR_IO', `${path} should hold a consumer's position on key ${showKey(id)}, but holds something else; it was changed by hand. Remove it (the consumer then starts over), or write the position back.`, { key: showKey(id) });
  }
  return position;
}

/** Records `consumer`'s position on `id`, keeping a higher one already there; the caller holds the directory lock. */
export function writeConsumer(consumers: KeyPaths, id: KeyId, consumer: string, position: number, durable: boolean): void {
  const cid = consumerId(id, consumer);
  const path = consumers.reach(cid);
  refuseLink(path, fs.lstatSync(path, { throwIfNoEntry: false }), id);
  const committed = readPosition(consumers, id, path);
  if (committed !== undefined && committed >= position) return;
  consumers.prepare(cid, durable);
  replaceFile(consumers, path, String(position), durable, consumers.base);
}

/** `id`'s consumers with their positions, sorted by name. */
export function readConsumers(consumers: KeyPaths, id: KeyId): Consumer[] {
  // The folder of a consumer's file is the key's: any name shows where it is.
  const folder = dirname(consumers.reach(consumerId(id, 'x')));
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(folder, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  const found: Consumer[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue; // folders hold the consumers of longer tuple keys; links are not ours
    const consumer = escapedLayout.partOf(folder, entry.name, false, 0);
    if (consumer === undefined) continue;
    const position = readPosition(consumers, id, join(folder, entry.name));
    if (position !== undefined) found.push({ consumer, position });
  }
  return byName(found);
}

/** Removes `consumer` from `id`'s consumers; the caller holds the directory lock. */
export function removeConsumer(consumers: KeyPaths, id: KeyId, consumer: string): void {
  const cid = consumerId(id, consumer);
  if (consumers.stat(cid) === undefined) return;
  consumers.remove(cid);
}

/** Removes every consumer of `id` (delete(key)); the caller holds the directory lock. */
export function removeConsumers(consumers: KeyPaths, id: KeyId): void {
  for (const { consumer } of readConsumers(consumers, id)) removeConsumer(consumers, id, consumer);
}
