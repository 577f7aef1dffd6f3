import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LaminateError, type StoreSpec, type Supports } from '@laminate/core';
import { BytesStore, type ChangeWatch, type Consumer, type IdRange, type KeyId, SectionGate, byName, concatBytes, pastEnd, registerLayer, trimTarget, trimmedError, typeError } from '@laminate/core/layer';
import { BytesInFlight } from './flow.js';
import { RedisLock } from './lock.js';
import { Names, escapeName, hashSlot } from './names.js';
import { connect } from './connection.js';
import { KeyNotifier } from './notify.js';
import { DESCRIBED, type RedisSettings, type RedisStoreOptions, type RedisTarget, redisSettings } from './options.js';
import { laminateError, retried, sleep } from './retry.js';
import { type Connection, withScripts } from './scripts.js';

export type { RedisStoreOptions, RedisTarget } from './options.js';

/** The most bytes a script shared by several keys carries (applyMany): larger calls go as several. Exported for the tests that count the scripts a call costs. */
export const MANY_BYTES = 4 * 2 ** 20;

/** How long an append waits for an earlier one of this store to the same key when Redis has no record of this store there (it was dropped, or lost in a failover). */
const UNKNOWN_PRODUCER_WAIT_MS = 250;

/**
 * redis(url | { cluster }): a Store<Uint8Array> on Redis or Redis Cluster.
 * Each key's bytes live in Redis strings under the key's own hash tag, so a
 * store spreads over a cluster's masters.
 *
 * Appends are applied exactly once per key: each is a Lua script carrying this
 * store's producer id and a sequence number, which Redis records beside the
 * key, so a command resent after a dropped connection or retried after a
 * MOVED/ASK reply is recognized and skipped. A call's keys are applied each
 * on its own (one script per key): atomic per key, not across keys.
 *
 * Appended bytes are sent as they are (not copied) and must not change until
 * append() resolves; what get() returns is the caller's.
 */
export class RedisStore extends BytesStore {
  protected readonly layer = 'redis';
  override readonly freshGets = true;
  readonly settings: RedisSettings;
  private readonly names: Names;
  /** This store's producer id: its appends' sequence numbers count from 1 under it. */
  private readonly producer = randomBytes(9).toString('base64url');
  private sequence = 0;
  /** Per key, the sequence of this store's last append sent to it, which the next must follow. */
  private readonly lastSent = new Map<KeyId, number>();
  /** Sequences that failed or were fenced out: the append sent after one of them must not wait for it. */
  private readonly abandoned = new Set<number>();
  private readonly inFlight: BytesInFlight;
  private readonly redisLock: RedisLock;
  private connection?: Connection;
  /** Calls go straight to Redis, but wait for this store's withLock sections. */
  private readonly gate = new SectionGate(this.lock);
  /** Followers' change notifications, on a subscriber connection of their own (notify.ts). */
  private readonly notifier = new KeyNotifier(() => connect(this.settings, 'subscriber'));

  constructor(
    readonly target: RedisTarget,
    private readonly opts: RedisStoreOptions = {},
  ) {
    super();
    this.settings = redisSettings(target, opts);
    this.names = new Names(this.settings.namespace);
    this.inFlight = new BytesInFlight(this.settings.maxBytesInFlight);
    this.redisLock = new RedisLock(() => this.redis(), this.names.lock, this.names.fence, this.settings.lockTtlMs, this.settings.connectTimeoutMs);
  }

  /** The data lives in Redis, so a store opened again finds it; a key keeps its bytes, not the appended values apart. */
  override get supports(): Supports {
    return { reopen: true, iterChunks: false };
  }

  /** The connection, made on first use (a store that is only described never connects). */
  private redis(): Connection {
    this.connection ??= withScripts(connect(this.settings), !this.settings.cluster);
    return this.connection;
  }

  /** Runs a Redis call, retrying what a moving or failing-over slot answers. */
  private send<T>(call: (redis: Connection) => Promise<T>): Promise<T> {
    const redis = this.redis();
    // ioredis refreshes its slot map with a callback, and never rejects: the retry itself tells whether it helped.
    const moved = this.settings.cluster ? () => new Promise<void>((resolve) => (redis as Cluster).refreshSlotsCache(() => resolve())) : undefined;
    let attempts = 0;
    // A call retried once the store is closing (its connection is quitting) fails with ERR_CLOSED at once.
    return retried(
      () => {
        if (attempts++ > 0) this.assertOpen();
        return call(redis);
      },
      this.settings.connectTimeoutMs,
      moved,
    );
  }

