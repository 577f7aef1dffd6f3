/**
 * A read cache of segment blocks, shared by every get of one store. A key's
 * values lie among other keys' records, so a get of a key appended a value
 * at a time is one positioned read per value; getting many keys reads the
 * same stretch of a segment again for each. Blocks of BLOCK bytes are kept
 * (first in, first out, up to `capacity` bytes) and small values are copied
 * out of them, so a run of gets reads each stretch once.
 *
 * Segments only grow, and committed bytes never change, so a block stays
 * right; one read while its segment was shorter is read again when a value
 * reaches past what it holds. A segment removed by compact() is forgotten.
 */
export const BLOCK = 64 << 10;

interface Block {
  bytes: Buffer;
  /** Bytes read into it (less than BLOCK at a segment's end). */
  valid: number;
}

export class BlockCache {
  /** Key segment × 2^32 + block number; the Map's order is the order of eviction. */
  private readonly blocks = new Map<number, Block>();

  constructor(
    private readonly capacity: number,
    /** Reads up to `into.byteLength` bytes of the segment at `position`; how many it read. */
    private readonly fill: (segment: number, position: number, into: Buffer) => number,
  ) {}

  /** Copies `length` bytes of the segment at `position` into `out` at `at`; false when the segment ends first. */
  copy(segment: number, position: number, out: Uint8Array, at: number, length: number): boolean {
    let done = 0;
    while (done < length) {
      const p = position + done;
      const number = Math.floor(p / BLOCK);
      const within = p - number * BLOCK;
      const need = Math.min(length - done, BLOCK - within);
      const key = segment * 2 ** 32 + number;
      let block = this.blocks.get(key);
      if (block === undefined || block.valid < within + need) {
        block = this.load(key, segment, number, block);
        if (block.valid < within + need) return false;
      }
      out.set(block.bytes.subarray(within, within + need), at + done);
      done += need;
    }
    return true;
  }

  private load(key: number, segment: number, number: number, stale: Block | undefined): Block {
    let block = stale;
    if (block === undefined) {
      // Full: the oldest block's buffer is taken over.
      let bytes: Buffer | undefined;
      if ((this.blocks.size + 1) * BLOCK > this.capacity && this.blocks.size > 0) {
        const [oldest, evicted] = this.blocks.entries().next().value as [number, Block];
        this.blocks.delete(oldest);
        bytes = evicted.bytes;
      }
      block = { bytes: bytes ?? Buffer.allocUnsafe(BLOCK), valid: 0 };
      this.blocks.set(key, block);
    }
    block.valid = this.fill(segment, number * BLOCK, block.bytes);
    return block;
  }

  /** Drops the blocks of a removed segment. */
  forget(segment: number): void {
    for (const key of [...this.blocks.keys()]) if (Math.floor(key / 2 ** 32) === segment) this.blocks.delete(key);
  }

  clear(): void {
    this.blocks.clear();
  }
}
