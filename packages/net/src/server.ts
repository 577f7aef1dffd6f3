import { createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { type Server as NetServer, type Socket, createServer } from 'node:net';
import { type BaseStore, type IdRange, type KeyId, LaminateError, keyFromId, keyId, readRangeIds, typeError } from '@laminate/core';
import {
  type Address,
  DEFAULT_MAX_MESSAGE_BYTES,
  FrameReader,
  type Header,
  LIMIT_MAX_MESSAGE_BYTES,
  type Message,
  PROTOCOL_VERSION,
  encodeFrame,
  errorToWire,
  formatAddress,
  isLoopback,
  parseAddress,
  protocolError,
  tooLarge,
} from './protocol.js';
import { Sessions, type Session, type Outcome } from './sessions.js';

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
}

/** What a server is doing, for monitoring and tests. */
export interface ServerStats {
  connections: number;
  /** Clients whose recent requests are remembered for deduplication. */
  sessions: number;
  /** Bytes of requests not yet answered plus replies not yet written to the socket. */
  bytesInFlight: number;
  /** The most `bytesInFlight` has been since the server started. */
  peakBytesInFlight: number;
  /** Requests answered from memory because a reconnecting client sent them again. */
  duplicates: number;
}

/** Shares `store` with clients until `close()`; returns once it listens. */
export async function serve(store: BaseStore<Uint8Array>, opts: ServeOptions = {}): Promise<Server> {
  const address = parseAddress(opts.listen ?? 'tcp://127.0.0.1:0');
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1024 || maxMessageBytes > LIMIT_MAX_MESSAGE_BYTES) {
    throw typeError('ERR_INVALID_OPTION', `maxMessageBytes must be an integer from 1024 to ${LIMIT_MAX_MESSAGE_BYTES}, got ${opts.maxMessageBytes}.`);
  }
  const limits = {
    maxMessageBytes,
    maxConnectionBytes: positive(opts.maxConnectionBytes, 32 << 20, 'maxConnectionBytes'),
    maxTotalBytes: positive(opts.maxTotalBytes, 256 << 20, 'maxTotalBytes'),
    sessionTtlMs: positive(opts.sessionTtlMs, 60_000, 'sessionTtlMs'),
  };
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token.length === 0)) {
    throw typeError('ERR_INVALID_OPTION', 'token must be a non-empty string.');
  }
  if (address.kind === 'tcp' && !isLoopback(address.host) && opts.token === undefined && opts.insecure !== true) {
    throw new LaminateError(
      'ERR_INVALID_OPTION',
      `Refusing to serve ${formatAddress(address)} without a token: anyone who reaches that address could read and change the store. Pass { token } (clients pass the same), or { insecure: true } on a trusted network.`,
    );
  }
  const server = new Server(store, opts.token, limits);
  await server.listen(address);
  return server;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw typeError('ERR_INVALID_OPTION', `${name} must be a positive integer, got ${value}.`);
  return value;
}

interface Limits {
  maxMessageBytes: number;
  maxConnectionBytes: number;
  maxTotalBytes: number;
  sessionTtlMs: number;
}

/** A store shared over a socket. */
export class Server {
  /** The bound address, with the port chosen when listening on port 0. */
  address = '';
  readonly maxMessageBytes: number;
  private readonly net: NetServer;
  private readonly connections = new Set<Connection>();
  /** Connections not being read (flow control), to wake when bytes leave. */
  readonly paused = new Set<Connection>();
  private closing?: Promise<void>;
  private readonly tokenDigest?: Buffer;
  readonly sessions: Sessions;
  private inflight = 0;
  private peak = 0;
  duplicates = 0;

  constructor(
    readonly store: BaseStore<Uint8Array>,
    token: string | undefined,
    readonly limits: Limits,
  ) {
    this.maxMessageBytes = limits.maxMessageBytes;
    this.sessions = new Sessions(limits.sessionTtlMs);
    this.tokenDigest = token === undefined ? undefined : digest(token);
    this.net = createServer((socket) => {
      if (this.closing) return void socket.destroy();
      const connection = new Connection(this, socket);
      this.connections.add(connection);
      socket.once('close', () => this.connections.delete(connection));
    });
  }

