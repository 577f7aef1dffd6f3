import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { file, isLaminateError } from 'laminate';

const parent = mkdtempSync(join(tmpdir(), 'guide-'));
const dir = join(parent, 'store');
const store = file(dir);
await store.append({ 'day-1': Buffer.from('12,'), 'day-2': Buffer.from('7,') });
// What is in the directory, without the store's lock and generation counter.
const listing = () => readdirSync(dir).filter((name) => !name.startsWith('.laminate')).sort();

// Someone keeps notes and a git repository in the store's directory.
writeFileSync(join(dir, 'my notes.txt'), 'mine');
mkdirSync(join(dir, '.git'));

// drop() deletes only what the store wrote: with anything else there, it refuses and deletes nothing.
try {
  await store.drop();
} catch (error) {
  if (isLaminateError(error, 'ERR_FOREIGN_FILES')) console.log(error.code, error.message);
}
console.log(listing());

// { foreign: 'keep' } deletes the store's keys and metadata, and leaves the rest.
await store.drop({ foreign: 'keep' });
console.log(listing(), await store.keys());

// file() never follows a symbolic link: it makes none, so a link in its directory was put there by someone else.
writeFileSync(join(parent, 'secret.txt'), 'outside the store');
symlinkSync(join(parent, 'secret.txt'), join(dir, 'day-3'));
for (const attempt of [() => store.get('day-3'), () => store.append({ 'day-3': Buffer.from('x') })]) {
  try {
    await attempt();
  } catch (error) {
    if (isLaminateError(error, 'ERR_SYMLINK')) console.log(error.code, error.key);
  }
}
console.log(await store.keys()); // a link is no key
await store.close();
rmSync(parent, { recursive: true });
