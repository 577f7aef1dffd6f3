import { dict, file, msgpack, open } from 'laminate';

interface Event {
  id: number;
  user: string;
}

// msgpack(inner): a value is an array; get returns every array appended under the key, concatenated.
const events = msgpack<Event>(dict());
await events.append({ clicks: [{ id: 1, user: 'ada' }, { id: 2, user: 'bob' }] });
await events.append({ clicks: [{ id: 3, user: 'ada' }] });
console.log(await events.get('clicks'));
console.log(await events.get('views')); // a missing key is []

// iter gives one array per append call.
for await (const batch of events.iter('clicks')) console.log('batch of', batch.length);

// What MessagePack can hold round-trips; 64-bit integers past 2^53 come back as bigint.
const values = msgpack(dict());
await values.append({ mixed: [null, true, 1.5, 'text', 2n ** 60n, new Date(0), new Uint8Array([1, 2]), { nested: [1] }] });
console.log(await values.get('mixed'));

// A value that is not an array is refused, naming the key; nothing of the call is stored.
try {
  await values.append({ ok: [1], wrong: { id: 1 } as never });
} catch (error) {
  console.log((error as { code: string }).code, (error as Error).message);
}
console.log('ok:', await values.get('ok'));

// By default what is stored is plain MessagePack that any MessagePack library
// (Python's msgpack, partd) reads. { records: true } turns on msgpackr's record
// extension: much smaller and faster for arrays of same-shaped objects, but only
// msgpackr reads it back. describe() records the choice, so open() rebuilds it.
const rows = Array.from({ length: 1000 }, (_, id) => ({ id, user: `user-${id % 10}`, amount: id / 4 }));
for (const records of [false, true]) {
  const disk = file();
  const store = msgpack(disk, { records });
  await store.append({ rows });
  const reopened = open<unknown[]>(store.describe());
  console.log(`records: ${records}`, (await disk.get('rows')).length, 'bytes,', (await reopened.get('rows')).length, 'rows back');
  await reopened.close();
  await store.close();
}
