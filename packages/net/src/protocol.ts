/**
 * The wire format (docs/protocol.md): every message is one frame,
 *
 *   u32 LE  length of what follows (header length field + header + payloads)
 *   u32 LE  length of the header
 *   header  a MessagePack map: { id, op, … } for a request, { id, ok | error, … } for a reply,
 *           with `sizes`: the byte length of each payload, in order
 *   payloads the bytes of each value, back to back
 *
 * Values travel as raw bytes after the header, never inside it, so a large
 * value is written to the socket as it is, without being copied into a frame.
 */
import { type ErrorCode, LaminateError } from '@laminate/core';
import { typeError } from '@laminate/core/layer';
import { Packr, Unpackr } from 'msgpackr';

export const PROTOCOL_VERSION = 1;
/** The largest frame a peer accepts unless told otherwise: 64 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 << 20;
/** The length prefix is a u32. */
export const LIMIT_MAX_MESSAGE_BYTES = 0xffffffff;

export interface Header {
  id: number;
  op?: string;
  sizes?: number[];
  [field: string]: unknown;
}

export interface Message {
  header: Header;
  payloads: Buffer[];
}

// Plain MessagePack (no msgpackr records), so a client in any language reads it.
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true } as never);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true } as never);

/** The buffers of one frame, to be written in order (payloads are not copied). */
export function encodeFrame(header: Header, payloads: readonly Uint8Array[] = []): Buffer[] {
  let bytes = 0;
  const sizes: number[] = [];
  for (const payload of payloads) {
    sizes.push(payload.byteLength);
    bytes += payload.byteLength;
  }
  const head = packr.pack(payloads.length > 0 ? { ...header, sizes } : header) as Buffer;
  const prefix = Buffer.allocUnsafe(8);
  const length = 4 + head.byteLength + bytes;
  if (length > LIMIT_MAX_MESSAGE_BYTES) throw tooLarge(length + 4, LIMIT_MAX_MESSAGE_BYTES);
  prefix.writeUInt32LE(length, 0);
  prefix.writeUInt32LE(head.byteLength, 4);
  return [prefix, head, ...(payloads as Buffer[])];
}

/** The bytes of a list of buffers: a frame's, or a request's payloads. */
export function byteLength(buffers: readonly Uint8Array[]): number {
  let bytes = 0;
  for (const buffer of buffers) bytes += buffer.byteLength;
  return bytes;
}

export function tooLarge(bytes: number, max: number): LaminateError {
  return new LaminateError('ERR_TOO_LARGE', `A message of ${bytes} bytes is larger than the ${max} bytes allowed (maxMessageBytes); append in smaller calls or raise maxMessageBytes on both ends.`);
}

export function protocolError(why: string): LaminateError {
  return new LaminateError('ERR_PROTOCOL', `Malformed laminate message: ${why}. Is the peer a laminate server or client of protocol version ${PROTOCOL_VERSION}?`);
}

/**
 * Cuts the byte stream of a socket into messages. `push` throws ERR_TOO_LARGE
 * or ERR_PROTOCOL on a frame it cannot accept; the connection must then be closed.
 * The server takes frames one at a time instead (`feed`, then `next` while it
 * has room to start a request), so bytes it has not yet acted on stay here,
 * counted as held.
 *
 * A frame is not gathered into one buffer: each payload is a view of the
 * socket chunk that holds it, and only a payload (or header) that straddles
 * two chunks is copied. Large appends thus cost no copy on their way in.
 */
export class FrameReader {
  private readonly bytes = new ByteQueue();

  constructor(private readonly maxMessageBytes: number) {}

  /** Every whole frame the stream holds once `chunk` is added. */
  push(chunk: Buffer): Message[] {
    this.feed(chunk);
    const out: Message[] = [];
    for (let message = this.next(); message !== undefined; message = this.next()) out.push(message);
    return out;
  }

  /** Adds a chunk of the stream without reading any frame. */
  feed(chunk: Buffer): void {
    this.bytes.push(chunk);
  }

  /** The size of the next frame, its 4-byte length field included, once that field has arrived. */
  nextLength(): number | undefined {
    return this.bytes.length >= 4 ? this.bytes.peekUInt32() + 4 : undefined;
  }

  /** The next frame, once all of it has arrived. */
  next(): Message | undefined {
    const length = this.nextLength();
    if (length === undefined) return undefined;
    if (length > this.maxMessageBytes) throw tooLarge(length, this.maxMessageBytes);
    if (this.bytes.length < length) return undefined;
    this.bytes.read(4);
    return decodeBody(this.bytes, length - 4);
  }
}

