/**
 * Retention and consumer groups for live streams (follow.ts).
 *
 * A consumer is a name under which a reader of a key records how far it has
 * taken the key's values: `store.commit(key, consumer, position)`. The
 * positions are durable where the store is (file(): small files beside the
 * keys), so a consumer that stops, crashes or moves to another process
 * resumes from its committed position: `follow(key, { consumer })`. A
 * committed position only moves forward: committing a lower one keeps the
 * higher.
 *
 * Trimming drops a key's bytes from the front: `store.trim(key)` drops what
 * every registered consumer has passed (the lowest committed position), and
 * `follow(key, { consumer, trim: true })` does so on each commit, so that an
 * endless stream does not fill the disk. Positions stay absolute across a
 * trim: the key has a start, `get` returns the bytes from the start on, and
 * a position before the start is ERR_TRIMMED.
 *
 * The layers keep the consumers and the start (store.ts hooks: commitId,
 * consumersId, forgetId, trimId, startId); this module holds what they share:
 * the checks, the errors and the follower that commits.
 */
import { LaminateError, typeError } from './errors.js';
import { type FollowOptions, type FollowRequest, type Followed, Follower } from './follow.js';
import { type KeyId, showKey } from './keys.js';

/** A registered consumer of a key and the position it has committed. */
export interface Consumer {
  consumer: string;
  position: number;
}

/** follow()'s options with a consumer: resume from its committed position, and commit (and trim) as it goes. */
export interface ConsumerFollowOptions extends FollowOptions {
  /** The consumer's name: the follower starts at its committed position (else at `from`), and `commit()` records under it. */
  consumer?: string;
  /** With a consumer: each `commit()` also trims the key to the lowest position its consumers committed. */
  trim?: boolean;
}

/** The longest consumer name, in UTF-16 units: it becomes a file name. */
const MAX_CONSUMER = 200;

/** Throws ERR_INVALID_OPTION unless `consumer` is a name a store can keep. */
export function checkConsumer(consumer: unknown, what: string): asserts consumer is string {
  if (typeof consumer !== 'string' || consumer.length === 0 || consumer.length > MAX_CONSUMER || !(consumer as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw typeError('ERR_INVALID_OPTION', `${what}: the consumer must be a non-empty string of at most ${MAX_CONSUMER} characters that names the reader, such as 'indexer'; got ${shown(consumer)}.`);
  }
}

/** Throws ERR_INVALID_OPTION unless `position` is a position (a whole number of bytes, 0 or more). */
export function checkPosition(position: unknown, what: string): asserts position is number {
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) {
    throw typeError('ERR_INVALID_OPTION', `${what}: the position must be a whole number of bytes, 0 or more, such as a follower's position; got ${shown(position)}.`);
  }
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : String(value);
}

/** The error of a read from before a key's start: those bytes were trimmed. Carries the start as `start`. */
export function trimmedError(id: KeyId, start: number, asked: number): LaminateError {
  const error = new LaminateError(
    'ERR_TRIMMED',
    `Key ${showKey(id)}: values before position ${start} were trimmed (position ${asked} was asked for); resume from ${start} or later, e.g. follow(key, { from: 'start' }).`,
    { key: showKey(id), offset: asked },
  );
  return Object.assign(error, { start });
}

/** The refusal of a layer that keeps no consumers and cannot trim. */
export function notRetained(layer: string, what: string): LaminateError {
  return new LaminateError(
    'ERR_NOT_SUPPORTED',
    `${layer}() cannot ${what}. Consumer positions and trimming work over file(), dict(), buffer(), client() and redis(), and through the layers above them (msgpack, arrow, the compressors).`,
  );
}

/** The refusal of a trim that would drop what is not there, or what a registered consumer has not committed. */
export function badTrim(id: KeyId, position: number, why: string): LaminateError {
  return typeError('ERR_INVALID_OPTION', `trim(): key ${showKey(id)} cannot be trimmed to position ${position}: ${why}. Nothing was trimmed.`, { key: showKey(id), offset: position });
}

/** The refusal of a commit past the key's end: no follower gave that position. */
export function pastEnd(id: KeyId, position: number, length: number): LaminateError {
  return typeError('ERR_INVALID_OPTION', `commit(): position ${position} is past the end of key ${showKey(id)} (${length}); commit a position a follower gave. Nothing was committed.`, { key: showKey(id), offset: position });
}

/**
 * Where a trim goes, or undefined for none: `asked` when given (checked
 * against the key's length and its consumers), else the lowest committed
 * position. `start` and `length` are absolute positions.
 */
export function trimTarget(id: KeyId, asked: number | undefined, start: number, length: number, consumers: readonly Consumer[]): number | undefined {
  const lowest = consumers.length === 0 ? undefined : Math.min(...consumers.map((c) => c.position));
  if (asked === undefined) {
    if (lowest === undefined) return undefined;
    // A commit is never past the key's length when it is made; a key cut back since (repair) keeps what remains.
    const target = Math.min(lowest, length);
    return target > start ? target : undefined;
  }
  if (asked > length) throw badTrim(id, asked, `it holds positions ${start} to ${length}`);
  if (lowest !== undefined && asked > lowest) {
    const behind = consumers.filter((c) => c.position < asked).map((c) => `${JSON.stringify(c.consumer)} at ${c.position}`);
    throw badTrim(id, asked, `registered consumers have not passed it (${behind.join(', ')}); wait for them to commit, or forget(key, consumer) one that is gone`);
  }
  return asked > start ? asked : undefined;
}

