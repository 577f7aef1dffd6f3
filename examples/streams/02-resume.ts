import { Readable } from 'node:stream';
import { file, msgpack } from 'laminate';

const events = msgpack(file());

// appendStream takes a Node Readable (or any async iterable), one value at a time, with backpressure.
await events.appendStream('clicks', Readable.from([[{ page: '/' }], [{ page: '/docs' }], [{ page: '/docs/streams' }]]));

// A consumer that stops after two values keeps its position ...
const first = events.follow('clicks');
let taken = 0;
for await (const [click] of first) {
  console.log('took', click);
  if (++taken === 2) break;
}
console.log('position', first.position);

// ... and another (in any process, later) resumes right after them.
await events.append({ clicks: [{ page: '/pricing' }] });
await events.seal('clicks');
for await (const [click] of events.follow('clicks', { from: first.position })) console.log('resumed with', click);

// A follower of a key that is not sealed ends with its signal (ERR_ABORTED) or after idleTimeoutMs.
const idle = events.follow('other', { idleTimeoutMs: 100 });
for await (const value of idle) console.log(value);
console.log('other ended by', idle.endedBy);
await events.close();
