import type { Cluster, Redis } from 'ioredis';
import { type ChangeWatch, pollingWatch } from '@laminate/core/layer';

/**
 * How a redis() follower learns of appends made by other processes as they
 * happen: every append and seal script publishes an empty message on the
 * key's shard channel (SPUBLISH, scripts.ts), and followers subscribe to it
 * (SSUBSCRIBE) on a connection of their store's own.
 *
 * Why a channel the scripts publish on, and not keyspace notifications or a
 * Redis stream per key: keyspace notifications need `notify-keyspace-events`
 * set on the server, which a user may not be allowed to change, and a
 * stream per key would keep an entry per append in Redis's memory. A shard
 * channel needs nothing from the server, costs an append nothing when no one
 * listens, and on a cluster stays on the key's own master (a plain PUBLISH is
 * sent to every node of the cluster).
 *
 * A message is not stored: one sent while the subscriber is reconnecting is
 * lost. So a follower still looks every 250 ms while its channel is
 * subscribed, and every 20 ms while it is not (the subscription is not yet
 * confirmed, the connection is down, or the server refused it). Once the
 * channels are subscribed again after a reconnect, every follower looks at
 * once, which finds what was appended meanwhile.
 */

/** How often a follower whose channel is subscribed looks anyway: a message can be lost on a reconnect. */
const NOTIFIED_POLL_MS = 250;
/** How often a follower whose channel is not subscribed (yet, or any more) looks. */
const UNNOTIFIED_POLL_MS = 20;

export class KeyNotifier {
  private subscriber?: Redis | Cluster;
  /** The wake functions of the followers of each channel. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** The channels Redis confirmed since the subscriber last (re)connected. */
  private readonly subscribed = new Set<string>();
  private closed = false;

  constructor(
    /** Makes the subscriber connection (connection.ts), on the first follower's watch. */
    private readonly open: () => Redis | Cluster,
  ) {}

  /**
   * A watch of `channel`: wakes on its messages, on news in this process,
   * and every `pollMs` (given by the follower) or as the subscription's state
   * says (250 ms subscribed, 20 ms not).
   */
  watch(channel: string, pollMs?: number): ChangeWatch {
    // A follower that starts reading once its store is closed ends at its first look (ERR_CLOSED): no connection for it.
    if (this.closed) return pollingWatch(pollMs ?? UNNOTIFIED_POLL_MS);
    const inner = pollingWatch(pollMs ?? NOTIFIED_POLL_MS, (wake) => this.add(channel, wake));
    return {
      next: (ms, signal) => inner.next(pollMs !== undefined || this.subscribed.has(channel) ? ms : Math.min(ms, UNNOTIFIED_POLL_MS), signal),
      close: () => inner.close(),
    };
  }

  /** Closes the subscriber connection; followers still waiting poll until they end. */
  close(): void {
    this.closed = true;
    const subscriber = this.subscriber;
    this.subscribed.clear();
    if (!subscriber) return;
    subscriber.removeAllListeners();
    subscriber.on('error', () => undefined);
    subscriber.disconnect();
  }

  private add(channel: string, wake: () => void): () => void {
    let wakes = this.waiters.get(channel);
    if (!wakes) {
      this.waiters.set(channel, (wakes = new Set()));
      this.subscribe(channel);
    }
    wakes.add(wake);
    const own = wakes;
    return () => {
      own.delete(wake);
      if (own.size > 0 || this.waiters.get(channel) !== own) return;
      this.waiters.delete(channel);
      this.subscribed.delete(channel);
      this.subscriber?.sunsubscribe(channel).catch(() => undefined);
    };
  }

  /**
   * SSUBSCRIBE, one channel a call (a cluster refuses channels of several
   * slots in one). Once confirmed, the channel's followers look again: an
   * append that landed before the subscription took effect sent its message
   * to no one.
   */
  private subscribe(channel: string): void {
    this.connection()
      .ssubscribe(channel)
      .then(
        () => {
          if (!this.waiters.has(channel)) return;
          this.subscribed.add(channel);
          this.wake(channel);
        },
        // Not subscribed (the server refused, or the connection failed): its followers poll every 20 ms.
        () => undefined,
      );
  }

  private wake(channel: string): void {
    for (const wake of this.waiters.get(channel) ?? []) wake();
  }

  private connection(): Redis | Cluster {
    if (this.subscriber) return this.subscriber;
    const subscriber = (this.subscriber = this.open());
    subscriber.on('smessage', (channel: string) => this.wake(channel));
    // Lost messages: while the connection is down (a cluster: one of its subscribers or nodes), followers poll every 20 ms.
    subscriber.on('close', () => this.subscribed.clear());
    subscriber.on('-node', () => this.subscribed.clear());
    // Connected again (a single server's connection, or a cluster's subscribers after a slot map change):
    // subscribe every channel again; each, once confirmed, wakes its followers.
    const again = () => {
      for (const channel of this.waiters.keys()) this.subscribe(channel);
    };
    subscriber.on('ready', again);
    subscriber.on('subscribersReady', again);
    return subscriber;
  }
}
