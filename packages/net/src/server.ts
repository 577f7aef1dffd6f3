import { createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { type Server as NetServer, type Socket, createServer } from 'node:net';
import { type BaseStore, type KeyId, LaminateError, keyFromId, keyId, typeError } from '@laminate/core';
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

export interface ServeOptions {
  /** `tcp://host:port` (port 0 picks a free one) or `unix:///path.sock`; default `tcp://127.0.0.1:0`. */
  listen?: string;
  /** A shared secret every client must present; required for a non-loopback TCP address. */
  token?: string;
  /** Serve a non-loopback TCP address without a token (anyone who reaches the port can read and write). */
  insecure?: boolean;
  /** The largest frame accepted or sent, in bytes; default 64 MiB. */
  maxMessageBytes?: number;
}

/** Shares `store` with clients until `close()`; returns once it listens. */
export async function serve(store: BaseStore<Uint8Array>, opts: ServeOptions = {}): Promise<Server> {
  const address = parseAddress(opts.listen ?? 'tcp://127.0.0.1:0');
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1024 || maxMessageBytes > LIMIT_MAX_MESSAGE_BYTES) {
    throw typeError('ERR_INVALID_OPTION', `maxMessageBytes must be an integer from 1024 to ${LIMIT_MAX_MESSAGE_BYTES}, got ${opts.maxMessageBytes}.`);
  }
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token.length === 0)) {
    throw typeError('ERR_INVALID_OPTION', 'token must be a non-empty string.');
  }
  if (address.kind === 'tcp' && !isLoopback(address.host) && opts.token === undefined && opts.insecure !== true) {
    throw new LaminateError(
      'ERR_INVALID_OPTION',
      `Refusing to serve ${formatAddress(address)} without a token: anyone who reaches that address could read and change the store. Pass { token } (clients pass the same), or { insecure: true } on a trusted network.`,
    );
  }
  const server = new Server(store, opts.token, maxMessageBytes);
  await server.listen(address);
  return server;
}

/** A store shared over a socket. */
export class Server {
  /** The bound address, with the port chosen when listening on port 0. */
  address = '';
  private readonly net: NetServer;
  private readonly connections = new Set<Connection>();
  private closing?: Promise<void>;
  private readonly tokenDigest?: Buffer;

  constructor(
    readonly store: BaseStore<Uint8Array>,
    token: string | undefined,
    readonly maxMessageBytes: number,
  ) {
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

  /** Stops accepting connections, finishes the requests in flight, then closes every connection. The store stays open. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.net.close(() => resolve()));
      await Promise.all([...this.connections].map((connection) => connection.finish()));
      await stopped;
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

class Connection {
  private readonly reader: FrameReader;
  private authed = false;
  private failed = false;
  private finishing = false;
  private readonly inflight = new Set<Promise<void>>();
  private section?: Section;
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
    socket.once('close', () => void this.section?.end());
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

  private write(header: Header, payloads: readonly Uint8Array[] = []): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    let buffers = encodeFrame(header, payloads);
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.byteLength;
    if (bytes > this.server.maxMessageBytes) buffers = encodeFrame({ id: header.id, error: errorToWire(tooLarge(bytes, this.server.maxMessageBytes)) });
    this.socket.cork();
    for (const buffer of buffers) this.socket.write(buffer);
    this.socket.uncork();
  }

  private handle({ header, payloads }: Message): void {
    const { id, op } = header;
    if (!this.authed) {
      if (op !== 'hello') return this.fail(protocolError('the first message must be "hello"'), id);
      if (header.version !== PROTOCOL_VERSION) return this.fail(protocolError(`the client speaks protocol version ${String(header.version)}, this server ${PROTOCOL_VERSION}`), id);
      if (!this.server.accepts(header.token)) {
        return this.fail(new LaminateError('ERR_AUTH', 'The server refused the token: pass the token the server was started with ({ token } or LAMINATE_TOKEN).'), id);
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
    const section = header.locked === true ? this.section : undefined;
    const done = (section ? section.run(work) : work()).then(
      (reply) => this.write({ id, ok: true, ...reply.header }, reply.payloads),
      (error: unknown) => this.write({ id, error: errorToWire(error) }),
    );
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
      case 'iter': {
        const key = oneString(header.key);
        return async () => {
          const chunks: Uint8Array[] = [];
          for await (const chunk of store.iterId(checkedId(key))) chunks.push(chunk);
          return { payloads: chunks };
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

interface Reply {
  header?: Record<string, unknown>;
  payloads?: readonly Uint8Array[];
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw protocolError(`"${field}" must be an array of strings`);
  return value as string[];
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
