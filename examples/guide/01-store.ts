import { dict } from 'laminate';

const store = dict(); // bytes in memory; every layer has these same methods

// append: an object of key → value, or any iterable of [key, value] pairs (a Map, an array).
await store.append({ alice: Buffer.from('hello '), bob: Buffer.from('hi') });
await store.append([['alice', Buffer.from('world')]]);

// get: everything appended under the key, in append order, as one value.
console.log(String(await store.get('alice')));
console.log((await store.getMany(['alice', 'bob'])).map(String));
// A key never written reads as the layer's empty value (here, empty bytes); it never throws.
console.log('carol:', (await store.get('carol')).length, 'bytes');

// iter: the appended values one by one, not joined.
for await (const chunk of store.iter('alice')) console.log('chunk:', JSON.stringify(String(chunk)));

// iset / iget: set-once metadata. The first value wins; keys() never lists it.
await store.iset('dtype', Buffer.from('float64'));
await store.iset('dtype', Buffer.from('int32'));
console.log('dtype:', String(await store.iget('dtype')));

// pop is get + delete in one step; delete takes a list of keys.
console.log('popped:', String(await store.pop('bob')), await store.keys());
await store.delete(['alice']);
console.log('after delete:', await store.keys());

// withLock: an exclusive section. The store's own calls inside it go through.
const seen = await store.withLock(async () => {
  const before = (await store.get('visits')).length;
  await store.append({ visits: Buffer.from('+') });
  return before + 1;
});
console.log('visits:', seen);

await store.drop(); // empties the store; it stays usable
console.log('after drop:', await store.keys());

await store.close();
try {
  await store.get('alice');
} catch (error) {
  console.log((error as { code: string }).code);
}

// `await using` closes the store when the block ends.
{
  await using scratch = dict();
  await scratch.append({ key: new Uint8Array([1, 2, 3]) });
  console.log('scratch:', await scratch.get('key'));
}
