import { rmSync } from 'node:fs';

/**
 * Temporary directories of file() stores: removed when their store closes
 * (which then calls removedByStore) or, failing that, when the process exits, including on SIGINT,
 * SIGTERM and SIGHUP when nothing else handles those signals.
 *
 * proper-lockfile installs signal-exit's listeners on these signals as soon
 * as it loads (to remove its locks), so "nothing else listens" cannot mean
 * "no listener at all": like signal-exit itself, we leave its listeners out
 * of the count. (Counting them, a process ended by SIGTERM or SIGINT left
 * its temporary directories behind.)
 */
const pending = new Set<string>();
let hooked = false;

function removeAll(): void {
  for (const dir of pending) rmSync(dir, { recursive: true, force: true });
  pending.clear();
}

/** How many signal-exit instances (v3 and v4 keep a global count) listen on the exit signals. */
function signalExitListeners(): number {
  const v3 = (process as unknown as { __signal_exit_emitter__?: { count?: number } }).__signal_exit_emitter__;
  const v4 = (globalThis as Record<symbol, { count?: number } | undefined>)[Symbol.for('signal-exit emitter')];
  return (v3?.count ?? 0) + (v4?.count ?? 0);
}

function onSignal(signal: NodeJS.Signals): void {
  // The program handles this signal itself and may carry on with its stores:
  // leave the directories to the 'exit' handler.
  if (process.listenerCount(signal) - 1 - signalExitListeners() > 0) return;
  removeAll();
  // Die of the signal as the process would have. Re-raised without our
  // listener, signal-exit (if loaded) now sees only itself, runs its exit
  // handlers and re-raises in turn.
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

export function removeOnExit(dir: string): void {
  pending.add(dir);
  if (hooked) return;
  hooked = true;
  process.on('exit', removeAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}

/** The store removed `dir` itself: nothing is left to remove at exit. */
export function removedByStore(dir: string): void {
  pending.delete(dir);
}
