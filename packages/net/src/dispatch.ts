import { type BaseStore } from '@laminate/core';
import { changed, readRangeIds } from '@laminate/core/layer';
import { followReply, followRequest } from './follow-op.js';
import type { Cursors } from './cursors.js';
import type { ConnectionLock } from './lock-section.js';
import { type Header, protocolError } from './protocol.js';
import { rangesReply, valuesReply } from './reply-size.js';
import { retentionRequest } from './retention-ops.js';
import { checkedKeyId, checkedKeyIds, keyString, rangeList, stringList } from './request-fields.js';

/** What a request's work answers: header fields (beside `id` and `ok`) and payloads. */
export interface Reply {
  header?: Record<string, unknown>;
  payloads?: readonly Uint8Array[];
}

/** A request, checked: its work, and for a read, the size of its reply as the store can tell it before reading. */
export interface Request {
  work: () => Promise<Reply>;
  /** The bytes of the reply's frame, about; undefined when the store cannot tell. Absent for requests whose replies carry no values. */
  replySize?: () => Promise<number | undefined>;
  /** The request changes the store: a reconnecting client's resent copy is answered from memory, not run again (sessions.ts). Built-in ops are known by name. */
  change?: boolean;
}

/**
 * An op another package adds to serve() (`serve(store, { ops })`), such as
 * @laminate/tables' `tables.read`: it checks its request and returns the work,
 * as the built-in ops below do. What its work throws is the request's error
 * reply; what it throws itself closes the connection (a malformed request).
 */
export type ServedOp = (request: { header: Header; payloads: Buffer[]; store: BaseStore<Uint8Array> }) => Request;

/**
 * An iter batch is cut from chunks no store can size before reading them
 * (one may be far larger than a batch): its size is unknown, so it is read
 * when there is room, one such read at a time, and it is never refused.
 */
const batchSize = (): Promise<undefined> => Promise.resolve(undefined);

/** What a request acts on: the served store, and its connection's lock and cursors. */
export interface RequestScope {
  store: BaseStore<Uint8Array>;
  lock: ConnectionLock;
  cursors: Cursors;
  /** Ops added with serve(store, { ops }), by name. */
  ops?: ReadonlyMap<string, ServedOp>;
}

/**
 * Checks a request's shape and returns the work it asks for. A malformed
 * request throws here, before any work, and closes the connection; what the
 * work throws (a bad key id, a store error) is the request's error reply.
 */
export function dispatch(header: Header, payloads: Buffer[], { store, lock, cursors, ops }: RequestScope): Request {
  const payloadCount = (n: number) => {
    if (payloads.length !== n) throw protocolError(`"${header.op}" carries ${payloads.length} payloads, expected ${n}`);
  };
  switch (header.op) {
    case 'append': {
      const keys = stringList(header.keys, 'keys');
      payloadCount(keys.length);
      return { work: async () => (await store.appendIds(checkedKeyIds(keys), payloads), changed(), {}) };
    }
    case 'follow': {
      // The next piece of a key for a remote follower (follow-op.ts): its reply is at most `max` bytes, reserved before it waits.
      const asked = followRequest(header);
      return { work: () => followReply(store, asked), replySize: () => Promise.resolve(asked.max + 64) };
    }
    case 'seal': {
      const key = keyString(header.key);
      return { work: async () => (await store.sealId(checkedKeyId(key)), changed(), {}) };
    }
    case 'get': {
      const keys = stringList(header.keys, 'keys');
      return { work: async () => ({ payloads: await store.getIds(checkedKeyIds(keys)) }), replySize: () => valuesReply(store, keys) };
    }
    case 'ranges': {
      const ranges = rangeList(header.ranges);
      return { work: async () => ({ payloads: await readRangeIds(store, ranges) }), replySize: () => rangesReply(store, ranges) };
    }
    case 'iter': {
      if (header.cursor !== undefined) {
        const cursor = header.cursor;
        if (!Number.isSafeInteger(cursor)) throw protocolError('"cursor" must be an integer');
        if (header.cancel === true) return { work: () => cursors.next(cursor as number, true) };
        return { work: () => cursors.next(cursor as number, false), replySize: batchSize };
      }
      const key = keyString(header.key);
      return { work: async () => cursors.start(store.iterId(checkedKeyId(key))[Symbol.asyncIterator]()), replySize: batchSize };
    }
    case 'iset': {
      const key = keyString(header.key);
      payloadCount(1);
      return { work: async () => (await store.isetId(checkedKeyId(key), payloads[0]), {}) };
    }
    case 'iget': {
      const key = keyString(header.key);
      // Metadata (a dtype, a schema) is small: its reply needs no room of its own.
      return {
        work: async () => {
          const value = await store.igetId(checkedKeyId(key));
          return value === undefined ? { header: { found: false } } : { header: { found: true }, payloads: [value] };
        },
      };
    }
    case 'delete': {
      const keys = stringList(header.keys, 'keys');
      return { work: async () => (await store.deleteIds(checkedKeyIds(keys)), {}) };
    }
    case 'pop': {
      const key = keyString(header.key);
      return { work: async () => ({ payloads: [await store.popId(checkedKeyId(key))] }), replySize: () => valuesReply(store, [key]) };
    }
    case 'keys':
      return { work: async () => ({ header: { keys: await store.listIds() } }) };
    case 'drop':
      return { work: async () => (await store.drop(), {}) };
    case 'commit':
    case 'consumers':
    case 'forget':
    case 'trim':
    case 'start':
      // Consumer positions and trims (retention-ops.ts).
      return retentionRequest(header, store);
    case 'lock':
      return { work: async () => (await lock.take(), {}) };
    case 'unlock':
      return { work: async () => (await lock.release(), {}) };
    default: {
      const op = typeof header.op === 'string' ? ops?.get(header.op) : undefined;
      if (op !== undefined) return op({ header, payloads, store });
      if (typeof header.op === 'string' && header.op.includes('.')) throw protocolError(`this server was not given the op ${JSON.stringify(header.op)} (a package's ops are served with serve(store, { ops }), e.g. laminate serve --tables)`);
      throw protocolError(`unknown op ${JSON.stringify(header.op)}`);
    }
  }
}
