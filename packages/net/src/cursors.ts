/**
 * Streaming `iter`: a connection's open cursors, each the rest of a key's
 * chunks, read a batch at a time as the client asks for them. A batch fits
 * one frame, so a key of any size can be read. A cursor reads nothing ahead
 * of the batch asked for unless a chunk does not fit the batch's frame. What
 * an open cursor may keep in memory counts against its connection: that
 * chunk, and its last batch, which the store's iterator may still hold
 * (file() keeps the piece it read last) until the next one. A connection
 * opens no cursor beyond `maxCursors`, nor while its open cursors keep
 * `maxBytes` or more: only its client can make them let go, by continuing or
 * cancelling them.
 */
import { LaminateError } from '@laminate/core';
import type { Reply } from './dispatch.js';

/** The bytes after which a batch ends: it may go over by one chunk, as far as a frame allows (a single larger chunk still goes alone). */
const ITER_BATCH_BYTES = 1 << 20;
/** Room a batch leaves in its frame for the reply's header. */
const HEADER_ROOM = 4096;

interface Cursor {
  iterator: AsyncIterator<Uint8Array>;
  /** A chunk read that did not fit the frame of its batch: it leads the next one. */
  held?: Uint8Array;
  /** The bytes counted against the connection for this cursor: its last batch and the chunk held. */
  counted: number;
}

export interface CursorLimits {
  maxMessageBytes: number;
  maxCursors: number;
  /** The bytes a connection's open cursors may keep before it may open no more (its maxConnectionBytes). */
  maxBytes: number;
  /** Counts bytes a cursor holds (positive) or lets go (negative) against its connection. */
  account(bytes: number): void;
}

export class Cursors {
  private readonly open = new Map<number, Cursor>();
  private nextId = 1;
  /** What the open cursors keep, in bytes. */
  private kept = 0;

  constructor(private readonly limits: CursorLimits) {}

  /** Cursors open now. */
  get size(): number {
    return this.open.size;
  }

  /** Opens a cursor on a key's chunks and answers with the first batch; refused (ERR_TOO_LARGE) when the open ones are too many or keep too much. */
  start(iterator: AsyncIterator<Uint8Array>): Promise<Reply> {
    const { maxCursors, maxBytes } = this.limits;
    const full =
      this.open.size >= maxCursors
        ? `already has ${this.open.size} iter cursors open, the most the server allows (maxCursors)`
        : this.kept >= maxBytes
          ? `has iter cursors open that keep ${this.kept} bytes of their batches, the most the server allows (maxConnectionBytes is ${maxBytes})`
          : undefined;
    if (full !== undefined) {
      void iterator.return?.();
      throw new LaminateError('ERR_TOO_LARGE', `This connection ${full}; finish or break out of an iteration before starting another, or serve with a larger limit.`);
    }
    const id = this.nextId++;
    this.open.set(id, { iterator, counted: 0 });
    return this.next(id, false);
  }

  /** The next batch of cursor `id`, with the cursor again unless the key has ended; or, with `cancel`, closes it. */
  async next(id: number, cancel: boolean): Promise<Reply> {
    const cursor = this.open.get(id);
    if (cursor === undefined) throw new LaminateError('ERR_PROTOCOL', `No open iter cursor ${id} on this connection.`);
    if (cancel) {
      this.close(id, cursor);
      await cursor.iterator.return?.();
      return {};
    }
    const frame = this.limits.maxMessageBytes - HEADER_ROOM;
    const full = Math.min(ITER_BATCH_BYTES, frame);
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    if (cursor.held) {
      chunks.push(cursor.held);
      bytes = cursor.held.byteLength;
      cursor.held = undefined;
    }
    try {
      // Stop as soon as the batch is full rather than read a chunk ahead: the
      // key may end right there, and the client then gets an empty last batch.
      while (bytes < full) {
        const { done, value } = await cursor.iterator.next();
        if (done) {
          this.close(id, cursor);
          return { payloads: chunks };
        }
        if (chunks.length > 0 && bytes + value.byteLength > frame) {
          cursor.held = value;
          break;
        }
        chunks.push(value);
        bytes += value.byteLength;
      }
      this.count(cursor, bytes + (cursor.held?.byteLength ?? 0));
      return { header: { cursor: id }, payloads: chunks };
    } catch (error) {
      this.close(id, cursor);
      throw error;
    }
  }

  private count(cursor: Cursor, bytes: number): void {
    this.limits.account(bytes - cursor.counted);
    this.kept += bytes - cursor.counted;
    cursor.counted = bytes;
  }

  private close(id: number, cursor: Cursor): void {
    this.count(cursor, 0);
    cursor.held = undefined;
    this.open.delete(id);
  }

  /** The connection closed: its cursors die with it. */
  closeAll(): void {
    for (const [id, cursor] of this.open) {
      this.close(id, cursor);
      void cursor.iterator.return?.();
    }
  }
}
