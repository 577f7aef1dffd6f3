// A process of benchmarks/streams.ts: the producer, or the server.
//   stream-peer.ts produce file|log|client|redis|pipe TARGET COUNT SIZE RATE
//     appends COUNT records of SIZE bytes to the key 's' of file(TARGET),
//     log(TARGET), client(TARGET) or redis(TARGET), or writes them to stdout (pipe), RATE a second (0: as
//     fast as the store takes them; client() with up to 8 appends unanswered). Each record starts with the time it was
//     made (process.hrtime, the machine's monotonic clock, the same in every
//     process) as a little-endian u64 of nanoseconds. Prints nothing else on
//     stdout; "done" on stderr at the end.
//   stream-peer.ts serve ADDRESS_FILE
//     serves a dict() on a free local port and writes the address to ADDRESS_FILE.
import { writeFileSync } from 'node:fs';
import { client, dict, file, log, redis, serve } from 'laminate';

const [role, ...rest] = process.argv.slice(2);

function record(size: number): Buffer {
  const bytes = Buffer.alloc(size, 0x61);
  bytes.writeBigUInt64LE(process.hrtime.bigint(), 0);
  return bytes;
}

/** Resolves at `due` (process.hrtime, ns); sleeps most of the way, then yields to the loop until it is time. */
async function until(due: bigint): Promise<void> {
  for (;;) {
    const left = Number(due - process.hrtime.bigint()) / 1e6;
    if (left <= 0) return;
    await new Promise((resolve) => (left > 1.5 ? setTimeout(resolve, left - 1) : setImmediate(resolve)));
  }
}

if (role === 'serve') {
  const server = await serve(dict(), { listen: 'tcp://127.0.0.1:0' });
  writeFileSync(rest[0], server.address);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else {
  const [mode, target, countText, sizeText, rateText] = rest;
  const count = Number(countText);
  const size = Number(sizeText);
  const rate = Number(rateText);
  const interval = rate > 0 ? BigInt(Math.round(1e9 / rate)) : 0n;
  const store = mode === 'file' ? file(target) : mode === 'log' ? log(target) : mode === 'client' ? client(target) : mode === 'redis' ? redis(target) : undefined;
  const start = process.hrtime.bigint();
  // Appends in flight, oldest first. The client() producer sends the next record without waiting for the last
  // one's reply, as a pipe writer does, up to 8 unanswered: client() pipelines them on one connection and the
  // server applies them in order, and waiting for each reply would measure the round trip, not the stream.
  // The other stores append in this process (or to redis-server) and take one at a time.
  const appendsInFlight = mode === 'client' ? 8 : 1;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    if (interval > 0n) await until(start + BigInt(i) * interval);
    const bytes = record(size);
    if (store) {
      inFlight.push(store.append({ s: bytes }, { transfer: true }));
      if (inFlight.length >= appendsInFlight) await inFlight.shift();
    } else if (!process.stdout.write(bytes)) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
  await Promise.all(inFlight);
  await store?.close();
  process.stderr.write('done\n');
}
