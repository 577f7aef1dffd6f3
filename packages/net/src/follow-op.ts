/**
 * The "follow" request: a remote follower's next piece of a key. The client
 * asks for up to `max` bytes from `offset` (or from the key's end), and the
 * server answers as soon as some are there, or when the key's sealed end is
 * reached, or after `waitMs` with none, so a follower hears of an append as
 * it lands without asking again and again.
 *
 * This is the flow control: the server sends a follower one piece per request,
 * and the client asks for the next only when its consumer takes the last one.
 * A stalled consumer thus costs the server nothing but its open connection,
 * and a piece in flight is counted by the server's byte accounting like any
 * read (its room is reserved before it is read). A follower resumes after a
 * reconnect by asking again from the same offset: the request is sent again
 * as it was.
 */
import { BytesStore, FOLLOW_PIECE, LaminateError, type KeyId, nextPiece } from '@laminate/core/layer';
import type { BaseStore } from '@laminate/core';
import type { Reply } from './dispatch.js';
import { type Header, protocolError } from './protocol.js';
import { checkedKeyId, keyString } from './request-fields.js';

/** The longest a server waits before answering a follow request with no bytes. */
export const MAX_FOLLOW_WAIT_MS = 5000;

export interface FollowAsked {
  key: string;
  /** A position, or 'end': the key's length when the request runs. */
  offset: number | 'end';
  max: number;
  waitMs: number;
}

/** The follow request's fields, checked before any work. */
export function followRequest(header: Header): FollowAsked {
  const key = keyString(header.key);
  const { offset, max, waitMs } = header;
  if (!(offset === 'end' || (typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0))) throw protocolError('"offset" must be a position (a whole number, 0 or more) or "end"');
  if (!(typeof max === 'number' && Number.isSafeInteger(max) && max >= 0 && max <= FOLLOW_PIECE)) throw protocolError(`"max" must be a number of bytes from 0 to ${FOLLOW_PIECE}`);
  if (!(typeof waitMs === 'number' && waitMs >= 0)) throw protocolError('"waitMs" must be a number of milliseconds, 0 or more');
  return { key, offset, max, waitMs: Math.min(waitMs, MAX_FOLLOW_WAIT_MS) };
}

/** Header: `offset` (where the bytes start), `sealed` (the sealed length, when sealed); one payload, the bytes. */
export async function followReply(store: BaseStore<Uint8Array>, asked: FollowAsked): Promise<Reply> {
  if (!(store instanceof BytesStore)) throw new LaminateError('ERR_NOT_SUPPORTED', `The served ${store.describe().type}() store cannot be followed; serve a bytes store (file, buffer, dict) to follow its keys.`);
  const id: KeyId = checkedKeyId(asked.key);
  const offset = asked.offset === 'end' ? await store.lengthId(id) : asked.offset;
  const { bytes, sealed } = await nextPiece(store, id, offset, asked.max, asked.waitMs);
  return { header: { offset, ...(sealed === undefined ? {} : { sealed }) }, payloads: [bytes] };
}
