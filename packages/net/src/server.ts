import { createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { type Server as NetServer, createServer } from 'node:net';
import { type BaseStore, LaminateError } from '@laminate/core';
import type { ServedOp } from './dispatch.js';
import { ServerFlow } from './flow-control.js';
import { type Address, formatAddress, parseAddress } from './protocol.js';
import { ServerConnection } from './server-connection.js';
import { type ServeOptions, type ServerLimits, checkServeOptions } from './server-options.js';
import { Sessions } from './sessions.js';

export type { ServeOptions } from './server-options.js';

/** What a server is doing, for monitoring and tests. */
export interface ServerStats {
  connections: number;
  /** Connections that have not yet said hello; each is closed after helloTimeoutMs. */
  awaitingHello: number;
  /** Clients whose recent requests are remembered for deduplication. */
  sessions: number;
  /**
   * Bytes the server holds for its connections: requests received and not
   * yet answered (partly received frames too, before and after hello), room
   * reserved for the replies of reads under way, replies not yet taken by
   * the socket, and what open iter cursors keep (their last batch, and a
   * chunk read for the next one).
   */
  bytesInFlight: number;
  /** The most `bytesInFlight` has been since the server started. */
  peakBytesInFlight: number;
  /** Connections not being read now, until their bytes drain. */
  pausedConnections: number;
  /** iter cursors open over all connections. */
  cursors: number;
  /** Requests answered from memory because a reconnecting client sent them again. */
  duplicates: number;
  /** Reads refused with ERR_TOO_LARGE before the store read them, the store having told their size. */
  refusedReads: number;
  /** Connections closed for saying no hello within helloTimeoutMs, or for being idle for idleTimeoutMs. */
  timedOut: number;
}

/** Shares `store` with clients until `close()`; returns once it listens. */
export async function serve(store: BaseStore<Uint8Array>, opts: ServeOptions = {}): Promise<Server> {
  const address = parseAddress(opts.listen ?? 'tcp://127.0.0.1:0');
  const limits = checkServeOptions(address, opts);
  const server = new Server(store, opts.token, limits);
  await server.listen(address);
  return server;
}

/** A store shared over a socket. */
export class Server {
  /** The bound address, with the port chosen when listening on port 0. */
  address = '';
  readonly maxMessageBytes: number;
  readonly sessions: Sessions;
  /** The bytes in flight over every connection (flow control). */
  readonly flow: ServerFlow;
  /** Requests answered from memory because a reconnecting client sent them again (stats().duplicates). */
  get duplicates(): number {
    return this.sessions.duplicates;
  }
  /** Reads refused before the store read them (stats().refusedReads). */
  refusedReads = 0;
  /** Connections closed for a hello or idle timeout (stats().timedOut). */
  timedOut = 0;
  /** Ops added with serve(store, { ops }). */
  get ops(): ReadonlyMap<string, ServedOp> {
    return this.limits.ops;
  }
  private readonly net: NetServer;
  private readonly connections = new Set<ServerConnection>();
  private closing?: Promise<void>;
  private readonly tokenDigest?: Buffer;

  constructor(
    readonly store: BaseStore<Uint8Array>,
    token: string | undefined,
    readonly limits: ServerLimits,
  ) {
    this.maxMessageBytes = limits.maxMessageBytes;
    this.sessions = new Sessions(limits.sessionTtlMs);
    this.flow = new ServerFlow(limits.maxTotalBytes);
    this.tokenDigest = token === undefined ? undefined : digest(token);
    this.net = createServer((socket) => {
      if (this.closing) return void socket.destroy();
      const connection = new ServerConnection(this, socket);
      this.connections.add(connection);
      socket.once('close', () => this.connections.delete(connection));
    });
  }

  listen(address: Address): Promise<void> {
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => reject(new LaminateError('ERR_CONNECTION', `Cannot listen on ${formatAddress(address)}: ${error.message}.`, { cause: error }));
      this.net.once('error', failed);
      const onListening = () => {
        this.net.off('error', failed);
        if (address.kind === 'unix') {
          // 'listening' is emitted before any connection is accepted, so no one connects before this.
          chmodSync(address.path, 0o600);
          this.address = formatAddress(address);
        } else {
          const bound = this.net.address();
          const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
          this.address = formatAddress({ kind: 'tcp', host: address.host, port });
        }
        resolve();
      };
      if (address.kind === 'unix') this.net.listen(address.path, onListening);
      else this.net.listen(address.port, address.host, onListening);
    });
  }

  /** Whether `token` is the server's token, compared in constant time. */
  accepts(token: unknown): boolean {
    if (this.tokenDigest === undefined) return true;
    if (typeof token !== 'string') return false;
    return timingSafeEqual(digest(token), this.tokenDigest);
  }

  stats(): ServerStats {
    let awaitingHello = 0;
    let cursors = 0;
    for (const connection of this.connections) {
      if (!connection.greeted) awaitingHello++;
      cursors += connection.cursors.size;
    }
    return {
      connections: this.connections.size,
      awaitingHello,
      sessions: this.sessions.size,
      bytesInFlight: this.flow.bytesInFlight,
      peakBytesInFlight: this.flow.peakBytesInFlight,
      pausedConnections: this.flow.pausedConnections,
      cursors,
      duplicates: this.sessions.duplicates,
      refusedReads: this.refusedReads,
      timedOut: this.timedOut,
    };
  }

  /** Stops accepting connections, finishes the requests in flight, then closes every connection. The store stays open. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.net.close(() => resolve()));
      await Promise.all([...this.connections].map((connection) => connection.finish()));
      await stopped;
      this.sessions.clear();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Tokens are compared as SHA-256 digests, so timingSafeEqual sees equal lengths whatever the client sent. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
