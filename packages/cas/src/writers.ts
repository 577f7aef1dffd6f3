import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { processAlive } from '@laminate/core/layer';

/**
 * An object's bytes are written under a key named after the process writing
 * them — host, pid, start time, a random part — and only then recorded under
 * their digest. So a collector can tell bytes a live writer is still putting
 * from bytes a dead one left: on this host it asks whether the pid lives, and
 * for another host (a shared Redis) it waits out a grace period.
 */
const SEPARATOR = '~';

export function newWriterTag(): string {
  return [hostname(), String(process.pid), Date.now().toString(36), randomBytes(6).toString('hex')].join(SEPARATOR);
}

interface WriterTag {
  host: string;
  pid: number;
  startedMs: number;
}

/** Read from the right: a host name may hold the separator, the other parts never do. */
export function parseWriterTag(tag: string): WriterTag | undefined {
  const parts = tag.split(SEPARATOR);
  if (parts.length < 4) return undefined;
  const [pidText, timeText] = parts.slice(-3, -1);
  const pid = Number(pidText);
  const startedMs = parseInt(timeText, 36);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isFinite(startedMs)) return undefined;
  return { host: parts.slice(0, -3).join(SEPARATOR), pid, startedMs };
}

/** True when the writer of `tag` can no longer finish: a dead process here, or older than the grace period elsewhere. */
export function writerGone(tag: string, graceMs: number, now = Date.now()): boolean {
  const writer = parseWriterTag(tag);
  if (writer === undefined) return false;
  if (writer.host === hostname()) return !processAlive(writer.pid);
  return now - writer.startedMs > graceMs;
}
