import { buffer, dict, file, msgpack } from 'laminate';

const store = buffer(dict(), file(), { availableMemory: 64 * 2 ** 20 });

// By default append copies: the caller may reuse its buffer at once.
const scratch = Buffer.from('first');
await store.append({ a: scratch });
scratch.write('XXXXX');
console.log(String(await store.get('a')));

// { transfer: true } hands the buffer over: kept by reference, no copy.
// The caller promises never to change it again.
const owned = Buffer.from('moved');
await store.append({ b: owned }, { transfer: true });
console.log(String(await store.get('b')), (await store.get('b')).buffer === owned.buffer);

// Layers above transfer their own frames: msgpack's output is never copied again.
const records = msgpack(buffer(dict(), file(), { availableMemory: 64 * 2 ** 20 }));
await records.append({ r: [{ id: 1 }] });
console.log(await records.get('r'));

await store.close();
await records.close();
