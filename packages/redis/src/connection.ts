// The ioredis connection, apart from the options: the declarations a user's
// tsc reads for redis() then never load ioredis's own (large) ones.
import { Cluster, type ClusterNode, Redis, type RedisOptions as IORedisOptions } from 'ioredis';
import type { RedisSettings } from './options.js';

/**
 * The ioredis connection (or, for `purpose` 'subscriber', the one followers'
 * shard channels are subscribed on): lazy (a store that is only described never
 * connects), retrying a dropped connection for connectTimeoutMs. Its resending of
 * commands in flight is left on: the append script makes a resend harmless.
 */
export function connect(settings: RedisSettings, purpose: 'commands' | 'subscriber' = 'commands'): Redis | Cluster {
  // ioredis counts attempts from 1 after each loss: give up connectTimeoutMs after the first failed one.
  let since = 0;
  const retryStrategy = (attempt: number) => {
    if (attempt === 1) since = Date.now();
    return Date.now() - since > settings.connectTimeoutMs ? null : Math.min(50 * attempt, 500);
  };
  const common: IORedisOptions = {
    lazyConnect: true,
    // Measured here, automatic pipelining made appends slower (6 k/s against 12 k/s with 64 calls in
    // flight): commands written as they come already share the socket's writes.
    enableAutoPipelining: false,
    username: settings.username,
    password: settings.password,
    connectTimeout: settings.connectTimeoutMs,
    maxRetriesPerRequest: null,
    retryStrategy,
    ...(settings.tls ? { tls: {} } : {}),
  };
  if (!settings.cluster) {
    const url = new URL(settings.urls[0]);
    // A subscriber subscribes again itself after a reconnect (notify.ts), and then knows when it is done.
    return quiet(new Redis({ ...common, host: url.hostname, port: Number(url.port || 6379), ...(purpose === 'subscriber' ? { autoResubscribe: false } : {}) }));
  }
  const nodes: ClusterNode[] = settings.urls.map((text) => {
    const url = new URL(text);
    return { host: url.hostname, port: Number(url.port || 6379) };
  });
  return quiet(new Cluster(nodes, {
    lazyConnect: true,
    enableAutoPipelining: false,
    redisOptions: { ...common, lazyConnect: false },
    clusterRetryStrategy: retryStrategy,
    // Slots move during resharding: ioredis follows MOVED/ASK for single commands; the layer retries what surfaces.
    maxRedirections: 32,
    retryDelayOnMoved: 10,
    retryDelayOnTryAgain: 50,
    retryDelayOnClusterDown: 100,
    // Shard channels live on the master of their slot: ioredis keeps a subscriber per master and moves channels with their slots.
    ...(purpose === 'subscriber' ? { shardedSubscribers: true } : {}),
  }));
}

/** A connection's failures reach the caller through the commands they fail; the event would only print them. */
function quiet<C extends Redis | Cluster>(connection: C): C {
  connection.on('error', () => undefined);
  return connection;
}
