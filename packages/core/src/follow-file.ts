/**
 * Following file() keys (follow.ts): reads without the directory lock, seal
 * markers on disk, and filesystem notifications.
 *
 * Reading without the lock is safe because a key's file only grows: bytes
 * below its size never change while the key lives, so a follower reads from
 * its position up to the size it finds and never sees a byte twice. A value
 * still being written may be read in part; an encoding layer's follower keeps
 * a partial frame until the rest lands, and a bytes follower yields the bytes
 * that are there, which the rest will follow. (The exception: an append that
 * fails, as on a full disk, cuts back what it wrote, and a bytes follower may
 * have read that.) A trim replaces the file with one that starts later
 * (retention-file.ts): file() reads followed keys through readFromPosition()
 * there, which takes the start that goes with the file it opened.
 *
 * A seal is a small file in the store's `.sealed` folder (under the escaped
 * name of the key, as iset values are under `.iset`) holding the key's length
 * in bytes, as decimal text. It is written aside and linked into place, so
 * the first seal wins across processes, and it is never read through a link.
 * drop() removes the folder with the store's other files; delete(key)
 * removes the key's seal, so that a key written again is a new stream.
 */
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type ChangeWatch, pollingWatch } from './follow.js';
import { fsyncFolders, fsyncPath } from './fsync.js';
import { KeyPaths, escapedLayout } from './key-paths.js';
import { LaminateError } from './errors.js';
import { type KeyId, showKey } from './keys.js';
import { SEAL_DIR, isetAsideName } from './store-directory.js';
import { readOwnText } from './symlinks.js';

/** How often a watched key is looked at anyway: notifications can be lost (a folder made after the watch began, a network filesystem). */
const WATCHED_POLL_MS = 250;
const UNWATCHED_POLL_MS = 20;


/**
 * The system's folder watch (fs.watch). watchKeyFile() takes it as a
 * parameter so that a test can stand in a watch the system refuses, one that
 * fails later, or one that reports a change without a file name.
 */
export type FolderWatch = (folder: string, options: { persistent: boolean }, listener: (event: string, changed: string | null) => void) => fs.FSWatcher;

/**
 * Wakes a follower when the folder holding the key's file reports a change to
 * that file (inotify, FSEvents…), polling as well; where the folder cannot be
 * watched (it does not exist yet, or the system refuses), by polling alone.
 */
export function watchKeyFile(path: string, root: string, pollMs?: number, watchFolder: FolderWatch = fs.watch): ChangeWatch {
  const folder = dirname(path);
  const name = basename(path);
  const stat = fs.lstatSync(folder, { throwIfNoEntry: false });
  // Only a real folder inside the store (or the store's own): never through a link.
  if (!stat?.isDirectory() || !(folder === root || folder.startsWith(root))) return pollingWatch(pollMs ?? UNWATCHED_POLL_MS);
  let wake = (): void => {};
  let watcher: fs.FSWatcher;
  try {
    // Not persistent: a follower that waits holds its process open by its poll timer; an idle watch must not.
    watcher = watchFolder(folder, { persistent: false }, (_event, changed) => {
      // Some systems name no file: the change may be this key's.
      if (changed === null || changed === name) wake();
    });
  } catch {
    // The system refuses (no inotify watches left, a filesystem without notifications): the poll alone finds the changes.
    return pollingWatch(pollMs ?? UNWATCHED_POLL_MS);
  }
  // A watch that fails later is let go (the poll goes on finding changes); its error is not thrown into the process.
  watcher.on('error', () => watcher.close());
  return pollingWatch(pollMs ?? WATCHED_POLL_MS, (wakeFollower) => {
    wake = wakeFollower;
    return () => watcher.close();
  });
}

/** The paths of seal markers, per store directory. */
export function sealPaths(root: string): KeyPaths {
  return new KeyPaths(join(root, SEAL_DIR), escapedLayout, root);
}

/** Where `id` was sealed, or undefined; a marker that does not hold a length is no seal of file()'s, and ERR_IO says so. */
export function readSeal(seals: KeyPaths, id: KeyId): number | undefined {
  const text = readOwnText(seals.reach(id), id);
  if (text === undefined) return undefined;
  const length = Number(text);
  // A marker being linked into place is whole (it was written aside first); anything else is not file()'s.
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(length)) {
    throw new LaminateError('ERR_IO', `${seals.of(id)} should hold the length at which key ${showKey(id)} was sealed, but holds something else; it was changed by hand. Remove it to unseal the key, then seal it again.`, { key: showKey(id) });
  }
  return length;
}

/** Seals `id` at `length` bytes unless it is sealed already (the first seal stays); the caller holds the directory lock. */
export function writeSeal(seals: KeyPaths, id: KeyId, length: number, durable: boolean): void {
  if (seals.stat(id) !== undefined) return;
  seals.prepare(id, durable);
  const target = seals.of(id);
  const aside = join(seals.root, isetAsideName());
  try {
    fs.writeFileSync(aside, String(length), { flag: 'wx' });
    if (durable) fsyncPath(aside);
    fs.linkSync(aside, target);
    if (durable) fsyncFolders(seals.base, [target]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || (error as NodeJS.ErrnoException).syscall !== 'link') throw error;
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

/** Removes `id`'s seal, if it has one (delete(key)); the caller holds the directory lock. */
export function removeSeal(seals: KeyPaths, id: KeyId): void {
  if (seals.stat(id) === undefined) return;
  seals.remove(id);
}
