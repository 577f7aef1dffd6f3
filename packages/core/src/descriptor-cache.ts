import * as fs from 'node:fs';
import type { KeyId } from './keys.js';

/**
 * The append descriptors file() keeps open between calls, by key, at most
 * `max` of them: an open+write+close costs several times a write to an open
 * descriptor, but a shuffle touches thousands of keys and a process has a
 * limited number of descriptors, so the least recently used are closed.
 */
export class DescriptorCache {
  /** In least-recently-used order: a Map iterates in insertion order, and a hit is moved to the end. */
  private readonly fds = new Map<KeyId, number>();

  constructor(readonly max: number) {}

  has(id: KeyId): boolean {
    return this.fds.has(id);
  }

  /** The descriptor of `id`, which becomes the most recently used; undefined when none is open. */
  use(id: KeyId): number | undefined {
    const fd = this.fds.get(id);
    if (fd !== undefined) {
      this.fds.delete(id);
      this.fds.set(id, fd);
    }
    return fd;
  }

  /** Keeps `fd` as the descriptor of `id`, closing the least recently used one when the cache is full. */
  add(id: KeyId, fd: number): void {
    if (this.fds.size >= this.max) {
      const [oldest, oldFd] = this.fds.entries().next().value as [KeyId, number];
      this.fds.delete(oldest);
      fs.closeSync(oldFd);
    }
    this.fds.set(id, fd);
  }

  /** Closes the descriptor of `id`, if one is open. */
  close(id: KeyId): void {
    const fd = this.fds.get(id);
    if (fd !== undefined) {
      fs.closeSync(fd);
      this.fds.delete(id);
    }
  }

  closeAll(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}

let openFilesDefault: number | undefined;

/**
 * The default size of the descriptor cache: an eighth of the soft limit on
 * open files (Linux), between 16 and 4096, so that a shuffle over a few
 * thousand keys does not reopen a file for every value, and a process under a
 * low `ulimit -n` keeps most of its descriptors for other uses.
 */
export function defaultMaxOpenFiles(): number {
  if (openFilesDefault === undefined) {
    let limit: number | undefined;
    try {
      const soft = /^Max open files\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1];
      limit = soft === 'unlimited' ? Infinity : Number(soft);
    } catch {
      limit = undefined;
    }
    openFilesDefault = limit !== undefined && limit > 0 ? Math.min(4096, Math.max(16, Math.floor(limit / 8))) : 128;
  }
  return openFilesDefault;
}
