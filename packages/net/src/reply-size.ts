/**
 * The size of a read's reply, told before the store reads a byte, where the
 * store can tell (BytesStore.sizeIds: dict(), buffer() over such a store).
 * The server refuses a reply too large for one frame before it is read, and
 * reserves room for the others against its flow-control bounds. A key named
 * twice counts twice: its bytes go out twice. Where the store cannot tell, the
 * size is undefined and the server reads with less foresight (flow-control.ts).
 */
import { type BaseStore, LaminateError } from '@laminate/core';
import { BytesStore, type IdRange, type KeyId } from '@laminate/core/layer';
import { checkedKeyIds } from './request-fields.js';

/** What a reply frame takes beside its payloads: length fields and header, with each payload's entry in `sizes`; generous, so an estimate is not short. */
const FRAME_BYTES = 64;
const BYTES_PER_PAYLOAD = 9;

/** The frame of a reply with payloads of these sizes, about. */
function frameBytes(payloads: readonly number[]): number {
  let bytes = FRAME_BYTES + BYTES_PER_PAYLOAD * payloads.length;
  for (const payload of payloads) bytes += payload;
  return bytes;
}

/** Each key's size in the store, when it can tell without reading. */
function sizesOf(store: BaseStore<Uint8Array>, ids: readonly KeyId[] | undefined): Promise<number[] | undefined> {
  return store instanceof BytesStore && ids !== undefined ? store.sizeIds(ids) : Promise.resolve(undefined);
}

/** Key ids from the wire, or undefined when one is wrong: the request itself refuses it. */
function validIds(keys: readonly string[]): KeyId[] | undefined {
  try {
    return checkedKeyIds(keys);
  } catch {
    return undefined;
  }
}

/** `get` and `pop`: every key's whole value. */
export async function valuesReply(store: BaseStore<Uint8Array>, keys: readonly string[]): Promise<number | undefined> {
  const sizes = await sizesOf(store, validIds(keys));
  return sizes && frameBytes(sizes);
}

/** `ranges`: each range's part of its key, none past the key's end. */
export async function rangesReply(store: BaseStore<Uint8Array>, ranges: readonly IdRange[]): Promise<number | undefined> {
  const sizes = await sizesOf(
    store,
    ranges.map((range) => range.id),
  );
  return sizes && frameBytes(ranges.map(({ offset, length }, i) => Math.max(0, Math.min(length, sizes[i] - offset))));
}

/** ERR_TOO_LARGE for a read refused before the store read it. */
export function replyTooLarge(op: string, bytes: number, max: number): LaminateError {
  return new LaminateError(
    'ERR_TOO_LARGE',
    `The reply to this ${op} would be about ${bytes} bytes, more than the ${max} bytes a message may have (maxMessageBytes); nothing was read. Ask for fewer keys or smaller ranges per call, stream a large key with iter(), or raise maxMessageBytes on both ends.`,
  );
}
