// The values of the network benchmark, as partd_net.py makes them: an 8-byte
// header (u32 LE producer, u32 LE sequence number) and one byte repeated, so a
// reader can tell which producer wrote each value and in what order.

export interface NetWork {
  /** Client processes appending at once. */
  producers: number;
  /** append() calls per producer. */
  calls: number;
  /** Values (to distinct keys) per call. */
  keysPerCall: number;
  keys: number;
  valueBytes: number;
}

export function keyName(k: number): string {
  return `k${String(k).padStart(3, '0')}`;
}

export function netValue(p: number, i: number, size: number): Buffer {
  const value = Buffer.alloc(size, (p * 31 + i * 7) & 0xff);
  value.writeUInt32LE(p, 0);
  value.writeUInt32LE(i, 4);
  return value;
}

/** The append calls of producer `p`, built before the clock starts. */
export function plan(p: number, work: NetWork): Record<string, Buffer>[] {
  const calls: Record<string, Buffer>[] = [];
  let i = 0;
  for (let c = 0; c < work.calls; c++) {
    const batch: Record<string, Buffer> = {};
    for (let j = 0; j < work.keysPerCall; j++, i++) batch[keyName(i % work.keys)] = netValue(p, i, work.valueBytes);
    calls.push(batch);
  }
  return calls;
}

/** Every value once, each producer's in order: undefined, or what is wrong. */
export function checkNet(lists: readonly Uint8Array[], work: NetWork): string | undefined {
  const counts = new Array<number>(work.producers).fill(0);
  for (let k = 0; k < lists.length; k++) {
    const data = Buffer.from(lists[k].buffer, lists[k].byteOffset, lists[k].byteLength);
    if (data.byteLength % work.valueBytes !== 0) return `key ${keyName(k)} holds ${data.byteLength} bytes, not a multiple of ${work.valueBytes}`;
    const last = new Array<number>(work.producers).fill(-1);
    for (let offset = 0; offset < data.byteLength; offset += work.valueBytes) {
      const p = data.readUInt32LE(offset);
      const i = data.readUInt32LE(offset + 4);
      const ok = p < work.producers && i % work.keys === k && i > last[p] && netValue(p, i, work.valueBytes).equals(data.subarray(offset, offset + work.valueBytes));
      if (!ok) return `bad value (producer ${p}, number ${i}) under key ${keyName(k)}`;
      last[p] = i;
      counts[p]++;
    }
  }
  const each = work.calls * work.keysPerCall;
  if (counts.some((n) => n !== each)) return `value counts per producer ${JSON.stringify(counts)}, expected ${each} each`;
  return undefined;
}