/** Chunks of a byte stream, read from the front: a view when one chunk holds the bytes asked for, else one copy. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }

  peekUInt32(): number {
    const first = this.chunks[0];
    if (first.byteLength >= 4) return first.readUInt32LE(0);
    const head = Buffer.concat(this.chunks, 4);
    return head.readUInt32LE(0);
  }

  read(n: number): Buffer {
    this.length -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first.byteLength >= n) {
      if (first.byteLength === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      const take = Math.min(chunk.byteLength, n - filled);
      chunk.copy(out, filled, 0, take);
      filled += take;
      if (take === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    return out;
  }
}

/** A frame without its length prefix → header and payloads. */
export function decodeFrame(body: Buffer): Message {
  const bytes = new ByteQueue();
  bytes.push(body);
  return decodeBody(bytes, body.byteLength);
}

/** Reads one frame body of `length` bytes (all buffered) from the queue. */
function decodeBody(bytes: ByteQueue, length: number): Message {
  // Whatever is wrong, the whole frame is consumed, so the caller's stream stays aligned until it closes.
  let left = length;
  const take = (n: number) => ((left -= n), bytes.read(n));
  const fail = (why: string) => {
    take(left);
    return protocolError(why);
  };
  if (length < 4) throw fail('the frame is shorter than its header length field');
  const headerBytes = take(4).readUInt32LE(0);
  if (headerBytes === 0 || headerBytes > left) throw fail(`the header length ${headerBytes} does not fit the frame of ${length} bytes`);
  let header: unknown;
  try {
    header = unpackr.unpack(take(headerBytes));
  } catch {
    throw fail('the header is not valid MessagePack');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw fail('the header is not a map');
  const h = header as Header;
  if (!Number.isSafeInteger(h.id) || h.id < 0) throw fail('the header has no non-negative integer "id"');
  const payloads: Buffer[] = [];
  if (h.sizes !== undefined) {
    if (!Array.isArray(h.sizes)) throw fail('"sizes" is not an array');
    for (const size of h.sizes) {
      if (!Number.isSafeInteger(size) || size < 0 || size > left) throw fail('a payload size does not fit the frame');
      payloads.push(take(size));
    }
  }
  if (left !== 0) throw fail(`${left} bytes after the last payload`);
  return { header: h, payloads };
}

/** Parses `tcp://host:port` or `unix:///path.sock`. */
export type Address = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseAddress(address: string): Address {
  if (typeof address !== 'string') throw badAddress(address);
  if (address.startsWith('unix://')) {
    const path = address.slice('unix://'.length);
    if (!path.startsWith('/')) throw badAddress(address);
    return { kind: 'unix', path };
  }
  if (address.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw badAddress(address);
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port);
    if (!host || url.port === '' || !Number.isInteger(port) || port < 0 || port > 65535 || (url.pathname !== '' && url.pathname !== '/')) throw badAddress(address);
    return { kind: 'tcp', host, port };
  }
  throw badAddress(address);
}

export function formatAddress(address: Address): string {
  if (address.kind === 'unix') return `unix://${address.path}`;
  return `tcp://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

function badAddress(address: unknown): LaminateError {
  return new LaminateError('ERR_INVALID_OPTION', `Invalid address ${JSON.stringify(address)}: use tcp://host:port (port 0 picks a free one when serving) or unix:///absolute/path.sock.`);
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** An error as a reply carries it: its code and message, and whether it was a TypeError. */
export function errorToWire(error: unknown): Record<string, unknown> {
  if (error instanceof LaminateError) {
    const start = (error as { start?: unknown }).start; // ERR_TRIMMED's start (retention)
    return { code: error.code, message: error.message, type: error instanceof TypeError, ...(error.key === undefined ? {} : { key: error.key }), ...(typeof start === 'number' ? { start } : {}) };
  }
  return { code: 'ERR_SERVER', message: error instanceof Error ? error.message : String(error) };
}

export function errorFromWire(wire: unknown): Error {
  const w = (wire ?? {}) as { code?: unknown; message?: unknown; type?: unknown; key?: unknown; start?: unknown };
  const message = typeof w.message === 'string' ? w.message : 'The server reported an error without a message.';
  if (typeof w.code === 'string' && w.code.startsWith('ERR_') && w.code !== 'ERR_SERVER') {
    const details = typeof w.key === 'string' ? { key: w.key } : {};
    const error = w.type === true ? typeError(w.code as ErrorCode, message, details) : new LaminateError(w.code as ErrorCode, message, details);
    return typeof w.start === 'number' ? Object.assign(error, { start: w.start }) : error;
  }
  // Anything else failed inside the server's store (a disk error it did not code, a bug): still coded here.
  return new LaminateError('ERR_SERVER', `The server failed: ${message}. The server's store raised it; its log may say more, and the call may succeed once the store works again.`);
}
