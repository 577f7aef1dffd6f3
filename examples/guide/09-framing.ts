import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { file, msgpack } from 'laminate';

// The bytes layers (dict, file, buffer) store exactly the bytes appended, end to end.
const raw = file();
await raw.append({ log: Buffer.from('one,') });
await raw.append({ log: Buffer.from('two,') });
console.log(readFileSync(join(raw.path, 'log'), 'utf8'));
await raw.close();

// Encoding and compression layers write one frame per appended value:
// an 8-byte little-endian length, then the payload. This is partd's framing.
const disk = file();
const events = msgpack(disk);
await events.append({ events: [1, 'a'] });
await events.append({ events: [2] });
const bytes = readFileSync(join(disk.path, 'events'));
for (let at = 0; at < bytes.length; ) {
  const length = Number(bytes.readBigUInt64LE(at));
  console.log(`frame at byte ${at}: length ${length}, MessagePack ${bytes.subarray(at + 8, at + 8 + length).toString('hex')}`);
  at += 8 + length;
}
await events.close();

