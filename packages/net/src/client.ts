import { randomBytes } from 'node:crypto';
import { type Socket, connect } from 'node:net';
import { BytesStore, type IdRange, type KeyId, LaminateError, type StoreSpec, registerLayer, typeError } from '@laminate/core';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  FrameReader,
  type Header,
  type Message,
  PROTOCOL_VERSION,
  encodeFrame,
  errorFromWire,
  parseAddress,
  tooLarge,
} from './protocol.js';

export interface ClientOptions {
  /** The server's token; defaults to the LAMINATE_TOKEN environment variable. Never part of describe(). */
  token?: string;
  /** The largest reply accepted, in bytes; default 64 MiB. */
  maxMessageBytes?: number;
  /**
   * How long to keep trying to reach the server, in ms, when it is not (yet)
   * listening or a connection dropped; requests wait meanwhile and fail with
   * ERR_CONNECTION after it. Default 10000.
   */
  connectTimeoutMs?: number;
  /** Bytes of requests sent and not yet answered before further calls wait; default 16 MiB. */
  maxBytesInFlight?: number;
}

/** One request from the call that made it until its reply. */
interface Request {
  /** The request id, unique for this client across its connections. */
  readonly id: number;
  readonly header: Omit<Header, 'id'>;
  readonly payloads: readonly Uint8Array[];
  readonly bytes: number;
  /** Requests that belong to one connection (a withLock section's, a cursor's) fail with it instead of being sent again. */
  readonly pinned?: Connection;
  readonly resolve: (message: Message) => void;
  readonly reject: (error: Error) => void;
}

/** Errors after which the same request would fail again on a new connection. */
const FINAL = new Set(['ERR_AUTH', 'ERR_PROTOCOL', 'ERR_TOO_LARGE']);

/** One socket to the server, after the hello. */
class Connection {
  alive = true;
  /** The server said it is closing: send nothing more here. */
  draining = false;
  serverMax = DEFAULT_MAX_MESSAGE_BYTES;
  /** Why the connection ended, when the server said (ERR_AUTH, ERR_PROTOCOL) or the reader refused a frame. */
  fatal?: Error;
  readonly closed: Promise<void>;
  private holding = false;

  constructor(
    readonly socket: Socket,
    maxMessageBytes: number,
    onReply: (message: Message) => void,
  ) {
    const reader = new FrameReader(maxMessageBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      let messages: Message[];
      try {
        messages = reader.push(chunk);
      } catch (error) {
        this.fatal = error as Error;
        socket.destroy();
        return;
      }
      for (const message of messages) {
        const error = message.header.error === undefined ? undefined : errorFromWire(message.header.error);
        // The server closes the connection after these: they apply to every request still waiting.
        if (error && FINAL.has((error as LaminateError).code) && (message.header.id === 0 || (error as LaminateError).code !== 'ERR_TOO_LARGE')) this.fatal = error;
        onReply(message);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.alive = false;
        resolve();
      }),
    );
  }

  /** Writes one request; ERR_TOO_LARGE (nothing written) when the server would refuse its size. */
  send(id: number, header: Omit<Header, 'id'>, payloads: readonly Uint8Array[]): void {
    const buffers = encodeFrame({ ...header, id }, payloads);
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.byteLength;
    if (bytes > this.serverMax) throw tooLarge(bytes, this.serverMax);
    // Requests made in the same tick leave in one system call.
    if (!this.holding) {
      this.holding = true;
      this.socket.cork();
      process.nextTick(() => {
        this.holding = false;
        this.socket.uncork();
      });
    }
    for (const buffer of buffers) this.socket.write(buffer);
  }
}

/**
 * client(address): a Store<Uint8Array> whose data lives in a store shared by
 * serve() in another process or machine. Stack encoders and compressors on it,
 * so values cross the network already encoded: msgpack(zstd(client(addr))).
 *
 * A dropped connection is opened again and the unanswered requests are sent
 * again, in order; the server answers a change it already applied from
 * memory, so every append is applied exactly once.
 */
