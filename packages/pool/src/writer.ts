/**
 * The group-commit writer. store() checks and encodes an episode in the
 * calling turn, outside the lock, then queues it; the calls queued while a
 * commit runs are committed together: one lock, one data append and one
 * index append for up to COMMIT_EPISODES episodes. Each commit writes the
 * episodes and makes them durable before it appends their index records, so
 * an index record never names data that is not there, whatever moment a
 * writer is killed at.
 */
import { typeError } from '@laminate/core/layer';
import { encodeDown, flushBuffers, toStream } from './encoding.js';
import type { PoolIndex } from './index-replay.js';
import { type IndexRecord, segmentKey } from './layout.js';

const COMMIT_EPISODES = 4096;

interface Pending {
  bytes: Uint8Array;
  steps: number;
  fields: Record<string, unknown>;
  resolve(id: number): void;
  reject(error: unknown): void;
}

export class Writer {
  /** This instance's segments are named `${name}-${count}`: no other writer appends to them. */
  private readonly name = `${process.pid.toString(36)}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  private count = 0;
  private segment?: string;
  private segmentSize = 0;
  private pending: Pending[] = [];
  private committing?: Promise<void>;

  constructor(
    private readonly index: PoolIndex,
    /** Start a new segment once the current one holds this many bytes. */
    readonly segmentBytes: number,
  ) {}

  /** A segment name no one has used. */
  newSegment(): string {
    return `${this.name}-${this.count++}`;
  }

  /** After compaction: stop appending to the open segment if it was deleted (not in `kept`). */
  keepSegment(kept: Set<string>): void {
    if (this.segment !== undefined && !kept.has(this.segment)) this.segment = undefined;
  }

  /** Resolves once no commit is running or queued. */
  async idle(): Promise<void> {
    while (this.committing) await this.committing;
  }

  /** Checks and encodes one episode, then resolves with its id once it and its index record are durable. */
  store(episode: unknown, meta: unknown): Promise<number> {
    const { stack, schema } = this.index;
    const { batches, meta: fields } = schema.check(episode, meta);
    let steps = 0;
    for (const batch of batches) steps += batch.numRows;
    if (steps === 0) throw typeError('ERR_VALUE_TYPE', 'store(): the episode has no steps; an episode needs at least one row. Nothing was stored.');
    const bytes = encodeDown(stack, toStream(batches, schema.arrow!));
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ bytes, steps, fields, resolve, reject });
      this.committing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    // Let the calls made in the same turn of the event loop join this commit.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, COMMIT_EPISODES);
      try {
        const ids = await this.commit(batch);
        batch.forEach((p, i) => p.resolve(ids[i]));
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.committing = undefined;
  }

  private commit(batch: Pending[]): Promise<number[]> {
    const { index } = this;
    return index.locked(async () => {
      let total = 0;
      for (const p of batch) total += p.bytes.byteLength;
      const current = this.segment === undefined ? undefined : index.segments.get(this.segment);
      // A new segment when none is open, when the open one is full, or when
      // others removed every episode of it (and so its key).
      if (this.segment === undefined || (this.segmentSize > 0 && (current === undefined || current.live === 0)) || (this.segmentSize > 0 && this.segmentSize + total > this.segmentBytes)) {
        this.segment = this.newSegment();
        this.segmentSize = 0;
      }
      const segment = this.segment;
      const data = Buffer.allocUnsafe(total);
      const records: IndexRecord[] = [];
      let at = 0;
      for (const p of batch) {
        data.set(p.bytes, at);
        records.push({ op: 'add', id: index.nextId + records.length, segment, offset: this.segmentSize + at, length: p.bytes.byteLength, steps: p.steps, fields: p.fields });
        at += p.bytes.byteLength;
      }
      try {
        await index.stack.bottom.appendIds([segmentKey(segment)], [data]);
        await flushBuffers(index.stack);
      } catch (error) {
        // Some of the data may be in the segment: leave it to compact() and start another.
        this.segment = undefined;
        throw error;
      }
      this.segmentSize += total;
      await index.append(records);
      return records.map((r) => (r as { id: number }).id);
    });
  }
}
