// A process of the network benchmark (network.ts starts it):
//   net-node.ts server <dir>       serves buffer(dict(), file(dir), 64 MiB) on a loopback TCP port,
//                                  prints the address, closes when stdin ends
//   net-node.ts direct <dir> <producers> <calls> <keysPerCall> <keys> <valueBytes>
//                                  the same appends straight into buffer(dict(), file(dir), 64 MiB),
//                                  prints {"start", "end", "error"?} after reading every key back
//   net-node.ts client <address> <producer> <calls> <keysPerCall> <keys> <valueBytes> <inFlight>
//                                  prints "ready", waits for a line on stdin, appends,
//                                  prints {"start": s, "end": s} (seconds since the epoch)
import { buffer, client, dict, file, serve } from 'laminate';
import { checkNet, keyName, plan } from './net-values.js';

const now = () => (performance.timeOrigin + performance.now()) / 1000;
const line = () => new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

const [mode, ...args] = process.argv.slice(2);
if (mode === 'server') {
  const store = buffer(dict(), file(args[0]), { availableMemory: 64 * 2 ** 20 });
  const server = await serve(store);
  console.log(server.address);
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
  await server.close();
  await store.close();
} else if (mode === 'direct') {
  const [dir, producers, calls, keysPerCall, keys, valueBytes] = args.map((a, i) => (i === 0 ? a : Number(a))) as [string, ...number[]];
  const work = { producers, calls, keysPerCall, keys, valueBytes };
  const plans = Array.from({ length: producers }, (_, p) => plan(p, work));
  const store = buffer(dict(), file(dir), { availableMemory: 64 * 2 ** 20 });
  const start = now();
  // The producers' calls taken in turn, as the server would see them arrive.
  for (let c = 0; c < calls; c++) for (const batches of plans) await store.append(batches[c]);
  const end = now();
  const error = checkNet(await store.getMany(Array.from({ length: keys }, (_, k) => keyName(k))), work);
  console.log(JSON.stringify({ start, end, error }));
  await store.close();
} else if (mode === 'client') {
  const [address, producer, calls, keysPerCall, keys, valueBytes, inFlight] = args;
  const work = { producers: 1, calls: Number(calls), keysPerCall: Number(keysPerCall), keys: Number(keys), valueBytes: Number(valueBytes) };
  const batches = plan(Number(producer), work);
  const store = client(address);
  await store.get('warm');
  console.log('ready');
  await line();
  const start = now();
  // Up to inFlight calls at once, as a producer that does not wait for each append would.
  const running = new Set<Promise<void>>();
  for (const batch of batches) {
    const call = store.append(batch);
    running.add(call);
    void call.then(() => running.delete(call));
    if (running.size >= Number(inFlight)) await Promise.race(running);
  }
  await Promise.all(running);
  const end = now();
  console.log(JSON.stringify({ start, end }));
  await store.close();
  process.exit(0);
}
