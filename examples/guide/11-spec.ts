import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer, dict, file, formatSpec, lz4, msgpack, open, parseSpec } from 'laminate';

const dir = mkdtempSync(join(tmpdir(), 'guide-'));

// describe() is plain JSON: hand it to a worker thread, a child process or a config file.
const store = msgpack(lz4(buffer(dict(), file(dir), { availableMemory: 64 * 2 ** 20 })));
await store.append({ k: ['written by the first store'] });
console.log(JSON.stringify(store.describe()));
console.log(formatSpec(store.describe())); // the same, in the short form
await store.close(); // a buffer spills what it holds on close: the data is in the directory

// open() takes either form and builds the same stack again, over the same directory.
const again = open(`msgpack(lz4(buffer(dict, file(${dir}), availableMemory=64MiB)))`);
console.log(await again.get('k'));
await again.close();

// The short form: layer(argument, …), where an argument is a nested layer, name=value,
// or a bare value for the layer's positional field (file's path). Sizes take units.
for (const short of [
  'dict',
  'zstd(file(/data/x), level=19)',
  'msgpack(file(/data/x), records=true)',
  'file(/data/x, exclusive=true, maxOpenFiles=1k)',
  'buffer(dict, file("/data/a,b (1)"), availableMemory=1.5GB, maxDiskBytes=10GiB)',
]) {
  const parsed = parseSpec(short);
  console.log(`${short}\n  → ${JSON.stringify(parsed)}\n  → ${formatSpec(parsed)}`);
}

// A spec that cannot be read says where and why.
try {
  open('msgpack(lz4)');
} catch (error) {
  console.log((error as { code: string }).code, (error as Error).message);
}
rmSync(dir, { recursive: true });
