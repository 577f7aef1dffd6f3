/**
 * A follower over client(): asks the server for the key piece by piece
 * ("follow", follow-op.ts), one request ahead of the consumer: the request
 * for the next piece goes out as the last is handed over, and no other until
 * the consumer has taken that one, so a slow consumer holds the server back
 * instead of filling it (the server holds at most the one piece asked ahead).
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
  const ask = (at: number | 'end', waitMs: number): Promise<Message> => {
    const reply = call({ op: 'follow', key: id, offset: at, max: PIECE, waitMs: Math.max(0, Math.min(WAIT_MS, waitMs)) });
    // A request asked ahead may be dropped unread (the consumer stopped): its failure is nobody's to report.
    reply.catch(() => undefined);
    return reply;
  };
  /** The request for the piece at `offset`, sent before the consumer took the last piece. */
  let ahead: Promise<Message> | undefined;
  for (;;) {
    throwIfAborted(request.signal);
    const reply = await abortable(ahead ?? ask(offset, request.idleTimeoutMs - (Date.now() - lastNews)), request.signal);
    ahead = undefined;
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
      // The next piece is asked for before this one is handed over, so that it travels (or waits at the server
      // for bytes to land) while the consumer works: one request ahead, never more, so a stalled consumer still
      // stops the server after one piece. Its wait is the whole idle time: the idle clock restarts when the
      // consumer takes this piece.
      if (sealed === undefined || offset < sealed) ahead = ask(offset, request.idleTimeoutMs);
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
