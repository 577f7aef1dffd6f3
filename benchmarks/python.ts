// The Python partd peer: finds Debian's python3 with partd, runs
// partd_bench.py once per partd stack, and says loudly when it cannot.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Measurement } from './measure.js';

export const PYTHON = '/usr/bin/python3';
export const INSTALL = 'apt-get install -y python3-partd python3-msgpack python3-numpy python3-pandas python3-zmq python3-snappy python3-blosc';
const SCRIPT = join(fileURLToPath(new URL('.', import.meta.url)), 'partd_bench.py');

/** partd stack → the laminate stacks compared with it. */
export const PEERS = { File: 'partd.File()', Buffer: 'partd.Buffer(partd.Dict(), partd.File(), 64 MiB)', ZLib: 'partd.ZLib(partd.File())' } as const;
export type PartdStack = keyof typeof PEERS;

export interface PartdInfo {
  partd: string;
  python: string;
}

function call(args: string[]): { json?: unknown; error?: string } {
  const run = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) return { error: `${PYTHON} ${args[0]} exited ${run.status}: ${(run.stderr || run.error?.message || '').trim().split('\n').slice(-3).join(' ')}` };
  try {
    const json = JSON.parse(run.stdout.trim().split('\n').pop()!);
    if (json && typeof json === 'object' && 'error' in json) return { error: String(json.error) };
    return { json };
  } catch {
    return { error: `could not read partd_bench.py output: ${run.stdout.slice(0, 200)}` };
  }
}

/** partd's version, or why it cannot run. */
export function partdInfo(): PartdInfo | { error: string } {
  if (!existsSync(PYTHON)) return { error: `${PYTHON} not found` };
  const { json, error } = call(['info']);
  return error ? { error } : (json as PartdInfo);
}

export function runPartd(stack: PartdStack, root: string, configPath: string, repeat: number): Measurement[] | { error: string } {
  return runPartdMode([stack, root, configPath, String(repeat)]);
}

/** Runs one mode of partd_bench.py (`pandas …`, `numpy …`) that prints measurements. */
export function runPartdMode(args: string[]): Measurement[] | { error: string } {
  const { json, error } = call(args);
  return error ? { error } : (json as Measurement[]);
}

export interface PartdCosts {
  /** µs per acquire + release of partd.File's lock (locket). */
  lock: number;
  /** µs per zlib.decompress of a 100-byte value. */
  inflate100: number;
}

export function partdCosts(root: string): PartdCosts | undefined {
  const { json } = call(['costs', join(root, 'partd-costs')]);
  return json as PartdCosts | undefined;
}