/** Consumers sorted by name, as consumers() returns them. */
export function byName(consumers: Consumer[]): Consumer[] {
  return consumers.sort((a, b) => (a.consumer < b.consumer ? -1 : a.consumer > b.consumer ? 1 : 0));
}

/**
 * Consumer positions in this process's memory, for dict(): beside the store,
 * forgotten with it.
 */
export class MemoryConsumers {
  private readonly byKey = new Map<KeyId, Map<string, number>>();

  commit(id: KeyId, consumer: string, position: number): void {
    let positions = this.byKey.get(id);
    if (!positions) this.byKey.set(id, (positions = new Map()));
    positions.set(consumer, Math.max(position, positions.get(consumer) ?? 0));
  }

  list(id: KeyId): Consumer[] {
    return byName([...(this.byKey.get(id) ?? [])].map(([consumer, position]) => ({ consumer, position })));
  }

  forget(id: KeyId, consumer: string): void {
    this.byKey.get(id)?.delete(consumer);
  }

  /** Forgets the consumers of deleted keys, or of every key. */
  clear(ids?: readonly KeyId[]): void {
    if (ids === undefined) this.byKey.clear();
    else for (const id of ids) this.byKey.delete(id);
  }
}

/** What a follower with a consumer needs of its store. */
export interface RetainingStore {
  commitId(id: KeyId, consumer: string, position: number): Promise<void>;
  consumersId(id: KeyId): Promise<Consumer[]>;
  trimId(id: KeyId, position?: number): Promise<void>;
  commitAndTrimId(id: KeyId, consumer: string, position: number): Promise<void>;
  startId(id: KeyId): Promise<number>;
}

/** How store.follow() sets up a ConsumerFollower. */
export interface ConsumerFollowerOptions {
  /** from was 'start' (or left out): the key's start, read when iteration begins. */
  fromStart: boolean;
  consumer?: string;
  trim: boolean;
  /** The store's assertOpen(): a commit on a closed store is ERR_CLOSED. */
  assertOpen: () => void;
}

/**
 * A follower that may belong to a consumer. It starts where the consumer
 * committed (or at `from`; `from: 'start'` is the key's start, past what was
 * trimmed), and `commit()` records its position under the consumer's name,
 * trimming too when it was asked to.
 */
export class ConsumerFollower<V> extends Follower<V> {
  private readonly store: RetainingStore;
  private readonly id: KeyId;
  private readonly opts: ConsumerFollowerOptions;

  constructor(store: RetainingStore, id: KeyId, source: (request: FollowRequest) => AsyncIterable<Followed<V>>, request: FollowRequest, opts: ConsumerFollowerOptions) {
    const self: { follower?: ConsumerFollower<V> } = {};
    super((req) => self.follower!.resolved(source, req), request);
    self.follower = this;
    this.store = store;
    this.id = id;
    this.opts = opts;
    // Where it starts is known once iteration begins: the committed position or the start are read then.
    if (opts.consumer !== undefined || opts.fromStart) this.position = undefined;
  }

  /** The consumer's name, if it has one. */
  get consumer(): string | undefined {
    return this.opts.consumer;
  }

  private async *resolved(source: (request: FollowRequest) => AsyncIterable<Followed<V>>, request: FollowRequest): AsyncIterable<Followed<V>> {
    let fromStart = this.opts.fromStart;
    if (this.opts.consumer !== undefined) {
      const own = (await this.store.consumersId(this.id)).find((c) => c.consumer === this.opts.consumer);
      if (own !== undefined) {
        request.from = own.position;
        fromStart = false;
      }
    }
    for (let attempt = 0; ; attempt++) {
      if (fromStart) request.from = await this.store.startId(this.id);
      if (typeof request.from === 'number') this.position = request.from;
      let yielded = false;
      try {
        for await (const entry of source(request)) {
          yielded = true;
          yield entry;
        }
        return;
      } catch (error) {
        // A trim between reading the start and the first read: start again from the new start.
        if (!fromStart || yielded || (error as LaminateError).code !== 'ERR_TRIMMED' || attempt >= 100) throw error;
      }
    }
  }

  /**
   * Records the follower's position (or `position`, from `entries()`) under
   * its consumer's name, and, with `trim: true`, trims the key to the lowest
   * position its consumers committed. A consumer that resumes gets the
   * values after its committed position, so a value taken but not yet
   * committed comes again after a crash (at least once): commit once a value
   * is handled.
   */
  override async commit(position: number | undefined = this.position): Promise<void> {
    this.opts.assertOpen();
    const consumer = this.opts.consumer;
    if (consumer === undefined) throw typeError('ERR_INVALID_OPTION', "commit(): this follower has no consumer; follow(key, { consumer: 'name' }) to commit positions.");
    if (position === undefined) throw typeError('ERR_INVALID_OPTION', 'commit(): the follower has no position yet; take a value first, or pass a position.');
    checkPosition(position, 'commit()');
    await (this.opts.trim ? this.store.commitAndTrimId(this.id, consumer, position) : this.store.commitId(this.id, consumer, position));
  }
}
