import { type Socket, connect } from 'node:net';
import { BytesStore, type KeyId, LaminateError, type StoreSpec, registerLayer, typeError } from '@laminate/core';
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
  /** How long to keep trying while the server is not (yet) listening, in ms; default 5000. */
  connectTimeoutMs?: number;
}

const connectionLost = () => new LaminateError('ERR_CONNECTION', 'The connection to the laminate server closed before the reply came; the request may or may not have been applied.');

/** One socket to the server, after the hello. */
class Connection {
  private readonly pending = new Map<number, { resolve: (message: Message) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private fatal?: Error;
  alive = true;
  serverMax = DEFAULT_MAX_MESSAGE_BYTES;
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket, maxMessageBytes: number) {
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
      for (const { header, payloads } of messages) {
        const waiter = this.pending.get(header.id);
        if (waiter === undefined) {
          // id 0 (or an unknown id) with an error: the server is closing the connection.
          if (header.error !== undefined) this.fatal = errorFromWire(header.error);
          continue;
        }
        this.pending.delete(header.id);
        if (header.error !== undefined) {
          const error = errorFromWire(header.error);
          // An error the server closes the connection after applies to every request still waiting.
          if ((error as LaminateError).code === 'ERR_AUTH' || (error as LaminateError).code === 'ERR_PROTOCOL') this.fatal = error;
          waiter.reject(error);
        } else waiter.resolve({ header, payloads });
      }
    });
    socket.on('error', (error) => (this.fatal ??= new LaminateError('ERR_CONNECTION', `The connection to the laminate server failed: ${error.message}.`, { cause: error })));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.alive = false;
        const error = this.fatal ?? connectionLost();
        for (const waiter of this.pending.values()) waiter.reject(error);
        this.pending.clear();
        resolve();
      }),
    );
  }

  request(header: Omit<Header, 'id'>, payloads: readonly Uint8Array[] = []): Promise<Message> {
    if (!this.alive) return Promise.reject(this.fatal ?? connectionLost());
    const id = this.nextId++;
    let buffers: Buffer[];
    try {
      buffers = encodeFrame({ ...header, id }, payloads);
    } catch (error) {
      return Promise.reject(error);
    }
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.byteLength;
    if (bytes > this.serverMax) return Promise.reject(tooLarge(bytes, this.serverMax));
    return new Promise<Message>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.cork();
      for (const buffer of buffers) this.socket.write(buffer);
      this.socket.uncork();
    });
  }

  /** Resolves when no request waits for its reply (or the connection is gone). */
  async settle(): Promise<void> {
    while (this.pending.size > 0 && this.alive) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * client(address): a Store<Uint8Array> whose data lives in a store shared by
 * serve() in another process or machine. Stack encoders and compressors on it,
 * so values cross the network already encoded: msgpack(zstd(client(addr))).
 */
export class ClientStore extends BytesStore {
  protected readonly layer = 'client';
  private connection?: Promise<Connection>;
  private readonly token?: string;
  private readonly maxMessageBytes: number;
  private readonly connectTimeoutMs: number;
  /** withLock sections running or waiting: other calls queue behind them. */
  private sections = 0;
  /** The connection the current withLock section holds the server's lock on. */
  private sectionConnection?: Connection;

  constructor(
    readonly address: string,
    opts: ClientOptions = {},
  ) {
    super();
    parseAddress(address);
    this.token = opts.token ?? process.env.LAMINATE_TOKEN;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
  }

  private connected(): Promise<Connection> {
    const current = this.connection;
    if (current) return current;
    const next = this.connect();
    this.connection = next;
    next.then(
      (connection) => void connection.closed.then(() => this.connection === next && (this.connection = undefined)),
      () => this.connection === next && (this.connection = undefined),
    );
    return next;
  }

  private async connect(): Promise<Connection> {
    const address = parseAddress(this.address);
    const deadline = performance.now() + this.connectTimeoutMs;
    for (;;) {
      const socket = await new Promise<Socket | NodeJS.ErrnoException>((resolve) => {
        const socket = address.kind === 'unix' ? connect(address.path) : connect(address.port, address.host);
        socket.once('connect', () => {
          socket.removeAllListeners('error');
          resolve(socket);
        });
        socket.once('error', (error) => resolve(error));
      });
      if (!(socket instanceof Error)) {
        const connection = new Connection(socket, this.maxMessageBytes);
        try {
          const hello = await connection.request({ op: 'hello', version: PROTOCOL_VERSION, ...(this.token === undefined ? {} : { token: this.token }) });
          if (typeof hello.header.maxMessageBytes === 'number') connection.serverMax = hello.header.maxMessageBytes;
        } catch (error) {
          socket.destroy();
          throw error;
        }
        return connection;
      }
      const retry = socket.code === 'ECONNREFUSED' || socket.code === 'ENOENT';
      if (!retry || performance.now() > deadline) {
        throw new LaminateError('ERR_CONNECTION', `Cannot connect to the laminate server at ${this.address}: ${socket.message}. Is serve() running there?`, { cause: socket });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Sends a request, in order with this client's withLock sections. */
  private async call(header: Omit<Header, 'id'>, payloads?: readonly Uint8Array[]): Promise<Message> {
    if (this.lock.holds() && this.sectionConnection) {
      const connection = this.sectionConnection;
      if (!connection.alive) throw new LaminateError('ERR_CONNECTION', 'The connection that held the server lock for this withLock section closed; the section is over.');
      return connection.request({ ...header, locked: true }, payloads);
    }
    if (this.sections > 0 && !this.lock.holds()) return this.lock.run(async () => (await this.connected()).request(header, payloads));
    return (await this.connected()).request(header, payloads);
  }

  override withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    if (this.lock.holds()) return fn();
    this.sections++;
    return this.lock
      .run(async () => {
        const connection = await this.connected();
        await connection.request({ op: 'lock' });
        this.sectionConnection = connection;
        try {
          return await fn();
        } finally {
          this.sectionConnection = undefined;
          // A closed connection released the lock on the server already.
          await connection.request({ op: 'unlock' }).catch(() => undefined);
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

  override async *iterId(id: KeyId): AsyncIterable<Uint8Array> {
    const { payloads } = await this.call({ op: 'iter', key: id });
    yield* payloads;
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

  protected async closeStore(): Promise<void> {
    const pending = this.connection;
    this.connection = undefined;
    const connection = await pending?.catch(() => undefined);
    if (!connection) return;
    await connection.settle();
    connection.socket.end();
    const timer = setTimeout(() => connection.socket.destroy(), 2000);
    await connection.closed;
    clearTimeout(timer);
  }

  describe(): StoreSpec {
    return { type: 'client', address: this.address };
  }
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
    const { address, token, maxMessageBytes, connectTimeoutMs } = spec as StoreSpec & ClientOptions & { address: string };
    return client(address, { token, maxMessageBytes, connectTimeoutMs });
  },
});