  /** In order with this store's withLock sections: a call waits for a section that runs. */
  private queued<T>(fn: () => Promise<T>): Promise<T> {
    return this.gate.call(fn);
  }

  async appendIds(ids: readonly KeyId[], values: readonly Uint8Array[]): Promise<void> {
    const byKey = new Map<KeyId, Uint8Array[]>();
    let bytes = 0;
    for (let i = 0; i < ids.length; i++) {
      const list = byKey.get(ids[i]);
      if (list) list.push(values[i]);
      else byKey.set(ids[i], [values[i]]);
      bytes += values[i].byteLength;
    }
    await this.queued(async () => {
      // Inside this store's withLock section (a call made by its fn), appends carry the section's fencing token.
      const fence = this.lock.holds() ? this.redisLock.fence : undefined;
      await this.inFlight.take(bytes);
      try {
        // Every script is sent before the first await: each key's appends leave in call order.
        const applied: Promise<void>[] = [];
        const together: { id: KeyId; pieces: Buffer[] }[] = [];
        let togetherBytes = 0;
        for (const [id, chunks] of byKey) {
          const scripts = [...scriptBatches(chunks, this.settings.segmentBytes)];
          // On a single server, a call's keys of one script each go in shared scripts of up to MANY_BYTES.
          if (!this.settings.cluster && scripts.length === 1) {
            const size = scripts[0].reduce((sum, piece) => sum + piece.length, 0);
            if (together.length > 0 && togetherBytes + size > MANY_BYTES) applied.push(...this.applyMany(together.splice(0), fence));
            together.push({ id, pieces: scripts[0] });
            togetherBytes = together.length === 1 ? size : togetherBytes + size;
          } else for (const pieces of scripts) applied.push(this.applyOnce(id, pieces, fence));
        }
        applied.push(...this.applyMany(together, fence));
        const results = await Promise.allSettled(applied);
        const failed = results.find((result) => result.status === 'rejected');
        if (failed) throw laminateError((failed as PromiseRejectedResult).reason);
        if (this.settings.waitReplicas > 0) await this.waitForReplicas(byKey.keys());
      } finally {
        this.inFlight.give(bytes);
      }
    });
  }

