import { DEFAULT_MAX_MESSAGE_BYTES } from './protocol.js';

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

/** A client's options with their defaults filled in. */
export interface ClientSettings {
  readonly address: string;
  readonly token?: string;
  readonly maxMessageBytes: number;
  readonly connectTimeoutMs: number;
  readonly maxBytesInFlight: number;
}

export function clientSettings(address: string, opts: ClientOptions): ClientSettings {
  return {
    address,
    token: opts.token ?? process.env.LAMINATE_TOKEN,
    maxMessageBytes: opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
    maxBytesInFlight: opts.maxBytesInFlight ?? 16 << 20,
  };
}
