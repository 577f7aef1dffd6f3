import * as fs from 'node:fs';
import { LaminateError } from './errors.js';
import { type KeyId, showKey } from './keys.js';

/**
 * file() never follows a symbolic link: it makes none, so a link in a store's
 * directory was planted by someone else and could send its appends, reads and
 * deletes to any file the process may touch. Files are opened with
 * O_NOFOLLOW, which refuses a link as the last part of the path at no extra
 * cost; no flag of open() covers the folders on the way, so key-paths.ts
 * checks those with lstat. (Windows has no O_NOFOLLOW; there the folders are
 * still checked.)
 */
const NO_FOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/** O_APPEND for a key's file, made if missing. */
export const APPEND = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT;
export const READ = fs.constants.O_RDONLY;

/**
 * Opens `path` with `flags` unless it is a link: that is ERR_SYMLINK, naming
 * the key `id` when given (named only then: showKey() costs on every read).
 */
export function openOwn(path: string, flags: number, mode?: number, id?: KeyId): number {
  try {
    return fs.openSync(path, flags | NO_FOLLOW, mode);
  } catch (error) {
    // O_NOFOLLOW's refusal is ELOOP (EMLINK on FreeBSD); ELOOP also means a loop of links above the store, which is the caller's own path.
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === 'ELOOP' || code === 'EMLINK') && fs.lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) throw symlinkError(path, id);
    throw error;
  }
}

/** The whole file at `path`, unless it is a link (ERR_SYMLINK). */
export function readOwn(path: string, id?: KeyId): Buffer {
  const fd = openOwn(path, READ, undefined, id);
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A small marker file's text (latin1), read as readOwn reads; undefined where it, or a folder on its way, is missing. */
export function readOwnText(path: string, id?: KeyId): string | undefined {
  try {
    return readOwn(path, id).toString('latin1');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Throws ERR_SYMLINK when `stat` (an lstat of `path`) is a link. */
export function refuseLink(path: string, stat: fs.Stats | undefined, id?: KeyId): void {
  if (stat?.isSymbolicLink()) throw symlinkError(path, id);
}

export function symlinkError(path: string, id?: KeyId): LaminateError {
  return new LaminateError(
    'ERR_SYMLINK',
    `${path} is a symbolic link, which file() did not make and does not follow: a link in a store's directory could send its reads and writes anywhere. Nothing was read, written or deleted through it. Remove the link (rm removes the link, not what it points to); to keep keys elsewhere, open file() on that directory itself.`,
    id === undefined ? {} : { key: showKey(id) },
  );
}
