// A producer process of the Redis benchmark (redis.ts starts it):
//   redis-node.ts store <specJson> <producer> <calls> <keysPerCall> <keys> <valueBytes> <inFlight>
//       appends the network benchmark's values through the store of a spec (redis() here)
//   redis-node.ts plain <url> <prefix> <producer> <calls> <keysPerCall> <keys> <valueBytes> <inFlight>
//       the same values as plain APPENDs of each value to <prefix><key>, on the
//       connection redis() itself makes (ioredis, same options): no script, no
//       producer record, so a command resent after a dropped connection is applied twice
// Each prints "ready", waits for a line on stdin, appends with up to inFlight
// calls at once, prints {"start": s, "end": s} (seconds since the epoch).
import { open } from 'laminate';
import { connect } from '../packages/redis/src/connection.js';
import { redisSettings } from '../packages/redis/src/options.js';
import { plan } from './net-values.js';

const now = () => (performance.timeOrigin + performance.now()) / 1000;
const line = () => new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

const [mode, ...args] = process.argv.slice(2);
const [producer, calls, keysPerCall, keys, valueBytes, inFlight] = args.slice(mode === 'plain' ? 2 : 1).map(Number);
const batches = plan(producer, { producers: 1, calls, keysPerCall, keys, valueBytes });

let append: (batch: Record<string, Buffer>) => Promise<unknown>;
let close: () => Promise<unknown>;
if (mode === 'plain') {
  const [url, prefix] = args;
  const redis = connect(redisSettings(url, {}));
  await redis.connect();
  append = (batch) => Promise.all(Object.entries(batch).map(([key, value]) => redis.append(`${prefix}${key}`, value)));
  close = () => redis.quit();
  await redis.ping();
} else {
  const store = open<Uint8Array>(JSON.parse(args[0]));
  append = (batch) => store.append(batch);
  close = () => store.close();
  await store.get('warm');
}
console.log('ready');
await line();
const start = now();
const running = new Set<Promise<unknown>>();
for (const batch of batches) {
  const call = append(batch);
  running.add(call);
  void call.then(() => running.delete(call));
  if (running.size >= inFlight) await Promise.race(running);
}
await Promise.all(running);
const end = now();
console.log(JSON.stringify({ start, end }));
await close();
process.exit(0);
