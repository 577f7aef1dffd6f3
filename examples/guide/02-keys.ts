import { readdirSync } from 'node:fs';
import { file } from 'laminate';

const store = file(); // a temporary directory

// A key is a string or a tuple of strings and numbers.
await store.append([
  [['2024-01-01', 7], Buffer.from('a')],
  [['2024-01-01', '7'], Buffer.from('b')], // numbers become strings: the same key
  [['plain'], Buffer.from('c')], // a one-part tuple is its only part
  ['plain', Buffer.from('d')],
]);
console.log(String(await store.get(['2024-01-01', 7])), String(await store.get('plain')));
console.log(await store.keys()); // strings for plain keys, arrays of strings for tuples

// Any string is a key: file() escapes what is not [A-Za-z0-9._-] and keeps every key inside its directory.
await store.append({ '../etc/passwd': Buffer.from('x'), 'naïve key': Buffer.from('y'), '': Buffer.from('z') });
const names = readdirSync(store.path, { recursive: true, encoding: 'utf8' });
console.log(names.filter((name) => !name.startsWith('.')).sort()); // the store's own files start with '.'
console.log(String(await store.get('../etc/passwd')), (await store.keys()).length, 'keys');

// What is not a key is refused before anything is stored.
for (const bad of [42, [], ['a', true]]) {
  try {
    await store.get(bad as never);
  } catch (error) {
    console.log((error as { code: string }).code, (error as Error).message);
  }
}
await store.close();