  listen(address: Address): Promise<void> {
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => reject(new LaminateError('ERR_CONNECTION', `Cannot listen on ${formatAddress(address)}: ${error.message}.`, { cause: error }));
      this.net.once('error', failed);
      const onListening = () => {
        this.net.off('error', failed);
        if (address.kind === 'unix') {
          // 'listening' is emitted before any connection is accepted, so no one connects before this.
          chmodSync(address.path, 0o600);
          this.address = formatAddress(address);
        } else {
          const bound = this.net.address();
          const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
          this.address = formatAddress({ kind: 'tcp', host: address.host, port });
        }
        resolve();
      };
      if (address.kind === 'unix') this.net.listen(address.path, onListening);
      else this.net.listen(address.port, address.host, onListening);
    });
  }

  /** Whether `token` is the server's token, compared in constant time. */
  accepts(token: unknown): boolean {
    if (this.tokenDigest === undefined) return true;
    if (typeof token !== 'string') return false;
    return timingSafeEqual(digest(token), this.tokenDigest);
  }

  /** Counts bytes entering (positive) or leaving (negative) the server's memory; lets paused connections go on when there is room again. */
  account(bytes: number): void {
    this.inflight += bytes;
    if (this.inflight > this.peak) this.peak = this.inflight;
    if (bytes < 0 && this.paused.size > 0 && this.inflight < this.limits.maxTotalBytes) for (const connection of this.paused) connection.flow();
  }

  get overTotal(): boolean {
    return this.inflight >= this.limits.maxTotalBytes;
  }

  stats(): ServerStats {
    return { connections: this.connections.size, sessions: this.sessions.size, bytesInFlight: this.inflight, peakBytesInFlight: this.peak, duplicates: this.duplicates };
  }

  /** Stops accepting connections, finishes the requests in flight, then closes every connection. The store stays open. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.net.close(() => resolve()));
      await Promise.all([...this.connections].map((connection) => connection.finish()));
      await stopped;
      this.sessions.clear();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A withLock section a connection holds on the server's store: its locked requests run inside it. */
class Section {
  private readonly jobs: (() => Promise<unknown>)[] = [];
  private wake?: () => void;
  private ended = false;
  readonly acquired: Promise<void>;
  readonly done: Promise<void>;

  constructor(store: BaseStore<Uint8Array>) {
    let acquired!: () => void;
    let failed!: (error: unknown) => void;
    this.acquired = new Promise<void>((resolve, reject) => ((acquired = resolve), (failed = reject)));
    this.done = store
      .withLock(async () => {
        acquired();
        const running = new Set<Promise<unknown>>();
        for (;;) {
          // Jobs started here run in the section's async context, so the store's mutex lets them in.
          while (this.jobs.length > 0) {
            const job = this.jobs.shift()!();
            running.add(job);
            void job.finally(() => running.delete(job)).catch(() => undefined);
          }
          if (this.ended) break;
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = undefined;
        }
        await Promise.allSettled([...running]);
      })
      .catch((error: unknown) => failed(error));
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.jobs.push(() => {
        const promise = fn();
        promise.then(resolve, reject);
        return promise;
      });
      this.wake?.();
    });
  }

  end(): Promise<void> {
    this.ended = true;
    this.wake?.();
    return this.done;
  }
}

/** Requests that change the store: a client's resent copy must not apply them twice. */
const CHANGES = new Set(['append', 'iset', 'delete', 'pop', 'drop']);

/** How many chunks of a key one `iter` reply carries at most, in bytes (a single larger chunk still goes alone). */
const ITER_BATCH_BYTES = 1 << 20;

