import { rmSync } from 'node:fs';

/**
 * Temporary directories of file() stores: removed when their store closes
 * (forget) or, failing that, when the process exits, including on SIGINT,
 * SIGTERM and SIGHUP when nothing else handles those signals.
 */
const pending = new Set<string>();
let hooked = false;

function removeAll(): void {
  for (const dir of pending) rmSync(dir, { recursive: true, force: true });
  pending.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeAll();
  // Only ours was listening: die of the signal as the process would have.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

export function removeOnExit(dir: string): void {
  pending.add(dir);
  if (hooked) return;
  hooked = true;
  process.on('exit', removeAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    if (process.listenerCount(signal) === 0) process.on(signal, onSignal);
  }
}

export function forget(dir: string): void {
  pending.delete(dir);
}
