import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { file, isLaminateError, msgpack } from 'laminate';

const disk = file();
const store = msgpack(disk);
await store.append({ jobs: ['first'] });
await store.append({ jobs: ['second'] });

// A writer killed mid-append leaves a torn frame: a header announcing 100 bytes, then only 3.
appendFileSync(join(disk.path, 'jobs'), Buffer.from([100, 0, 0, 0, 0, 0, 0, 0, 0x91, 0xa5, 0x74]));

// Reading the key is an error with a code, the key and the offset; never garbage.
try {
  await store.get('jobs');
} catch (error) {
  if (!isLaminateError(error, 'ERR_CORRUPT_FRAME')) throw error;
  console.log(error.code, 'key', error.key, 'offset', error.offset);
  console.log(error.message);
}

// iter yields every whole value before the torn one.
try {
  for await (const value of store.iter('jobs')) console.log('whole:', value);
} catch (error) {
  console.log('then', (error as { code: string }).code);
}

// repair(key) cuts the key back to its last whole frame and says how many bytes went.
console.log('cut', await store.repair('jobs'), 'bytes');
console.log(await store.get('jobs'));
console.log('cut', await store.repair('jobs'), 'bytes'); // a whole key is left alone

// A frame that is whole but does not decode (another encoding, damaged bytes) is
// ERR_CORRUPT_FRAME too, with its offset; repair() cannot guess what it meant.
writeFileSync(join(disk.path, 'other'), Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0xc1, 0xc1]));
try {
  await store.get('other');
} catch (error) {
  console.log((error as { code: string }).code, 'at offset', (error as { offset: number }).offset);
}
await store.close();
