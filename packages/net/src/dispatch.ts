import { type BaseStore } from '@laminate/core';
import { readRangeIds } from '@laminate/core/layer';
import type { Cursors } from './cursors.js';
import type { ConnectionLock } from './lock-section.js';
import { type Header, protocolError } from './protocol.js';
import { checkedKeyId, checkedKeyIds, keyString, rangeList, stringList } from './request-fields.js';

/** What a request's work answers: header fields (beside `id` and `ok`) and payloads. */
export interface Reply {
  header?: Record<string, unknown>;
  payloads?: readonly Uint8Array[];
}

/** What a request acts on: the served store, and its connection's lock and cursors. */
export interface RequestScope {
  store: BaseStore<Uint8Array>;
  lock: ConnectionLock;
  cursors: Cursors;
}

/**
 * Checks a request's shape and returns the work it asks for. A malformed
 * request throws here, before any work, and closes the connection; what the
 * work throws (a bad key id, a store error) is the request's error reply.
 */
export function dispatch(header: Header, payloads: Buffer[], { store, lock, cursors }: RequestScope): () => Promise<Reply> {
  const payloadCount = (n: number) => {
    if (payloads.length !== n) throw protocolError(`"${header.op}" carries ${payloads.length} payloads, expected ${n}`);
  };
  switch (header.op) {
    case 'append': {
      const keys = stringList(header.keys, 'keys');
      payloadCount(keys.length);
      return async () => (await store.appendIds(checkedKeyIds(keys), payloads), {});
    }
    case 'get': {
      const keys = stringList(header.keys, 'keys');
      return async () => ({ payloads: await store.getIds(checkedKeyIds(keys)) });
    }
    case 'ranges': {
      const ranges = rangeList(header.ranges);
      return async () => ({ payloads: await readRangeIds(store, ranges) });
    }
    case 'iter': {
      if (header.cursor !== undefined) {
        const cursor = header.cursor;
        if (!Number.isSafeInteger(cursor)) throw protocolError('"cursor" must be an integer');
        return () => cursors.next(cursor as number, header.cancel === true);
      }
      const key = keyString(header.key);
      return async () => cursors.start(store.iterId(checkedKeyId(key))[Symbol.asyncIterator]());
    }
    case 'iset': {
      const key = keyString(header.key);
      payloadCount(1);
      return async () => (await store.isetId(checkedKeyId(key), payloads[0]), {});
    }
    case 'iget': {
      const key = keyString(header.key);
      return async () => {
        const value = await store.igetId(checkedKeyId(key));
        return value === undefined ? { header: { found: false } } : { header: { found: true }, payloads: [value] };
      };
    }
    case 'delete': {
      const keys = stringList(header.keys, 'keys');
      return async () => (await store.deleteIds(checkedKeyIds(keys)), {});
    }
    case 'pop': {
      const key = keyString(header.key);
      return async () => ({ payloads: [await store.popId(checkedKeyId(key))] });
    }
    case 'keys':
      return async () => ({ header: { keys: await store.listIds() } });
    case 'drop':
      return async () => (await store.drop(), {});
    case 'lock':
      return async () => (await lock.take(), {});
    case 'unlock':
      return async () => (await lock.release(), {});
    default:
      throw protocolError(`unknown op ${JSON.stringify(header.op)}`);
  }
}