  /**
   * One script call: `pieces` appended to `id` once, after this store's
   * previous append to `id`. A refusal because that one has not landed yet (it
   * is being retried) waits for it; after a drop, or a failover that lost
   * Redis's record of this store, nothing is coming, and the append goes ahead.
   */
  private applyOnce(id: KeyId, pieces: Buffer[], fence: number | undefined, sent?: { sequence: number; previous?: number; reply: Promise<number> }): Promise<void> {
    const { sequence, previous } = sent ?? this.nextSequence(id);
    const { meta, data } = this.names.of(id);
    // A single server's script also reads the fencing counter; a cluster's reaches only the key's slot.
    const names = this.settings.cluster ? [meta, data] : [meta, data, this.names.fence];
    const started = Date.now();
    let after = previous === undefined ? '' : String(previous);
    // The first reply may come from a script shared with other keys (applyMany); a retry goes alone.
    let shared = sent?.reply;
    const attempt = async (): Promise<void> => {
      for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
        const first = shared;
        shared = undefined;
        const reply = first ? await first : await this.send((redis) => redis.laminateAppend(names[0], names[1], ...names.slice(2), this.producer, sequence, after, this.settings.segmentBytes, fence ?? '', ...pieces));
        if (reply >= 0) return;
        if (reply === -3) {
          throw new LaminateError('ERR_LOCKED', `The append to ${JSON.stringify(id)} ran in a withLock section whose lock has since been taken by another holder (this process was paused or cut off from Redis past lockTtlMs), so it was refused and nothing was stored. Take the lock again and redo the section's work; raise lockTtlMs if sections stall that long.`, { key: id });
        }
        if (previous !== undefined && this.abandoned.delete(previous)) after = '';
        const patience = reply === -2 ? UNKNOWN_PRODUCER_WAIT_MS : this.settings.connectTimeoutMs;
        if (Date.now() - started > patience) after = '';
        await sleep(pause);
      }
    };
    return attempt().catch((error) => {
      // Refused, or whether it landed is unknown: the next append to the key must not wait for it.
      if (this.lastSent.get(id) === sequence) this.lastSent.delete(id);
      else this.abandoned.add(sequence);
      throw error;
    });
  }

  /** This store's next sequence number, as the next append to `id`, and the one it follows. */
  private nextSequence(id: KeyId): { sequence: number; previous?: number } {
    const sequence = ++this.sequence;
    const previous = this.lastSent.get(id);
    this.lastSent.set(id, sequence);
    return { sequence, previous };
  }

  /**
   * Several keys' appends in one script (single server): each key is still
   * applied on its own and checked as by applyOnce, which takes over a key
   * whose append must wait or be retried.
   */
  private applyMany(entries: readonly { id: KeyId; pieces: Buffer[] }[], fence: number | undefined): Promise<void>[] {
    if (entries.length === 0) return [];
    if (entries.length === 1) return [this.applyOnce(entries[0].id, entries[0].pieces, fence)];
    const names: string[] = [this.names.fence];
    const args: (string | number | Buffer)[] = [this.producer, fence ?? '', this.settings.segmentBytes];
    const sequences = entries.map(({ id, pieces }) => {
      const { meta, data } = this.names.of(id);
      const next = this.nextSequence(id);
      names.push(meta, data);
      args.push(next.sequence, next.previous ?? '', pieces.length, ...pieces);
      return next;
    });
    const replies = this.send((redis) => redis.laminateAppendMany(names.length, ...names, ...args));
    return entries.map(({ id, pieces }, j) => this.applyOnce(id, pieces, fence, { ...sequences[j], reply: replies.then((r) => r[j]) }));
  }

  /** WAIT on the masters the call wrote to: an append call resolves once waitReplicas replicas of each hold it. */
  private async waitForReplicas(ids: Iterable<KeyId>): Promise<void> {
    const { waitReplicas, waitTimeoutMs } = this.settings;
    for (const node of await this.mastersOf(ids)) {
      const acked = await node.wait(waitReplicas, waitTimeoutMs).catch((error: unknown) => Promise.reject(laminateError(error)));
      if (acked < waitReplicas) {
        throw new LaminateError('ERR_NOT_REPLICATED', `The append is stored on the master, but only ${acked} of the ${waitReplicas} replicas asked for confirmed it within ${waitTimeoutMs} ms, so a failover may lose it. Do not append it again (it would be stored twice); check the replicas or lower waitReplicas.`);
      }
    }
  }

  getIds(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    return this.queued(() =>
      Promise.all(
        ids.map((id) => {
          const { meta, data } = this.names.of(id);
          return this.send((redis) => redis.laminateReadBuffer(meta, data)).then(concatBytes);
        }),
      ),
    );
  }

  /** Reads only the bytes asked for (GETRANGE on the segments that hold them). */
  override readRangeIds(ranges: readonly IdRange[]): Promise<Uint8Array[]> {
    return this.queued(() =>
      Promise.all(
        ranges.map(({ id, offset, length }) => {
          const { meta, data } = this.names.of(id);
          return this.send((redis) => redis.laminateRangeBuffer(meta, data, offset, length === Infinity ? -1 : length)).then(concatBytes);
        }),
      ),
    );
  }

  async deleteIds(ids: readonly KeyId[]): Promise<void> {
    await this.queued(() =>
      Promise.all(
        ids.map((id) => {
          const { meta, data } = this.names.of(id);
          return this.send((redis) => redis.laminateDelete(meta, data));
        }),
      ),
    );
  }

  /** get + delete in one script: atomic without withLock. */
  override popId(id: KeyId): Promise<Uint8Array> {
    const { meta, data } = this.names.of(id);
    return this.queued(() => this.send((redis) => redis.laminatePopBuffer(meta, data)).then(concatBytes));
  }

  /** SCAN on every master (each sees only its own slots). */
  listIds(): Promise<KeyId[]> {
    return this.queued(async () => {
      const ids = new Set<KeyId>();
      for (const name of await this.scan(this.names.dataPattern)) {
        const id = this.names.keyOf(name);
        if (id !== undefined) ids.add(id);
      }
      return [...ids];
    });
  }

  async isetId(id: KeyId, value: Uint8Array): Promise<void> {
    const name = this.names.of(id).iset;
    await this.queued(() => this.send((redis) => redis.set(name, asBuffer(value), 'NX')));
  }

  async igetId(id: KeyId): Promise<Uint8Array | undefined> {
    const name = this.names.of(id).iset;
    return (await this.queued(() => this.send((redis) => redis.getBuffer(name)))) ?? undefined;
  }

  /** Each key's length from its segments' (STRLEN), without reading its bytes. */
  override sizeIds(ids: readonly KeyId[]): Promise<number[]> {
    return this.queued(() =>
      Promise.all(
        ids.map((id) => {
          const { meta, data } = this.names.of(id);
          return this.send((redis) => redis.laminateLength(meta, data));
        }),
      ),
    );
  }

  // Streams (follow.ts). A seal is a string beside the key, under its tag (so in its slot), set NX by a
  // script that counts the key's length: the first seal wins across processes, and no append is half
  // counted. Followers hear of appends on the key's shard channel (notify.ts) and poll as a fallback.

  /** Wakes on the key's shard channel (SPUBLISH by every append and seal), polling as a fallback. */
  override watchId(id: KeyId, pollMs?: number): ChangeWatch {
    return this.notifier.watch(this.names.of(id).channel, pollMs);
  }

  /** Seals `id` at its length now, counted by the sealing script itself: no lock needed. */
  override async sealId(id: KeyId): Promise<void> {
    await this.sealScript(id, '');
  }

  /** Seals `id` at `length` (buffer() over redis() seals at its own length), unless it is sealed already. */
  override async sealAtId(id: KeyId, length?: number): Promise<void> {
    await this.sealScript(id, length ?? '');
  }

  private sealScript(id: KeyId, length: number | ''): Promise<string> {
    const { meta, data } = this.names.of(id);
    return this.queued(() => this.send((redis) => redis.laminateSeal(meta, data, length)));
  }

  override async sealedId(id: KeyId): Promise<number | undefined> {
    const name = this.names.of(id).seal;
    const text = await this.queued(() => this.send((redis) => redis.get(name)));
    if (text === null) return undefined;
    const length = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(length)) {
      throw new LaminateError('ERR_CORRUPT', `Redis's ${name} should hold the length at which key ${JSON.stringify(id)} was sealed, but holds something else: it was changed by hand. Delete that name to unseal the key, then seal it again.`, { key: id });
    }
    return length;
  }

  // Retention (retention.ts). The key's start is the meta hash's field 't', its consumers a hash beside it
  // under its tag; a trim rewrites the key's segments in one script, so a reader never sees half of one.

  /** The key's end as a position (start plus length) in one script: a trim cannot fall between the two. */
  override lengthId(id: KeyId): Promise<number> {
    const { meta, data } = this.names.of(id);
    return this.queued(() => this.send((redis) => redis.laminateEnd(meta, data)));
  }

  override async startId(id: KeyId): Promise<number> {
    const { meta } = this.names.of(id);
    return Number((await this.queued(() => this.send((redis) => redis.hget(meta, 't')))) ?? 0);
  }

  /** The start and the read in one script: a trim cannot fall between them. */
  override async readFollowedId(id: KeyId, offset: number, max: number): Promise<Uint8Array> {
    const { meta, data } = this.names.of(id);
    const [start, ...parts] = await this.queued(() => this.send((redis) => redis.laminateFollowRangeBuffer(meta, data, offset, max)));
    if (offset < Number(start.toString())) throw trimmedError(id, Number(start.toString()), offset);
    return concatBytes(parts);
  }

  override async commitId(id: KeyId, consumer: string, position: number): Promise<void> {
    const { meta, data } = this.names.of(id);
    const [done, end] = await this.queued(() => this.send((redis) => redis.laminateCommit(meta, data, consumer, position)));
    if (done !== 1) throw pastEnd(id, position, end);
  }

  override async consumersId(id: KeyId): Promise<Consumer[]> {
    const name = this.names.of(id).consumers;
    const positions = await this.queued(() => this.send((redis) => redis.hgetall(name)));
    return byName(Object.entries(positions).map(([consumer, position]) => ({ consumer, position: Number(position) })));
  }

  override async forgetId(id: KeyId, consumer: string): Promise<void> {
    const name = this.names.of(id).consumers;
    await this.queued(() => this.send((redis) => redis.hdel(name, consumer)));
  }

  /**
   * Decides from the key's start, end and consumers (one script), then trims
   * in a second script that first checks that none of them changed in a way
   * that would undo the decision; if one did, decides again.
   */
  override async trimId(id: KeyId, position?: number): Promise<void> {
    const { meta, data } = this.names.of(id);
    for (;;) {
      const [start, end, flat] = await this.queued(() => this.send((redis) => redis.laminateRetention(meta, data)));
      const consumers: Consumer[] = [];
      for (let i = 0; i < flat.length; i += 2) consumers.push({ consumer: flat[i], position: Number(flat[i + 1]) });
      const target = trimTarget(id, position, start, end, consumers);
      if (target === undefined) return;
      if ((await this.queued(() => this.send((redis) => redis.laminateTrim(meta, data, start, target)))) === 1) return;
    }
  }

  override withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.gate.section(() => this.redisLock.acquire(), fn);
  }

  /** Every name of the namespace but the lock (drop runs under it) and its fencing counter, on every master. */
  protected async dropAll(): Promise<void> {
    // The fencing counter stays too: a token handed out before the drop must stay older than every later one.
    const names = (await this.scan(this.names.all)).filter((name) => name !== this.names.lock && name !== this.names.fence);
    // One name per UNLINK: a cluster refuses a command whose names span slots.
    await Promise.all(names.map((name) => this.send((redis) => redis.unlink(name))));
    this.lastSent.clear();
  }

  private async scan(pattern: string): Promise<string[]> {
    const found = new Set<string>();
    for (const node of await this.masters()) {
      let cursor = '0';
      do {
        const [next, names] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000).catch((error: unknown) => Promise.reject(laminateError(error)));
        for (const name of names) found.add(name);
        cursor = next;
      } while (cursor !== '0');
    }
    return [...found];
  }

  /**
   * The masters holding the slots of `ids` in the cluster's slot map (every
   * master when the map does not name one: WAIT on more nodes only waits
   * longer). A master of the other keys need not have replicas up.
   */
  private async mastersOf(ids: Iterable<KeyId>): Promise<Redis[]> {
    const masters = await this.masters();
    if (!this.settings.cluster) return masters;
    const slots = (this.redis() as Cluster).slots;
    const wanted = new Set<string>();
    for (const id of ids) {
      const owner = slots[hashSlot(this.names.of(id).data)]?.[0];
      if (owner === undefined) return masters;
      wanted.add(owner);
    }
    const found = masters.filter((node) => wanted.has(`${node.options.host}:${node.options.port}`));
    return found.length === wanted.size ? found : masters;
  }

  /** The single server, or a cluster's masters (connecting first: a lazy cluster knows no nodes yet). */
  private async masters(): Promise<Redis[]> {
    const redis = this.redis();
    if (!this.settings.cluster) return [redis as Redis];
    const cluster = redis as Cluster;
    if (cluster.status === 'wait') await cluster.connect().catch((error: unknown) => Promise.reject(laminateError(error)));
    return cluster.nodes('master');
  }

  /** Waits for the replies of what was sent, then closes the connection. */
  protected async closeStore(): Promise<void> {
    this.notifier.close();
    const redis = this.connection;
    if (!redis) return;
    if (redis.status === 'wait' || redis.status === 'end') return redis.disconnect();
    await redis.quit().catch(() => redis.disconnect());
  }

  /** Where the store lives and the options given, never the credentials: a spec is often printed or logged. */
  describe(): StoreSpec {
    const { urls, cluster, namespace } = this.settings;
    const spec: StoreSpec = cluster ? { type: 'redis', cluster: [...urls], namespace } : { type: 'redis', url: `${urls[0]}/${escapeName(namespace)}` };
    for (const name of DESCRIBED) if (this.opts[name] !== undefined) spec[name] = this.opts[name];
    return spec;
  }
}

