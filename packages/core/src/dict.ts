import type { KeyId } from './keys.js';
import { BytesStore, EMPTY_BYTES, type StoreSpec } from './store.js';

/** The bytes under one key: chunks, collapsed into one on read, and each appended value's length. */
interface Entry {
  chunks: Uint8Array[];
  lengths: number[];
  size: number;
}

/**
 * dict(): bytes in memory. Appended values are copied, so the caller may reuse
 * its buffers; `get` returns a view the store owns (copy it before changing it).
 */
export class DictStore extends BytesStore {
  protected readonly layer = 'dict';
  private readonly data = new Map<KeyId, Entry>();
  private readonly meta = new Map<KeyId, Uint8Array>();

  /** Bytes held under `id` (0 for a missing key). */
  sizeOf(id: KeyId): number {
    return this.data.get(id)?.size ?? 0;
  }

  appendIds(ids: readonly KeyId[], values: readonly Uint8Array[]): Promise<void> {
    return this.lock.run(() => {
      for (let i = 0; i < ids.length; i++) {
        const value = values[i];
        const copy = Buffer.allocUnsafe(value.byteLength);
        copy.set(value);
        let entry = this.data.get(ids[i]);
        if (!entry) this.data.set(ids[i], (entry = { chunks: [], lengths: [], size: 0 }));
        entry.chunks.push(copy);
        entry.lengths.push(copy.byteLength);
        entry.size += copy.byteLength;
      }
    });
  }

  getIds(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    return this.lock.run(() => ids.map((id) => this.joined(id)));
  }

  private joined(id: KeyId): Uint8Array {
    const entry = this.data.get(id);
    if (!entry) return EMPTY_BYTES;
    if (entry.chunks.length > 1) entry.chunks = [Buffer.concat(entry.chunks, entry.size)];
    return entry.chunks[0] ?? EMPTY_BYTES;
  }

  override async *iterId(id: KeyId): AsyncIterable<Uint8Array> {
    const [whole, lengths] = await this.lock.run(() => [this.joined(id), this.data.get(id)?.lengths.slice() ?? []] as const);
    let offset = 0;
    for (const length of lengths) {
      yield whole.subarray(offset, offset + length);
      offset += length;
    }
  }

  deleteIds(ids: readonly KeyId[]): Promise<void> {
    return this.lock.run(() => {
      for (const id of ids) this.data.delete(id);
    });
  }

  listIds(): Promise<KeyId[]> {
    return this.lock.run(() => [...this.data.keys()]);
  }

  isetId(id: KeyId, value: Uint8Array): Promise<void> {
    return this.lock.run(() => {
      if (!this.meta.has(id)) this.meta.set(id, Buffer.from(value));
    });
  }

  igetId(id: KeyId): Promise<Uint8Array | undefined> {
    return this.lock.run(() => this.meta.get(id));
  }

  protected async dropAll(): Promise<void> {
    this.data.clear();
    this.meta.clear();
  }

  protected async closeStore(): Promise<void> {
    this.data.clear();
    this.meta.clear();
  }

  describe(): StoreSpec {
    return { type: 'dict' };
  }
}

export function dict(): DictStore {
  return new DictStore();
}