class Connection {
  private readonly reader: FrameReader;
  private authed = false;
  private failed = false;
  private finishing = false;
  /** The socket is corked until the event loop turns (see hold()). */
  private holding = false;
  /** Bytes of this connection's requests not yet answered and replies not yet written. */
  private inflightBytes = 0;
  private readonly inflight = new Set<Promise<void>>();
  private section?: Section;
  private session?: Session;
  /** Open `iter` cursors: the rest of a key's chunks, read as the client asks for them. */
  private readonly cursors = new Map<number, Cursor>();
  private nextCursor = 1;
  private readonly closed: Promise<void>;

  constructor(
    private readonly server: Server,
    private readonly socket: Socket,
  ) {
    this.reader = new FrameReader(server.maxMessageBytes);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.once('close', () => {
      this.server.paused.delete(this);
      void this.section?.end();
      for (const { iterator } of this.cursors.values()) void iterator.return?.();
      this.cursors.clear();
      if (this.session) this.server.sessions.leave(this.session);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
    let messages: Message[];
    try {
      messages = this.reader.push(chunk);
    } catch (error) {
      return this.fail(error as LaminateError);
    }
    for (const message of messages) {
      if (this.failed) return;
      this.handle(message);
    }
    this.flow();
  }

  /**
   * Flow control: stop reading a connection that has too much in flight, or
   * when the whole server has. A connection with nothing in flight is always
   * read, so a client holding the store's lock can always send the request
   * that ends its section.
   */
  flow(): void {
    const over = this.inflightBytes > 0 && (this.inflightBytes >= this.server.limits.maxConnectionBytes || this.server.overTotal);
    const paused = this.server.paused.has(this);
    if (over && !paused) {
      this.server.paused.add(this);
      this.socket.pause();
    } else if (!over && paused) {
      this.server.paused.delete(this);
      this.socket.resume();
    }
  }

  private account(bytes: number): void {
    this.inflightBytes += bytes;
    this.server.account(bytes);
    if (bytes < 0) this.flow();
  }

  /** Reports a connection-level error (reply id 0 unless given) and closes the connection. */
  private fail(error: LaminateError, id = 0): void {
    if (this.failed) return;
    this.failed = true;
    this.socket.pause();
    this.write({ id, error: errorToWire(error) });
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Writes one reply; its bytes count as in flight until the socket has taken them. */
  private write(header: Header, payloads: readonly Uint8Array[] = []): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    let buffers = encodeFrame(header, payloads);
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.byteLength;
    if (bytes > this.server.maxMessageBytes) {
      buffers = encodeFrame({ id: header.id, error: errorToWire(tooLarge(bytes, this.server.maxMessageBytes)) });
      bytes = 0;
      for (const buffer of buffers) bytes += buffer.byteLength;
    }
    this.account(bytes);
    this.hold();
    for (let i = 0; i < buffers.length - 1; i++) this.socket.write(buffers[i]);
    this.socket.write(buffers[buffers.length - 1], () => this.account(-bytes));
  }

  /**
   * Gathers the replies finished in this turn of the event loop into one
   * system call: on loopback a write costs as much as the work of a small
   * request, and replies finish in bursts.
   */
  private hold(): void {
    if (this.holding) return;
    this.holding = true;
    this.socket.cork();
    setImmediate(() => {
      this.holding = false;
      this.socket.uncork();
    });
  }

  private handle({ header, payloads }: Message): void {
    const { id, op } = header;
    if (!this.authed) {
      if (op !== 'hello') return this.fail(protocolError('the first message must be "hello"'), id);
      if (header.version !== PROTOCOL_VERSION) return this.fail(protocolError(`the client speaks protocol version ${String(header.version)}, this server ${PROTOCOL_VERSION}`), id);
      if (!this.server.accepts(header.token)) {
        return this.fail(new LaminateError('ERR_AUTH', 'The server refused the token: pass the token the server was started with ({ token } or LAMINATE_TOKEN).'), id);
      }
      if (header.client !== undefined) {
        if (typeof header.client !== 'string' || header.client.length === 0 || header.client.length > 128) return this.fail(protocolError('"client" must be a string of 1 to 128 characters'), id);
        this.session = this.server.sessions.join(header.client);
      }
      this.authed = true;
      return this.write({ id, ok: true, version: PROTOCOL_VERSION, maxMessageBytes: this.server.maxMessageBytes });
    }
    let work: () => Promise<Reply>;
    try {
      work = this.request(header, payloads);
    } catch (error) {
      return this.fail(error as LaminateError, id);
    }
    if (this.finishing) return this.write({ id, error: errorToWire(new LaminateError('ERR_CLOSED', 'The server is closing; it takes no new requests.')) });

    let bytes = 0;
    for (const payload of payloads) bytes += payload.byteLength;
    this.account(bytes);
    const section = header.locked === true ? this.section : undefined;
    const run = (): Promise<Outcome> => (section ? section.run(work) : work()).then((reply) => ({ reply }), (error: unknown) => ({ error }));
    let outcome: Promise<Outcome> | undefined;
    if (this.session && typeof op === 'string' && CHANGES.has(op)) {
      // A change a reconnecting client sent again: answer with the first copy's outcome instead of applying it twice.
      const seen = this.server.sessions.recall(this.session, id, header.ack);
      if (seen) this.server.duplicates++;
      outcome = seen ?? this.server.sessions.remember(this.session, id, run());
    } else {
      if (this.session) this.server.sessions.acknowledge(this.session, header.ack);
      outcome = run();
    }
    const done = outcome.then((result) => {
      this.account(-bytes);
      if ('reply' in result) this.write({ id, ok: true, ...result.reply.header }, result.reply.payloads);
      else this.write({ id, error: errorToWire(result.error) });
    });
    this.inflight.add(done);
    void done.finally(() => this.inflight.delete(done));
  }

  /** Checks a request's shape (a malformed one closes the connection) and returns the work it asks for. */
  private request(header: Header, payloads: Buffer[]): () => Promise<Reply> {
    const store = this.server.store;
    const payloadCount = (n: number) => {
      if (payloads.length !== n) throw protocolError(`"${header.op}" carries ${payloads.length} payloads, expected ${n}`);
    };
    switch (header.op) {
      case 'append': {
        const keys = stringList(header.keys, 'keys');
        payloadCount(keys.length);
        return async () => (await store.appendIds(ids(keys), payloads), {});
      }
      case 'get': {
        const keys = stringList(header.keys, 'keys');
        return async () => ({ payloads: await store.getIds(ids(keys)) });
      }
      case 'ranges': {
        const ranges = rangeList(header.ranges);
        return async () => ({ payloads: await readRangeIds(store, ranges) });
      }
      case 'iter': {
        if (header.cursor !== undefined) {
          const cursor = header.cursor;
          if (!Number.isSafeInteger(cursor)) throw protocolError('"cursor" must be an integer');
          return () => this.continueIter(cursor as number, header.cancel === true);
        }
        const key = oneString(header.key);
        return async () => {
          const iterator = store.iterId(checkedId(key))[Symbol.asyncIterator]();
          const cursor = this.nextCursor++;
          this.cursors.set(cursor, { iterator });
          return this.continueIter(cursor, false);
        };
      }
      case 'iset': {
        const key = oneString(header.key);
        payloadCount(1);
        return async () => (await store.isetId(checkedId(key), payloads[0]), {});
      }
      case 'iget': {
        const key = oneString(header.key);
        return async () => {
          const value = await store.igetId(checkedId(key));
          return value === undefined ? { header: { found: false } } : { header: { found: true }, payloads: [value] };
        };
      }
      case 'delete': {
        const keys = stringList(header.keys, 'keys');
        return async () => (await store.deleteIds(ids(keys)), {});
      }
      case 'pop': {
        const key = oneString(header.key);
        return async () => ({ payloads: [await store.popId(checkedId(key))] });
      }
      case 'keys':
        return async () => ({ header: { keys: await store.listIds() } });
      case 'drop':
        return async () => (await store.drop(), {});
      case 'lock':
        return async () => {
          if (this.section) throw new LaminateError('ERR_LOCKED', 'This connection already holds the lock.');
          const section = new Section(store);
          this.section = section;
          try {
            await section.acquired;
          } catch (error) {
            this.section = undefined;
            throw error;
          }
          return {};
        };
      case 'unlock':
        return async () => {
          const section = this.section;
          this.section = undefined;
          await section?.end();
          return {};
        };
      default:
        throw protocolError(`unknown op ${JSON.stringify(header.op)}`);
    }
  }

  /** The next batch of an open `iter` cursor: chunks up to ITER_BATCH_BYTES, and the cursor again while more remain. */
  private async continueIter(id: number, cancel: boolean): Promise<Reply> {
    const cursor = this.cursors.get(id);
    if (cursor === undefined) throw new LaminateError('ERR_PROTOCOL', `No open iter cursor ${id} on this connection.`);
    if (cancel) {
      this.cursors.delete(id);
      await cursor.iterator.return?.();
      return {};
    }
    // Leave room for the header: a batch must fit in one frame (a single larger chunk still goes alone).
    const budget = Math.min(ITER_BATCH_BYTES, this.server.maxMessageBytes - 4096);
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    try {
      for (;;) {
        const chunk = cursor.held ?? (await cursor.iterator.next()).value;
        cursor.held = undefined;
        if (chunk === undefined) {
          this.cursors.delete(id);
          return { payloads: chunks };
        }
        if (chunks.length > 0 && bytes + chunk.byteLength > budget) {
          cursor.held = chunk;
          return { header: { cursor: id }, payloads: chunks };
        }
        chunks.push(chunk);
        bytes += chunk.byteLength;
      }
    } catch (error) {
      this.cursors.delete(id);
      throw error;
    }
  }

  /** Lets the requests in flight finish and be answered, then closes the connection. */
  async finish(): Promise<void> {
    this.finishing = true;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    const section = this.section;
    this.section = undefined;
    await section?.end();
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    await this.closed;
    clearTimeout(timer);
  }
}

interface Cursor {
  iterator: AsyncIterator<Uint8Array>;
  /** A chunk read that did not fit the last batch. */
  held?: Uint8Array;
}

export interface Reply {
  header?: Record<string, unknown>;
  payloads?: readonly Uint8Array[];
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw protocolError(`"${field}" must be an array of strings`);
  return value as string[];
}

/** `ranges`: [key id, offset, length or nil for "to the end"] triples. */
function rangeList(value: unknown): IdRange[] {
  const whole = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!Array.isArray(value)) throw protocolError('"ranges" must be an array');
  return value.map((range: unknown) => {
    if (!Array.isArray(range) || range.length !== 3 || typeof range[0] !== 'string' || !whole(range[1]) || !(range[2] === null || whole(range[2]))) {
      throw protocolError('each range must be [key id, offset, length or nil]');
    }
    return { id: checkedId(range[0]), offset: range[1] as number, length: range[2] === null ? Infinity : (range[2] as number) };
  });
}

function oneString(value: unknown): string {
  if (typeof value !== 'string') throw protocolError('"key" must be a string');
  return value;
}

/** A key id from the wire, checked to be one keyId() makes, so a client cannot reach keys the API would refuse. */
function checkedId(id: string): KeyId {
  let normal: KeyId | undefined;
  try {
    normal = keyId(keyFromId(id));
  } catch {
    normal = undefined;
  }
  if (normal !== id) throw typeError('ERR_INVALID_KEY', `Invalid key id ${JSON.stringify(id)} from the client.`);
  return id;
}

function ids(keys: readonly string[]): KeyId[] {
  return keys.map(checkedId);
}