/** A Buffer over the same memory: ioredis sends a Buffer as bytes, but other Uint8Arrays as text. */
function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * A key's values of one call as script calls of at most `limit` bytes each
 * (a Redis command is capped too), a value larger than that cut into pieces.
 */
function* scriptBatches(chunks: readonly Uint8Array[], limit: number): Iterable<Buffer[]> {
  let batch: Buffer[] = [];
  let size = 0;
  for (const chunk of chunks) {
    const whole = asBuffer(chunk);
    let offset = 0;
    do {
      const piece = whole.subarray(offset, offset + limit);
      if (batch.length > 0 && size + piece.length > limit) {
        yield batch;
        batch = [];
        size = 0;
      }
      batch.push(piece);
      size += piece.length;
      offset += limit;
    } while (offset < whole.length);
  }
  if (batch.length > 0) yield batch;
}

export function redis(target: RedisTarget, opts: RedisStoreOptions = {}): RedisStore {
  if (typeof target !== 'string' && (typeof target !== 'object' || target === null)) {
    throw typeError('ERR_INVALID_OPTION', 'redis() takes a URL such as "redis://127.0.0.1:6379/my-namespace" or { cluster: ["redis://host:7000", …], namespace }.');
  }
  return new RedisStore(target, opts);
}

// The opener takes what describe() writes: the URL (whose path is the namespace), or a cluster's URLs and namespace.
registerLayer('redis', {
  positional: 'url',
  options: ['cluster', 'namespace', ...DESCRIBED],
  open: (spec) => {
    const { type: _type, url, cluster, namespace, ...opts } = spec;
    const target: RedisTarget = cluster !== undefined ? { cluster: cluster as string[], namespace: namespace as string | undefined } : (url as string);
    return redis(target, { ...(cluster === undefined && namespace !== undefined ? { namespace: namespace as string } : {}), ...(opts as RedisStoreOptions) });
  },
});
