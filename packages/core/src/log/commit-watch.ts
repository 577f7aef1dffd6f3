import * as fs from 'node:fs';
import { type ChangeWatch, pollingWatch } from '../follow.js';

/** How often a watched log is looked at anyway: a notification can be lost (a network filesystem, a watch the system dropped). */
const WATCHED_POLL_MS = 250;
/** Where the commit log cannot be watched, polling is all there is. */
const UNWATCHED_POLL_MS = 20;

/**
 * News of commits for the followers of a log() store (follow.ts). Every
 * change a reader can see — an append, a seal, a delete, from any process —
 * is an entry appended to the one commit log, so one filesystem watch of that
 * file (inotify, FSEvents…) tells every follower of every key of the store
 * when to look again; a follower woken for another key's commit finds
 * nothing new for its own and waits again. Appends of this process wake
 * followers at once anyway (store.ts calls changed()). The watch is made on
 * the first follower and closed with the last, so a store nobody follows
 * watches nothing. Where the commit log cannot be watched (the system
 * refuses, or it is not a plain file), followers poll every 20 ms as before;
 * where it is watched, every 250 ms as well, in case a notification is lost.
 */
export class CommitWatch {
  private watcher?: fs.FSWatcher;
  private readonly wakes = new Set<() => void>();

  constructor(private readonly path: string) {}

  /** A ChangeWatch for one follower; `pollMs` overrides how often it looks without news. */
  watch(pollMs?: number): ChangeWatch {
    if (!this.start()) return pollingWatch(pollMs ?? UNWATCHED_POLL_MS);
    return pollingWatch(pollMs ?? WATCHED_POLL_MS, (wake) => {
      this.wakes.add(wake);
      return () => {
        this.wakes.delete(wake);
        if (this.wakes.size === 0) this.close();
      };
    });
  }

  /** Watches the commit log unless it already is; false where it cannot be watched. */
  private start(): boolean {
    if (this.watcher !== undefined) return true;
    // Only the store's own commit log, never through a link someone put in its place.
    if (!fs.lstatSync(this.path, { throwIfNoEntry: false })?.isFile()) return false;
    try {
      const watcher = fs.watch(this.path, { persistent: false }, () => {
        for (const wake of this.wakes) wake();
      });
      watcher.on('error', () => {
        // The followers go on polling; the next follower watches afresh.
        if (this.watcher === watcher) this.watcher = undefined;
        watcher.close();
        for (const wake of this.wakes) wake();
      });
      this.watcher = watcher;
      return true;
    } catch {
      return false;
    }
  }

  /** Stops watching (the last follower ended, or the store closes). */
  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
