import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { file, isLaminateError, msgpack } from 'laminate';

const disk = file();
const store = msgpack(disk);
await store.append({ jobs: ['first'] });
await store.append({ jobs: ['second'] });
const path = join(disk.path, 'jobs');
const whole = readFileSync(path);

// A writer killed mid-append leaves a torn frame: a header announcing 100 bytes, then only 3.
appendFileSync(path, Buffer.from([100, 0, 0, 0, 0, 0, 0, 0, 0x91, 0xa5, 0x74]));

// Reading the key is an error with a code, the key and the offset; never garbage.
try {
  await store.get('jobs');
} catch (error) {
  if (!isLaminateError(error, 'ERR_CORRUPT_FRAME')) throw error;
  console.log(error.code, 'key', error.key, 'offset', error.offset, 'repairable', error.repairable);
  console.log(error.message);
}

// iter yields every whole value before the torn one.
try {
  for await (const value of store.iter('jobs')) console.log('whole:', value);
} catch (error) {
  console.log('then', (error as { code: string }).code);
}

// repair(key) cuts the torn tail, and only it, and says how many bytes went.
console.log('cut', await store.repair('jobs'), 'bytes');
console.log(await store.get('jobs'));
console.log('cut', await store.repair('jobs'), 'bytes'); // a whole key is left alone

// Damage inside the key is not a torn tail: here the second frame's header lost 4 from its length.
const damaged = Buffer.from(whole);
damaged[15] -= 4; // byte 15: the low byte of the second frame's length
writeFileSync(path, damaged);
for (const attempt of [() => store.get('jobs'), () => store.repair('jobs')]) {
  try {
    await attempt();
  } catch (error) {
    console.log((error as { repairable: boolean }).repairable, (error as Error).message);
  }
}
console.log('bytes unchanged:', readFileSync(path).equals(damaged));

// Bytes that are not frames at all (raw bytes appended through file()) say so, without repair advice.
await disk.append({ notes: Buffer.from('plain text, appended as raw bytes') });
try {
  await store.get('notes');
} catch (error) {
  console.log((error as Error).message);
}
await store.close();
