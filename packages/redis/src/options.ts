import { typeError } from '@laminate/core/layer';

/** Where the store lives: a URL (`redis://host:6379/namespace`, `rediss://` for TLS) or a cluster's seed URLs. */
export type RedisTarget = string | { cluster: readonly string[]; namespace?: string };

export interface RedisStoreOptions {
  /** The store's namespace (default: the URL's path, else "laminate"); drop() empties only it. */
  namespace?: string;
  /** ACL user; defaults to the URL's user, then LAMINATE_REDIS_USERNAME. Never part of describe(). */
  username?: string;
  /** Password; defaults to the URL's password, then LAMINATE_REDIS_PASSWORD. Never part of describe(). */
  password?: string;
  /** A key's bytes are kept in Redis strings of at most this size (Redis caps a string at 512 MB); default 256 MiB. */
  segmentBytes?: number;
  /** Bytes of appends sent and not yet acknowledged before further appends wait; default 64 MiB. */
  maxBytesInFlight?: number;
  /** After each append call, wait until this many replicas hold it (Redis WAIT); default 0. */
  waitReplicas?: number;
  /** How long WAIT waits for the replicas, in ms; default 1000. */
  waitTimeoutMs?: number;
  /** withLock's lock expires this long after its holder stops renewing it (a crashed process), in ms; default 10000. */
  lockTtlMs?: number;
  /** How long to keep trying to reach Redis before a call fails with ERR_CONNECTION, in ms; default 10000. */
  connectTimeoutMs?: number;
}

/** The options describe() records (every one but the credentials). */
export const DESCRIBED = ['segmentBytes', 'maxBytesInFlight', 'waitReplicas', 'waitTimeoutMs', 'lockTtlMs', 'connectTimeoutMs'] as const;

export interface RedisSettings {
  /** The URLs without credentials or path: one for a single server, the seeds of a cluster. */
  readonly urls: readonly string[];
  readonly cluster: boolean;
  readonly namespace: string;
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
  readonly segmentBytes: number;
  readonly maxBytesInFlight: number;
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
  readonly lockTtlMs: number;
  readonly connectTimeoutMs: number;
}

function invalid(message: string): Error {
  return typeError('ERR_INVALID_OPTION', message);
}

function parseUrl(text: unknown): URL {
  const url = typeof text === 'string' && URL.canParse(text) ? new URL(text) : undefined;
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
    throw invalid(`redis() takes a URL such as "redis://127.0.0.1:6379/my-namespace" ("rediss://" for TLS) or { cluster: ["redis://host:7000", …] }; got ${JSON.stringify(text)}.`);
  }
  return url;
}

function whole(name: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(`redis(): ${name} must be a whole number from ${min} to ${max}; got ${String(value)}.`);
  return value;
}

export function redisSettings(target: RedisTarget, opts: RedisStoreOptions): RedisSettings {
  const cluster = typeof target === 'object' && target !== null;
  // The short form gives a cluster's URLs as one comma-separated value.
  const listed = cluster ? (target.cluster as unknown) : [target];
  const seeds = typeof listed === 'string' ? listed.split(',') : listed;
  if (!Array.isArray(seeds) || seeds.length === 0) throw invalid('redis({ cluster }) takes the URLs of one or more cluster nodes, such as ["redis://10.0.0.1:7000"].');
  const urls = seeds.map(parseUrl);
  const first = urls[0];
  const path = decodeURIComponent(first.pathname.replace(/^\//, ''));
  const given = opts.namespace ?? (cluster ? target.namespace : undefined);
  if (given !== undefined && path && given !== path) throw invalid(`redis(): the URL names namespace "${path}" and the options "${given}"; give it once.`);
  const namespace = given ?? (path || 'laminate');
  if (typeof namespace !== 'string' || namespace.length === 0) throw invalid('redis(): namespace must be a non-empty string.');
  if (urls.some((url) => url.protocol !== first.protocol)) throw invalid('redis({ cluster }): use redis:// or rediss:// for every node, not both.');
  return {
    urls: urls.map((url) => `${url.protocol}//${url.host}`),
    cluster,
    namespace,
    username: opts.username ?? (decodeURIComponent(first.username) || process.env.LAMINATE_REDIS_USERNAME || undefined),
    password: opts.password ?? (decodeURIComponent(first.password) || process.env.LAMINATE_REDIS_PASSWORD || undefined),
    tls: first.protocol === 'rediss:',
    // 512 MB is Redis's own cap on a string (proto-max-bulk-len).
    segmentBytes: whole('segmentBytes', opts.segmentBytes, 256 * 2 ** 20, 1, 512 * 2 ** 20),
    maxBytesInFlight: whole('maxBytesInFlight', opts.maxBytesInFlight, 64 * 2 ** 20, 1),
    waitReplicas: whole('waitReplicas', opts.waitReplicas, 0, 0),
    waitTimeoutMs: whole('waitTimeoutMs', opts.waitTimeoutMs, 1000, 0),
    lockTtlMs: whole('lockTtlMs', opts.lockTtlMs, 10_000, 100),
    connectTimeoutMs: whole('connectTimeoutMs', opts.connectTimeoutMs, 10_000, 1),
  };
}
