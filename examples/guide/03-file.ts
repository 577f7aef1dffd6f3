import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { file } from 'laminate';

const dir = join(mkdtempSync(join(tmpdir(), 'guide-')), 'orders');

// file(path): one file per key under `path` (made if missing). The data outlives the store.
const writer = file(dir);
await writer.append({ 'day-1': Buffer.from('12,'), 'day-2': Buffer.from('7,') });
await writer.append({ 'day-1': Buffer.from('30,') });
await writer.close();

const reader = file(dir);
console.log(String(await reader.get('day-1')), await reader.keys());
await reader.close();

// file() without a path: a temporary directory, removed on close (or when the process exits).
const scratch = file();
console.log('temporary:', scratch.temporary, existsSync(scratch.path));
await scratch.close();
console.log('after close:', existsSync(scratch.path));

// Single-owner mode holds the directory lock from open to close: faster appends,
// and anyone else opening the directory meanwhile gets ERR_LOCKED.
const owner = file(dir, { exclusive: true });
try {
  file(dir, { exclusive: true });
} catch (error) {
  console.log((error as { code: string }).code);
}
const shared = file(dir, { lockTimeoutMs: 200 }); // waits at most 200 ms for the lock
try {
  await shared.get('day-1');
} catch (error) {
  console.log((error as { code: string }).code);
}
await owner.close();
console.log(String(await shared.get('day-2'))); // the owner is gone: the lock is free
await shared.close();

// The other options: fsync each append before it resolves, bound the cache of
// open files, and decide when a lock left by a dead process counts as stale.
const careful = file(dir, { fsync: true, maxOpenFiles: 16, lockStaleMs: 5_000 });
for (let i = 0; i < 100; i++) await careful.append({ [`key-${i}`]: Buffer.from('v') });
console.log((await careful.keys()).length, 'keys, with at most 16 files open at a time');
console.log(careful.describe());
await careful.close();

rmSync(join(dir, '..'), { recursive: true });
