import { LaminateError } from '@laminate/core';
import { typeError } from '@laminate/core/layer';
import type { ServedOp } from './dispatch.js';
import { HELLO_MAX_BYTES, MAX_TOKEN_BYTES } from './hello.js';
import { type Address, DEFAULT_MAX_MESSAGE_BYTES, LIMIT_MAX_MESSAGE_BYTES, formatAddress, isLoopback } from './protocol.js';

export interface ServeOptions {
  /** `tcp://host:port` (port 0 picks a free one) or `unix:///path.sock`; default `tcp://127.0.0.1:0`. */
  listen?: string;
  /** A shared secret every client must present; required for a non-loopback TCP address. */
  token?: string;
  /** Serve a non-loopback TCP address without a token (anyone who reaches the port can read and write). */
  insecure?: boolean;
  /** The largest frame accepted or sent, in bytes; default 64 MiB. */
  maxMessageBytes?: number;
  /** Bytes of requests and replies one connection may have in flight before the server stops reading it; default 32 MiB. */
  maxConnectionBytes?: number;
  /** Bytes in flight over all connections before the server stops reading the busy ones; default 256 MiB. */
  maxTotalBytes?: number;
  /** How long the server remembers a disconnected client's appends, so a reconnecting client can resend them safely; default 60 s. */
  sessionTtlMs?: number;
  /** A connection that has not said hello (with the right token) this long after connecting is closed; default 3000 ms. */
  helloTimeoutMs?: number;
  /**
   * A connection that sends nothing for this long is closed, unless it has a
   * request running, holds the store's lock or has an iter cursor open;
   * default 0: never. A client connects again when it next has a request.
   */
  idleTimeoutMs?: number;
  /** iter cursors one connection may have open at once; default 16. */
  maxCursors?: number;
  /**
   * Ops beside the built-in ones, by name: a package's requests served on the
   * same connections, under the same limits and byte accounting, e.g.
   * `{ ops: tableOps() }` from @laminate/tables. A name has a dot
   * (`package.op`), so it never shadows a built-in op.
   */
  ops?: Readonly<Record<string, ServedOp>>;
}

/** The bounds a server keeps, from its options and their defaults. */
export interface ServerLimits {
  maxMessageBytes: number;
  maxConnectionBytes: number;
  maxTotalBytes: number;
  sessionTtlMs: number;
  helloTimeoutMs: number;
  idleTimeoutMs: number;
  maxCursors: number;
  ops: ReadonlyMap<string, ServedOp>;
}

/**
 * Checks serve()'s options before anything listens, and returns the limits
 * they set. A non-loopback TCP address needs a token (or `insecure`), since
 * anyone who reaches it could read and change the store.
 */
export function checkServeOptions(address: Address, opts: ServeOptions): ServerLimits {
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1024 || maxMessageBytes > LIMIT_MAX_MESSAGE_BYTES) {
    throw typeError('ERR_INVALID_OPTION', `maxMessageBytes must be an integer from 1024 to ${LIMIT_MAX_MESSAGE_BYTES}, got ${opts.maxMessageBytes}.`);
  }
  const limits = {
    maxMessageBytes,
    maxConnectionBytes: positive(opts.maxConnectionBytes, 32 << 20, 'maxConnectionBytes'),
    maxTotalBytes: positive(opts.maxTotalBytes, 256 << 20, 'maxTotalBytes'),
    sessionTtlMs: positive(opts.sessionTtlMs, 60_000, 'sessionTtlMs'),
    helloTimeoutMs: positive(opts.helloTimeoutMs, 3000, 'helloTimeoutMs'),
    idleTimeoutMs: opts.idleTimeoutMs === 0 ? 0 : positive(opts.idleTimeoutMs, 0, 'idleTimeoutMs'),
    maxCursors: positive(opts.maxCursors, 16, 'maxCursors'),
    ops: servedOps(opts.ops),
  };
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token.length === 0 || Buffer.byteLength(opts.token) > MAX_TOKEN_BYTES)) {
    throw typeError('ERR_INVALID_OPTION', `token must be a non-empty string of at most ${MAX_TOKEN_BYTES} bytes (a hello must fit in the ${HELLO_MAX_BYTES} bytes a connection may send before it).`);
  }
  if (address.kind === 'tcp' && !isLoopback(address.host) && opts.token === undefined && opts.insecure !== true) {
    throw new LaminateError(
      'ERR_INVALID_OPTION',
      `Refusing to serve ${formatAddress(address)} without a token: anyone who reaches that address could read and change the store. Pass { token } (clients pass the same), or { insecure: true } on a trusted network.`,
    );
  }
  return limits;
}

function servedOps(ops: ServeOptions['ops']): ReadonlyMap<string, ServedOp> {
  const map = new Map<string, ServedOp>();
  if (ops === undefined) return map;
  if (ops === null || typeof ops !== 'object') throw typeError('ERR_INVALID_OPTION', `ops must be an object of functions by op name, got ${ops === null ? 'null' : typeof ops}.`);
  for (const [name, op] of Object.entries(ops)) {
    if (!/^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9.-]*$/.test(name) || typeof op !== 'function') {
      throw typeError('ERR_INVALID_OPTION', `ops.${name} must be a function, named package.op (lowercase, with a dot) so it cannot shadow a built-in op.`);
    }
    map.set(name, op);
  }
  return map;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw typeError('ERR_INVALID_OPTION', `${name} must be a positive integer, got ${value}.`);
  return value;
}
