import { typeError } from '@laminate/core/layer';

/** What put() and registerContent() take: the bytes themselves, or a stream of byte chunks (a Readable is one). */
export type Content = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * The content as byte chunks, one by one, never joined: a stream larger than
 * memory passes through. A chunk that is not bytes (a Readable with an
 * encoding set yields strings) is ERR_VALUE_TYPE naming its position.
 */
export async function* chunksOf(content: Content, call: string): AsyncIterable<Uint8Array> {
  if (content instanceof Uint8Array) {
    yield content;
    return;
  }
  if (content === null || typeof content !== 'object' || (!(Symbol.asyncIterator in content) && !(Symbol.iterator in content))) {
    throw typeError('ERR_VALUE_TYPE', `${call} takes a Uint8Array (a Buffer is one), an async iterable of them or a Readable; got ${describe(content)}.`);
  }
  let index = 0;
  for await (const chunk of content as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw typeError('ERR_VALUE_TYPE', `${call}: chunk ${index} of the stream is ${describe(chunk)}, not a Uint8Array. A Readable must not have an encoding set; nothing was stored.`);
    }
    index++;
    yield chunk;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'a string';
  if (typeof value !== 'object') return typeof value;
  return value.constructor?.name ?? 'an object';
}