export class ClientStore extends BytesStore {
  protected readonly layer = 'client';
  private readonly token?: string;
  private readonly maxMessageBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly maxBytesInFlight: number;
  /** Names this client to the server across reconnects, for deduplication. */
  private readonly clientId = randomBytes(16).toString('base64url');
  private nextId = 1;
  private connection?: Connection;
  private connecting?: Promise<void>;
  /** Sent and not yet answered, in the order sent. */
  private readonly outstanding = new Map<number, Request>();
  private outstandingBytes = 0;
  /** Not yet sent (no connection, or too much in flight), in id order. */
  private waiting: Request[] = [];
  /** withLock sections running or waiting: other calls queue behind them. */
  private sections = 0;
  /** The connection the current withLock section holds the server's lock on. */
  private sectionConnection?: Connection;
  /** Set once close() has finished: no more connections. */
  private shut = false;

  constructor(
    readonly address: string,
    opts: ClientOptions = {},
  ) {
    super();
    parseAddress(address);
    this.token = opts.token ?? process.env.LAMINATE_TOKEN;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.maxBytesInFlight = opts.maxBytesInFlight ?? 16 << 20;
  }

  /** Queues a request; it is sent when connected and the window has room, and again after a reconnect until answered. */
  private submit(header: Omit<Header, 'id'>, payloads: readonly Uint8Array[] = [], pinned?: Connection): Promise<Message> {
    let bytes = 0;
    for (const payload of payloads) bytes += payload.byteLength;
    return new Promise<Message>((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, header, payloads, bytes, pinned, resolve, reject });
      this.pump();
    });
  }

  /** Sends what waits, while the window has room (one request always goes, however large). */
  private pump(): void {
    const connection = this.connection;
    if (connection === undefined || !connection.alive) {
      if (this.waiting.length > 0) this.reconnect();
      return;
    }
    // The server is closing this connection; what waits goes on the next one.
    if (connection.draining) return;
    while (this.waiting.length > 0) {
      const request = this.waiting[0];
      if (this.outstanding.size > 0 && this.outstandingBytes + request.bytes > this.maxBytesInFlight) return;
      this.waiting.shift();
      if (request.pinned !== undefined && request.pinned !== connection) {
        request.reject(new LaminateError('ERR_CONNECTION', 'The connection this request belonged to (a withLock section or an iter) closed; it was not sent again.'));
        continue;
      }
      // `ack`: every request below it has been answered, so the server may forget their outcomes.
      const ack = this.outstanding.size > 0 ? this.outstanding.keys().next().value! : request.id;
      try {
        connection.send(request.id, { ...request.header, ack }, request.payloads);
      } catch (error) {
        request.reject(error as Error);
        continue;
      }
      this.outstanding.set(request.id, request);
      this.outstandingBytes += request.bytes;
    }
  }

  private onReply(connection: Connection, { header, payloads }: Message): void {
    const request = this.outstanding.get(header.id);
    if (request === undefined || connection !== this.connection) return;
    this.outstanding.delete(header.id);
    this.outstandingBytes -= request.bytes;
    if (header.error === undefined) request.resolve({ header, payloads });
    else {
      const error = errorFromWire(header.error);
      // A closing server refused it before running it: safe to send again once a server listens,
      // and nothing more goes on this connection.
      if ((error as LaminateError).code === 'ERR_CLOSED' && request.pinned === undefined) {
        connection.draining = true;
        this.requeue([request]);
      } else request.reject(error);
    }
    this.pump();
  }

  /** The connection closed: what it left unanswered is sent again on the next one, unless it cannot be. */
  private onClose(connection: Connection): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    const unanswered = [...this.outstanding.values()];
    this.outstanding.clear();
    this.outstandingBytes = 0;
    const fatal = connection.fatal;
    const again: Request[] = [];
    for (const request of unanswered) {
      if (fatal && FINAL.has((fatal as LaminateError).code)) request.reject(fatal);
      else if (request.pinned !== undefined) request.reject(connectionLost());
      else again.push(request);
    }
    this.requeue(again);
    this.pump();
  }

  private requeue(requests: Request[]): void {
    if (requests.length === 0) return;
    this.waiting = [...requests, ...this.waiting].sort((a, b) => a.id - b.id);
  }

  /** Connects (retrying until connectTimeoutMs) unless already connecting; on failure every waiting request fails. */
  private reconnect(): void {
    if (this.connecting || this.shut) return;
    this.connecting = this.connect()
      .then(
        (connection) => {
          this.connection = connection;
          void connection.closed.then(() => this.onClose(connection));
        },
        (error: Error) => {
          const waiting = this.waiting;
          this.waiting = [];
          for (const request of waiting) request.reject(error);
        },
      )
      .finally(() => {
        this.connecting = undefined;
        this.pump();
      });
  }

  private async connect(): Promise<Connection> {
    const address = parseAddress(this.address);
    const deadline = performance.now() + this.connectTimeoutMs;
    let delay = 20;
    for (;;) {
      const socket = await new Promise<Socket | NodeJS.ErrnoException>((resolve) => {
        const socket = address.kind === 'unix' ? connect(address.path) : connect(address.port, address.host);
        socket.once('connect', () => {
          socket.removeAllListeners('error');
          resolve(socket);
        });
        socket.once('error', (error) => resolve(error));
      });
      let failure: Error;
      if (!(socket instanceof Error)) {
        const hello = await this.hello(socket);
        if (!(hello instanceof Error)) return hello;
        failure = hello;
        if (FINAL.has((failure as LaminateError).code)) throw failure;
      } else {
        failure = socket;
        const transient = ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAGAIN'].includes(socket.code ?? '');
        if (!transient) throw unreachable(this.address, failure);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw unreachable(this.address, failure);
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
      delay = Math.min(delay * 2, 500);
    }
  }

  /** Says hello on a fresh socket: the connection, or why the server would not have it. */
  private hello(socket: Socket): Promise<Connection | Error> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      let connection: Connection | undefined = undefined;
      let settled = false;
      connection = new Connection(socket, this.maxMessageBytes, (message) => {
        if (!settled && message.header.id === id) {
          settled = true;
          if (message.header.error !== undefined) {
            socket.destroy();
            return resolve(errorFromWire(message.header.error));
          }
          if (typeof message.header.maxMessageBytes === 'number') connection!.serverMax = message.header.maxMessageBytes;
          return resolve(connection!);
        }
        this.onReply(connection!, message);
      });
      void connection.closed.then(() => {
        if (!settled) {
          settled = true;
          resolve(connection!.fatal ?? connectionLost());
        }
      });
      connection.send(id, { op: 'hello', version: PROTOCOL_VERSION, client: this.clientId, ...(this.token === undefined ? {} : { token: this.token }) }, []);
    });
  }

  /** Sends a request, in order with this client's withLock sections. */
  private call(header: Omit<Header, 'id'>, payloads?: readonly Uint8Array[]): Promise<Message> {
    if (this.lock.holds() && this.sectionConnection) return this.submit({ ...header, locked: true }, payloads, this.sectionConnection);
    if (this.sections > 0 && !this.lock.holds()) return this.lock.run(() => this.submit(header, payloads));
    return this.submit(header, payloads);
  }

  /** The current connection, once connected. */
  private async connected(): Promise<Connection> {
    for (;;) {
      if (this.connection?.alive) return this.connection;
      if (!this.connecting) this.reconnect();
      const attempt = this.connecting;
      if (attempt === undefined) throw new LaminateError('ERR_CLOSED', 'This client is closed.');
      await attempt;
      if (!this.connection?.alive) throw unreachable(this.address, new Error('no connection'));
    }
  }

  override withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    if (this.lock.holds()) return fn();
    this.sections++;
    return this.lock
      .run(async () => {
        const connection = await this.connected();
        await this.submit({ op: 'lock' }, [], connection);
        this.sectionConnection = connection;
        try {
          return await fn();
        } finally {
          this.sectionConnection = undefined;
          // A closed connection released the lock on the server already.
          if (connection.alive) await this.submit({ op: 'unlock' }, [], connection).catch(() => undefined);
        }
      })
      .finally(() => this.sections--);
  }

  async appendIds(ids: readonly KeyId[], values: readonly Uint8Array[]): Promise<void> {
    await this.call({ op: 'append', keys: ids }, values);
  }

  async getIds(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    const { payloads } = await this.call({ op: 'get', keys: ids });
    if (payloads.length !== ids.length) throw badReply('get');
    return payloads;
  }

  /** Reads only the bytes asked for, where the served store can (file() and buffer() can). */
  override async getRangeIds(ranges: readonly IdRange[]): Promise<Uint8Array[]> {
    const wire = ranges.map(({ id, offset, length }) => [id, offset, length === Infinity ? null : length]);
    const { payloads } = await this.call({ op: 'ranges', ranges: wire });
    if (payloads.length !== ranges.length) throw badReply('ranges');
    return payloads;
  }

  /** Streams the key's chunks a batch at a time; the batches after the first come from the same connection. */
  override async *iterId(id: KeyId): AsyncIterable<Uint8Array> {
    let reply = await this.call({ op: 'iter', key: id });
    const connection = this.connection;
    let cursor = reply.header.cursor;
    try {
      for (;;) {
        yield* reply.payloads;
        if (cursor === undefined) return;
        reply = await this.submit({ op: 'iter', cursor }, [], connection);
        cursor = reply.header.cursor;
      }
    } finally {
      // Stopped early: let the server close its cursor.
      if (cursor !== undefined && connection?.alive) void this.submit({ op: 'iter', cursor, cancel: true }, [], connection).catch(() => undefined);
    }
  }

  async deleteIds(ids: readonly KeyId[]): Promise<void> {
    await this.call({ op: 'delete', keys: ids });
  }

  async listIds(): Promise<KeyId[]> {
    const { header } = await this.call({ op: 'keys' });
    if (!Array.isArray(header.keys) || !header.keys.every((key) => typeof key === 'string')) throw badReply('keys');
    return header.keys as KeyId[];
  }

  async isetId(id: KeyId, value: Uint8Array): Promise<void> {
    await this.call({ op: 'iset', key: id }, [value]);
  }

  async igetId(id: KeyId): Promise<Uint8Array | undefined> {
    const { header, payloads } = await this.call({ op: 'iget', key: id });
    return header.found === true ? payloads[0] : undefined;
  }

  /** get + delete, atomically on the server. */
  override async popId(id: KeyId): Promise<Uint8Array> {
    const { payloads } = await this.call({ op: 'pop', key: id });
    if (payloads.length !== 1) throw badReply('pop');
    return payloads[0];
  }

  /** One request: the server drops under its store's lock. */
  override async drop(): Promise<void> {
    this.assertOpen();
    await this.dropAll();
  }

  protected async dropAll(): Promise<void> {
    await this.call({ op: 'drop' });
  }

  /** Waits for every request to be answered (or to fail), then closes the connection. */
  protected async closeStore(): Promise<void> {
    while (this.outstanding.size > 0 || this.waiting.length > 0 || this.connecting) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.shut = true;
    const connection = this.connection;
    this.connection = undefined;
    if (!connection?.alive) return;
    connection.socket.end();
    const timer = setTimeout(() => connection.socket.destroy(), 2000);
    await connection.closed;
    clearTimeout(timer);
  }

  describe(): StoreSpec {
    return { type: 'client', address: this.address };
  }
}

function connectionLost(): LaminateError {
  return new LaminateError('ERR_CONNECTION', 'The connection to the laminate server closed before the reply came; the request may or may not have been applied.');
}

function unreachable(address: string, cause: Error): LaminateError {
  return new LaminateError('ERR_CONNECTION', `Cannot reach the laminate server at ${address}: ${cause.message}. Is serve() running there? (A client keeps trying for connectTimeoutMs.)`, { cause });
}

function badReply(op: string): LaminateError {
  return new LaminateError('ERR_PROTOCOL', `The server's reply to "${op}" does not match the request.`);
}

export function client(address: string, opts: ClientOptions = {}): ClientStore {
  if (typeof address !== 'string') throw typeError('ERR_INVALID_OPTION', 'client() takes an address such as "tcp://127.0.0.1:7070" or "unix:///run/laminate.sock".');
  return new ClientStore(address, opts);
}

registerLayer('client', {
  positional: 'address',
  open: (spec) => {
    const { address, token, maxMessageBytes, connectTimeoutMs, maxBytesInFlight } = spec as StoreSpec & ClientOptions & { address: string };
    return client(address, { token, maxMessageBytes, connectTimeoutMs, maxBytesInFlight });
  },
});
