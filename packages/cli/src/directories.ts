import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AnyStore, BaseStore, BufferStore, FileStore, LaminateError, type FileOptions, type LockWait, type StoreSpec, whyNotAStore } from '@laminate/core';
import type { Io } from './io.js';

/**
 * What a command needs of the file() directories its SPEC names, checked
 * before the store opens (file() makes a directory that does not exist):
 * - 'exists': keys, cat and du read a store, so the directory must be there;
 *   reading creates nothing on disk;
 * - 'store': drop deletes every file in the directory named like a key, so
 *   the directory must also hold nothing but what file() writes, and have
 *   been written by it (whyNotAStore).
 */
export type DirectoryCheck = 'exists' | 'store';

/** The file() and log() layers of a spec with a path, at any depth (without one, each is a new temporary directory). */
function fileSpecs(spec: StoreSpec): StoreSpec[] {
  const found: StoreSpec[] = [];
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    if (((node as StoreSpec).type === 'file' || (node as StoreSpec).type === 'log') && typeof (node as StoreSpec).path === 'string') found.push(node as StoreSpec);
    for (const value of Object.values(node)) visit(value);
  };
  visit(spec);
  return found;
}

export function checkDirectories(spec: StoreSpec, check: DirectoryCheck, command: string): void {
  for (const node of fileSpecs(spec)) {
    // As file() resolves it, so that the message names the directory meant.
    const dir = resolve(node.path as string);
    const stat = statSync(dir, { throwIfNoEntry: false });
    if (stat === undefined) {
      throw new LaminateError('ERR_NOT_FOUND', `There is no store at ${dir}: the directory does not exist. Check the path in the SPEC; ${command} ${check === 'store' ? 'empties' : 'reads'} an existing store and creates none.`);
    }
    if (!stat.isDirectory()) {
      throw new LaminateError('ERR_NOT_A_STORE', `${dir} is a file, not a store: file(DIR) names the directory that holds a store's keys. Check the path in the SPEC.`);
    }
    // drop on log() writes a drop record and deletes no file, so only file() is checked for foreign files.
    const why = check === 'store' && node.type === 'file' ? whyNotAStore(dir, { layout: node.layout as FileOptions['layout'] }) : undefined;
    if (why !== undefined) {
      throw new LaminateError(
        'ERR_NOT_A_STORE',
        `Refusing to drop ${dir}: ${why}, so it may not be a laminate store, and drop deletes every file there named like a key. Nothing was deleted. Check the path; if it is the store you mean, move out what laminate did not write, or delete the directory yourself.`,
      );
    }
  }
}

/** A wait shorter than this goes unannounced: writers sharing a directory hold its lock for moments all the time. */
const NOTICE_MS = 250;

/**
 * Gives every file() of the stack an onLockWait that says on stderr, once a
 * wait has lasted NOTICE_MS, which directory the command waits for and for how
 * long at most, so that a command held up by another process does not hang in
 * silence.
 */
export function announceLockWaits(store: AnyStore, io: Io): void {
  const onLockWait: FileStore['onLockWait'] = (wait) => {
    const timer = setTimeout(() => io.stderr.write(lockWaitNotice(wait, io)), NOTICE_MS);
    return () => clearTimeout(timer);
  };
  for (const file of fileStores(store)) file.onLockWait = onLockWait;
}

/** The file() stores of a stack: below encodings and compressors (`inner`) and both sides of a buffer(). */
function fileStores(store: AnyStore): FileStore[] {
  if (store instanceof FileStore) return [store];
  if (store instanceof BufferStore) return [...fileStores(store.fast), ...fileStores(store.slow)];
  const inner = (store as { inner?: unknown }).inner;
  return inner instanceof BaseStore ? fileStores(inner) : [];
}

function lockWaitNotice({ path, timeoutMs, holder }: LockWait, io: Io): string {
  const seconds = `${Number((timeoutMs / 1000).toFixed(1))} s`;
  // On a terminal the progress line may be drawn: start on a clean line; it is redrawn below.
  const clear = io.stderr.isTTY ? '\r\x1b[K' : '';
  // The lock file records its holder; the mkdir lock (lock: 'mkdir') does not.
  const by = holder ? `process ${holder.pid} on ${holder.host}` : 'another process or store (its lock does not record which)';
  return `${clear}laminate: ${path} is locked by ${by}; waiting up to ${seconds} for it, then failing with ERR_LOCKED. Stop with Ctrl-C, or wait less with file(…, lockTimeoutMs=N) in the SPEC.\n`;
}
