import * as fs from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { processAlive } from './processes.js';

/**
 * Where file() without a path makes its directory: `$TMPDIR/laminate-<uid>/`,
 * one folder for all of this user's temporary stores, each in a folder named
 * after its owner process, `<pid>.<start>.<pidns>.<boot>-XXXXXX`: the pid, the
 * process's start time (so that a new process given a dead one's pid is not
 * taken for it), and where that pid means this process: its pid namespace (a
 * container sharing /tmp numbers its processes apart) and the machine's boot
 * id (hosts sharing a $TMPDIR over the network, as clusters do). A process
 * killed with SIGKILL cannot remove its folder; the next temporary store made
 * by any process of the user there sweeps it.
 */
export function makeTemporaryDirectory(): string {
  const parent = temporaryParent();
  // The parent is not ours (another user made it, or planted a link in a shared /tmp): neither fill it nor sweep it.
  if (parent === undefined) return fs.mkdtempSync(join(tmpdir(), 'laminate-'));
  sweep(parent);
  return fs.mkdtempSync(join(parent, `${process.pid}.${self().start}.${self().place}-`));
}

/** A temporary store's folder: owner pid, its start time, its pid namespace and boot id ('0' where /proc cannot tell), mkdtemp's six characters. */
const FOLDER = /^(\d+)\.(\d+)\.(\d+\.[0-9a-f]+)-[A-Za-z0-9]{6}$/;

const uid = process.getuid?.();

let me: { start: string; place: string } | undefined;

/** This process, as its folders name it (read once, when the first temporary store is made). */
function self(): { start: string; place: string } {
  me ??= { start: processStat(process.pid)?.start ?? '0', place: `${pidNamespace()}.${bootId()}` };
  return me;
}

function temporaryParent(): string | undefined {
  const parent = join(tmpdir(), `laminate-${uid ?? userInfo().username}`);
  try {
    fs.mkdirSync(parent, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stat = fs.lstatSync(parent);
  return stat.isDirectory() && (uid === undefined || stat.uid === uid) ? parent : undefined;
}

/**
 * Removes the folders in `parent` whose owner process is gone. Only folders
 * named as makeTemporaryDirectory() names them and owned by this user; a link
 * is never followed nor removed; an owner that may still live keeps its
 * folder. Best effort: a folder that cannot be removed now is left for a
 * later sweep, and never fails the store being made.
 */
function sweep(parent: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const match = FOLDER.exec(name);
    if (match === null || ownerMayLive(Number(match[1]), match[2], match[3])) continue;
    const path = join(parent, name);
    try {
      const stat = fs.lstatSync(path);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) continue;
      // rmSync removes the links inside a folder, never what they point to.
      fs.rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed meanwhile by another sweep, or not removable now: a later sweep tries again.
    }
  }
}

function ownerMayLive(pid: number, start: string, place: string): boolean {
  // A pid of another namespace or machine (or of this one before a reboot) names some other process here: nothing can be told.
  if (place !== self().place) return true;
  if (!processAlive(pid)) return false;
  const now = processStat(pid);
  // Where /proc cannot tell, a live pid may be the owner.
  if (now === undefined) return true;
  // A zombie never runs again; another start time is another process given the owner's pid.
  return now.state !== 'Z' && (start === '0' || now.start === start);
}

/** A process's state and start time (clock ticks since boot), from /proc/<pid>/stat; undefined where there is no /proc. */
function processStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2, the command, is in parentheses and may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: fields[19] };
  } catch {
    return undefined;
  }
}

function pidNamespace(): string {
  try {
    return /\d+/.exec(fs.readlinkSync('/proc/self/ns/pid'))?.[0] ?? '0';
  } catch {
    return '0';
  }
}

/** This boot of this machine, as 32 hex digits (Linux's random boot id); '0' where it cannot be read. */
function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replaceAll('-', '') || '0';
  } catch {
    return '0';
  }
}

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
  for (const dir of pending) fs.rmSync(dir, { recursive: true, force: true });
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
