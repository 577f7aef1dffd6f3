/**
 * Exactly-once changes across reconnects. A client names itself in `hello`
 * (`client`: a random id) and numbers its requests; when its connection drops
 * it sends the unanswered ones again on a new connection, with the same
 * numbers. The server remembers the outcome of each change by (client,
 * request id) until the client acknowledges it (`ack`: every request below
 * that id has been answered), so a resent change is answered, not applied
 * again.
 */
import type { Reply } from './dispatch.js';
import type { Header } from './protocol.js';

export type Outcome = { reply: Reply } | { error: unknown };

/** Requests that change the store: a client's resent copy must not apply them twice. */
export const CHANGES = new Set(['append', 'iset', 'delete', 'pop', 'drop']);

/** Remembered changes per client beyond which the oldest are forgotten (a client that never acknowledges cannot grow the server without bound). */
const MAX_REMEMBERED = 100_000;

export interface Session {
  readonly client: string;
  /** Outcomes of changes not yet acknowledged, by request id. */
  readonly outcomes: Map<number, Promise<Outcome>>;
  /** Every change below this id has been answered and acknowledged: a copy of one is stale. */
  floor: number;
  connections: number;
  expiry?: NodeJS.Timeout;
}

const STALE: Promise<Outcome> = Promise.resolve({ reply: { header: { duplicate: true } } });

export class Sessions {
  private readonly byClient = new Map<string, Session>();
  /** Changes answered from memory because a reconnecting client sent them again. */
  duplicates = 0;

  constructor(private readonly ttlMs: number) {}

  get size(): number {
    return this.byClient.size;
  }

  join(client: string): Session {
    let session = this.byClient.get(client);
    if (session === undefined) {
      session = { client, outcomes: new Map(), floor: 0, connections: 0 };
      this.byClient.set(client, session);
    }
    clearTimeout(session.expiry);
    session.expiry = undefined;
    session.connections++;
    return session;
  }

  /** A connection of the session closed; with none left, the session is forgotten after the TTL. */
  leave(session: Session): void {
    session.connections--;
    if (session.connections > 0) return;
    session.expiry = setTimeout(() => {
      if (session.connections === 0) this.byClient.delete(session.client);
    }, this.ttlMs);
    session.expiry.unref();
  }

  /**
   * The outcome of a request: `run()`'s, except for a change a reconnecting
   * client sent again, which is answered with its first copy's outcome
   * instead of being applied twice.
   */
  settle(session: Session | undefined, header: Header, run: () => Promise<Outcome>, change = typeof header.op === 'string' && CHANGES.has(header.op)): Promise<Outcome> {
    if (session === undefined) return run();
    if (!change) {
      this.acknowledge(session, header.ack);
      return run();
    }
    const seen = this.recall(session, header.id, header.ack);
    if (seen) this.duplicates++;
    return seen ?? this.remember(session, header.id, run());
  }

  /** Forgets what the client has acknowledged. */
  private acknowledge(session: Session, ack: unknown): void {
    if (typeof ack !== 'number' || !Number.isSafeInteger(ack) || ack <= session.floor) return;
    session.floor = ack;
    // Ids arrive in increasing order, so the acknowledged ones are at the front.
    for (const id of session.outcomes.keys()) {
      if (id >= ack) break;
      session.outcomes.delete(id);
    }
  }

  /** The outcome of an earlier copy of change `id`, or undefined when this is the first. */
  private recall(session: Session, id: number, ack: unknown): Promise<Outcome> | undefined {
    this.acknowledge(session, ack);
    if (id < session.floor) return STALE;
    return session.outcomes.get(id);
  }

  private remember(session: Session, id: number, outcome: Promise<Outcome>): Promise<Outcome> {
    session.outcomes.set(id, outcome);
    if (session.outcomes.size > MAX_REMEMBERED) session.outcomes.delete(session.outcomes.keys().next().value as number);
    return outcome;
  }

  clear(): void {
    for (const session of this.byClient.values()) clearTimeout(session.expiry);
    this.byClient.clear();
  }
}
