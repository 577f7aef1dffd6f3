/**
 * Retention over serve()'s protocol (core's retention.ts): a client's
 * consumers and trims are kept by the served store, where every client sees
 * them.
 *
 * - "commit" { key, consumer, position, trim? }: records a consumer's position;
 *   with `trim: true`, then trims the key to what its consumers committed, in
 *   one request (a follower with `trim: true`).
 * - "consumers" { key }: replies { consumers: [{ consumer, position }] }.
 * - "forget" { key, consumer }: removes a consumer.
 * - "trim" { key, position? }: trims the key (without a position, to what its consumers committed).
 * - "start" { key }: replies { start }, where the key starts.
 *
 * A commit, a forget and a trim change the store: a reconnecting client's
 * resent copy is answered from memory (sessions.ts), not applied again.
 * Their replies carry no values, so they need no room of their own.
 */
import { keyFromId } from '@laminate/core/layer';
import type { BaseStore } from '@laminate/core';
import type { Request } from './dispatch.js';
import { type Header, protocolError } from './protocol.js';
import { checkedKeyId, keyString } from './request-fields.js';

function position(value: unknown, optional: boolean): number | undefined {
  if (value === undefined && optional) return undefined;
  if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) throw protocolError(`"position" must be a whole number, 0 or more${optional ? ', or absent' : ''}`);
  return value;
}

/** The work of a retention request, checked; the store's public calls check the consumer's name, so a bad one is an error reply. */
export function retentionRequest(header: Header, store: BaseStore<Uint8Array>): Request {
  const key = keyString(header.key);
  const consumer = header.consumer;
  switch (header.op) {
    case 'commit': {
      const at = position(header.position, false)!;
      if (header.trim !== undefined && typeof header.trim !== 'boolean') throw protocolError('"trim" must be true or false');
      const trim = header.trim === true;
      return {
        work: async () => {
          const id = checkedKeyId(key);
          await store.commit(keyFromId(id), consumer as string, at);
          if (trim) await store.trim(keyFromId(id));
          return {};
        },
        change: true,
      };
    }
    case 'consumers':
      return { work: async () => ({ header: { consumers: await store.consumersId(checkedKeyId(key)) } }) };
    case 'forget':
      return { work: async () => (await store.forget(keyFromId(checkedKeyId(key)), consumer as string), {}), change: true };
    case 'trim': {
      const at = position(header.position, true);
      return { work: async () => (await store.trim(keyFromId(checkedKeyId(key)), at), {}), change: true };
    }
    case 'start':
      return { work: async () => ({ header: { start: await store.startId(checkedKeyId(key)) } }) };
    default:
      throw protocolError(`unknown op ${JSON.stringify(header.op)}`);
  }
}
