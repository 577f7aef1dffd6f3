import { type Consumer, LaminateError, type StoreSpec, type Supports } from '@laminate/core';
import { BytesStore, type FollowRequest, type Followed, type IdRange, type KeyId, SectionGate, registerLayer, typeError } from '@laminate/core/layer';
import { followRemote } from './follow-remote.js';
import type { ClientConnection } from './client-connection.js';
import { type ClientOptions, clientSettings } from './client-options.js';
import { type Header, type Message, parseAddress } from './protocol.js';
import { RequestPipeline } from './request-pipeline.js';

export type { ClientOptions } from './client-options.js';

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
  private readonly pipeline: RequestPipeline;
  /** Calls go straight to the pipeline, but wait for this client's withLock sections. */
  private readonly gate = new SectionGate(this.lock);
  /** The connection the current withLock section holds the server's lock on. */
  private sectionConnection?: ClientConnection;

  constructor(
    readonly address: string,
    private readonly opts: ClientOptions = {},
  ) {
    super();
    parseAddress(address);
    this.pipeline = new RequestPipeline(clientSettings(address, opts));
  }

  /**
   * The data lives in the server, so a client opened again finds it. Whether
   * iter() keeps the appended values apart is the served store's to say (dict()
   * does, file() does not), so a client promises only their concatenation.
   */
  override get supports(): Supports {
    return { reopen: true, iterChunks: false };
  }

  /** Sends a request, in order with this client's withLock sections. */
  private call(header: Omit<Header, 'id'>, payloads?: readonly Uint8Array[]): Promise<Message> {
    if (this.lock.holds() && this.sectionConnection) return this.pipeline.submit({ ...header, locked: true }, payloads, this.sectionConnection);
    return this.gate.call(() => this.pipeline.submit(header, payloads));
  }

  override withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    const acquire = async () => {
      const connection = await this.pipeline.connected();
      await this.pipeline.submit({ op: 'lock' }, [], connection);
      this.sectionConnection = connection;
      return async () => {
        this.sectionConnection = undefined;
        // A closed connection released the lock on the server already.
        if (connection.alive) await this.pipeline.submit({ op: 'unlock' }, [], connection).catch(() => undefined);
      };
    };
    return this.gate.section(acquire, fn);
  }

  /**
   * One request of an op the server was given with serve(store, { ops }),
   * such as `tables.read`: its header fields and payloads in, the reply's
   * out. An error reply rejects with its LaminateError. Like every request it
   * is sent again on a new connection if the old one drops.
   */
  async request(op: string, fields: Record<string, unknown> = {}, payloads: readonly Uint8Array[] = []): Promise<{ header: Record<string, unknown>; payloads: Uint8Array[] }> {
    this.assertOpen();
    if (typeof op !== 'string' || !op.includes('.')) throw typeError('ERR_INVALID_OPTION', `request() names an op a package added to the server, such as "tables.read"; got ${JSON.stringify(op)}.`);
    const { header, payloads: out } = await this.call({ ...fields, op }, payloads);
    const { id: _id, ok: _ok, sizes: _sizes, ...rest } = header;
    return { header: rest, payloads: out };
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
  override async readRangeIds(ranges: readonly IdRange[]): Promise<Uint8Array[]> {
    const wire = ranges.map(({ id, offset, length }) => [id, offset, length === Infinity ? null : length]);
    const { payloads } = await this.call({ op: 'ranges', ranges: wire });
    if (payloads.length !== ranges.length) throw badReply('ranges');
    return payloads;
  }

  /** Streams the key's chunks a batch at a time; the batches after the first come from the same connection. */
  override async *iterId(id: KeyId): AsyncIterable<Uint8Array> {
    let reply = await this.call({ op: 'iter', key: id });
    const connection = this.pipeline.connection;
    let cursor = reply.header.cursor;
    try {
      for (;;) {
        yield* reply.payloads;
        if (cursor === undefined) return;
        reply = await this.pipeline.submit({ op: 'iter', cursor }, [], connection);
        cursor = reply.header.cursor;
      }
    } finally {
      // Stopped early: let the server close its cursor.
      if (cursor !== undefined && connection?.alive) void this.pipeline.submit({ op: 'iter', cursor, cancel: true }, [], connection).catch(() => undefined);
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

  // Streams: the server answers each piece as it lands (follow-remote.ts), and keeps the seals.
  override followId(id: KeyId, request: FollowRequest): AsyncIterable<Followed<Uint8Array>> {
    return followRemote((header) => this.call(header), id, request);
  }

  override async sealId(id: KeyId): Promise<void> {
    await this.call({ op: 'seal', key: id });
  }

  override async sealedId(id: KeyId): Promise<number | undefined> {
    const { header } = await this.call({ op: 'follow', key: id, offset: 0, max: 0, waitMs: 0 });
    return typeof header.sealed === 'number' ? header.sealed : undefined;
  }

  override async lengthId(id: KeyId): Promise<number> {
    const { header } = await this.call({ op: 'follow', key: id, offset: 'end', max: 0, waitMs: 0 });
    return header.offset as number;
  }

  // Retention (retention-ops.ts): the server's store keeps the consumers and the start.
  override async commitId(id: KeyId, consumer: string, position: number): Promise<void> {
    await this.call({ op: 'commit', key: id, consumer, position });
  }

  /** One request: the server commits and trims. */
  override async commitAndTrimId(id: KeyId, consumer: string, position: number): Promise<void> {
    await this.call({ op: 'commit', key: id, consumer, position, trim: true });
  }

  override async consumersId(id: KeyId): Promise<Consumer[]> {
    const { header } = await this.call({ op: 'consumers', key: id });
    const consumers = header.consumers;
    if (!Array.isArray(consumers) || !consumers.every((c) => typeof c?.consumer === 'string' && typeof c?.position === 'number')) throw badReply('consumers');
    return consumers as Consumer[];
  }

  override async forgetId(id: KeyId, consumer: string): Promise<void> {
    await this.call({ op: 'forget', key: id, consumer });
  }

  override async trimId(id: KeyId, position?: number): Promise<void> {
    await this.call({ op: 'trim', key: id, ...(position === undefined ? {} : { position }) });
  }

  override async startId(id: KeyId): Promise<number> {
    const { header } = await this.call({ op: 'start', key: id });
    if (typeof header.start !== 'number') throw badReply('start');
    return header.start;
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
  protected closeStore(): Promise<void> {
    return this.pipeline.close();
  }

  /** The address and the options given, but never the token: a spec is often printed or logged. */
  describe(): StoreSpec {
    const spec: StoreSpec = { type: 'client', address: this.address };
    for (const name of DESCRIBED) if (this.opts[name] !== undefined) spec[name] = this.opts[name];
    return spec;
  }
}

function badReply(op: string): LaminateError {
  return new LaminateError('ERR_PROTOCOL', `The server's reply to "${op}" does not match the request.`);
}

export function client(address: string, opts: ClientOptions = {}): ClientStore {
  if (typeof address !== 'string') throw typeError('ERR_INVALID_OPTION', 'client() takes an address such as "tcp://127.0.0.1:7070" or "unix:///run/laminate.sock".');
  return new ClientStore(address, opts);
}

const DESCRIBED = ['maxMessageBytes', 'connectTimeoutMs', 'maxBytesInFlight'] as const;

// The opener also takes a token (the short form `client(ADDR, token=…)`), which describe() leaves out.
registerLayer('client', {
  positional: 'address',
  options: [...DESCRIBED, 'token'],
  open: (spec) => {
    const { type: _type, address, ...opts } = spec;
    return client(address as string, opts as ClientOptions);
  },
});
