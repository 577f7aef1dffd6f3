/**
 * A follower over client(): asks the server for one piece of the key at a
 * time ("follow", follow-op.ts), the next only when the consumer has taken
 * the last, so a slow consumer holds the server back instead of filling it.
 * The server waits for bytes to land before answering, so new values arrive
 * as they are appended, without polling. Requests go through the client's
 * pipeline, which sends them again after a reconnect: a request names its
 * offset, so asking again gives the same bytes.
 */
import { type FollowRequest, type Followed, type KeyId, LaminateError, abortedError, throwIfAborted } from '@laminate/core/layer';
import type { Header, Message } from './protocol.js';

/** Bytes asked for per request: a piece the server sends in one frame. */
const PIECE = 1 << 20;
/** How long the server may wait for bytes before answering with none (the follower then asks again). */
const WAIT_MS = 1000;

export async function* followRemote(call: (header: Omit<Header, 'id'>) => Promise<Message>, id: KeyId, request: FollowRequest): AsyncIterable<Followed<Uint8Array>> {
  let offset: number | 'end' = request.from;
  let lastNews = Date.now();
  for (;;) {
    throwIfAborted(request.signal);
    const idleLeft = request.idleTimeoutMs - (Date.now() - lastNews);
    const reply = await abortable(call({ op: 'follow', key: id, offset, max: PIECE, waitMs: Math.max(0, Math.min(WAIT_MS, idleLeft)) }), request.signal);
    const start = reply.header.offset;
    const bytes = reply.payloads[0];
    const sealed = reply.header.sealed;
    if (typeof start !== 'number' || reply.payloads.length !== 1 || (sealed !== undefined && typeof sealed !== 'number')) {
      throw new LaminateError('ERR_PROTOCOL', 'The server\'s reply to "follow" does not match the request.');
    }
    if (offset === 'end') request.started?.(start);
    offset = start;
    if (bytes.byteLength > 0) {
      offset += bytes.byteLength;
      yield { value: bytes, position: offset };
      // Idle counts from when the consumer took the value: a slow consumer is not an idle key.
      lastNews = Date.now();
      continue;
    }
    if (sealed !== undefined && offset >= sealed) {
      request.endedBy = 'sealed';
      return;
    }
    if (Date.now() - lastNews >= request.idleTimeoutMs) {
      request.endedBy = 'idle';
      return;
    }
  }
}

/** `promise`, or ERR_ABORTED as soon as `signal` aborts (the request itself is answered and dropped later). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
