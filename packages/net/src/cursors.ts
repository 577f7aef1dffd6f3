/**
 * Streaming `iter`: a connection's open cursors, each the rest of a key's
 * chunks, read a batch at a time as the client asks for them. A batch fits
 * one frame, so a key of any size can be read.
 */
import { LaminateError } from '@laminate/core';
import type { Reply } from './dispatch.js';

/** How many chunks of a key one `iter` reply carries at most, in bytes (a single larger chunk still goes alone). */
const ITER_BATCH_BYTES = 1 << 20;

interface Cursor {
  iterator: AsyncIterator<Uint8Array>;
  /** A chunk read that did not fit the last batch. */
  held?: Uint8Array;
}

export class Cursors {
  private readonly open = new Map<number, Cursor>();
  private nextId = 1;

  constructor(private readonly maxMessageBytes: number) {}

  /** Opens a cursor on a key's chunks and answers with the first batch. */
  start(iterator: AsyncIterator<Uint8Array>): Promise<Reply> {
    const id = this.nextId++;
    this.open.set(id, { iterator });
    return this.next(id, false);
  }

  /** The next batch of cursor `id`, with the cursor again while more remain; or, with `cancel`, closes it. */
  async next(id: number, cancel: boolean): Promise<Reply> {
    const cursor = this.open.get(id);
    if (cursor === undefined) throw new LaminateError('ERR_PROTOCOL', `No open iter cursor ${id} on this connection.`);
    if (cancel) {
      this.open.delete(id);
      await cursor.iterator.return?.();
      return {};
    }
    // Leave room for the header: a batch must fit in one frame (a single larger chunk still goes alone).
    const budget = Math.min(ITER_BATCH_BYTES, this.maxMessageBytes - 4096);
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    try {
      for (;;) {
        const chunk = cursor.held ?? (await cursor.iterator.next()).value;
        cursor.held = undefined;
        if (chunk === undefined) {
          this.open.delete(id);
          return { payloads: chunks };
        }
        if (chunks.length > 0 && bytes + chunk.byteLength > budget) {
          cursor.held = chunk;
          return { header: { cursor: id }, payloads: chunks };
        }
        chunks.push(chunk);
        bytes += chunk.byteLength;
      }
    } catch (error) {
      this.open.delete(id);
      throw error;
    }
  }

  /** The connection closed: its cursors die with it. */
  closeAll(): void {
    for (const { iterator } of this.open.values()) void iterator.return?.();
    this.open.clear();
  }
}
