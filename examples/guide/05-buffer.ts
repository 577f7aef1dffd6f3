import { buffer, dict, file, isLaminateError } from 'laminate';

const disk = file();
const store = buffer(dict(), disk, { availableMemory: 1_000 });

// Under budget: everything stays in memory.
await store.append({ big: Buffer.alloc(600, 'a'), small: Buffer.alloc(100, 'b') });
console.log('memory', store.memoryUsage, 'spilled', store.spilledBytes, 'on disk', await disk.keys());

// Over budget (1,100 > 1,000 bytes): the largest keys move to disk, about a tenth
// of what memory holds, whole keys only, so here all of "big".
await store.append({ big: Buffer.alloc(400, 'c') });
console.log('memory', store.memoryUsage, 'spilled', store.spilledBytes, 'on disk', await disk.keys());

// Reads give the spilled part first, then the part still in memory: append order.
await store.append({ big: Buffer.from('d') });
const big = String(await store.get('big'));
console.log(big.length, 'bytes:', big[0], big[600], big[1000]);

// Backpressure: an append resolves only after the spill it caused, so memory
// stays within budget however many appends run at once.
const flood = buffer(dict(), file(), { availableMemory: 64 * 1024 });
let highest = 0;
await Promise.all(
  Array.from({ length: 100 }, (_, i) =>
    flood.append({ [`key-${i % 8}`]: Buffer.alloc(4096) }).then(() => {
      highest = Math.max(highest, flood.memoryUsage);
    }),
  ),
);
console.log('memory never over budget:', highest <= 64 * 1024);
await flood.flush(); // moves everything to the slow store
console.log('after flush:', flood.memoryUsage, 'in memory,', flood.spilledBytes, 'spilled');
await flood.close();

// maxDiskBytes caps what the buffer may put in the slow store. An append that
// would spill past it fails with ERR_DISK_FULL and stores nothing.
const capped = buffer(dict(), file(), { availableMemory: 100, maxDiskBytes: 250 });
await capped.append({ log: Buffer.alloc(150) }); // spills 150 bytes
try {
  await capped.append({ log: Buffer.alloc(150) }); // would spill 150 more
} catch (error) {
  if (!isLaminateError(error, 'ERR_DISK_FULL')) throw error;
  console.log(error.code, '— still stored:', (await capped.get('log')).length, 'bytes');
}
await capped.close();

// close() first spills what memory holds, so with a file(path) below, reopening finds every value.
await store.close();
