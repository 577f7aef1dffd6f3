/**
 * The client's requests on their way to the server: queued in id order, sent
 * while the window of bytes in flight has room, and, when a connection drops,
 * sent again on the next one with the same ids and in the same order, so the
 * server can answer a change it already applied from memory.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { LaminateError } from '@laminate/core';
import type { ClientSettings } from './client-options.js';
import { ClientConnection, FINAL, connectionLost, greet } from './client-connection.js';
import { dial, unreachable } from './dial.js';
import { endSocket } from './end-socket.js';
import { type Header, type Message, byteLength, errorFromWire } from './protocol.js';

/** One request from the call that made it until its reply. */
interface Request {
  /** The request id, unique for this client across its connections. */
  readonly id: number;
  readonly header: Omit<Header, 'id'>;
  readonly payloads: readonly Uint8Array[];
  readonly bytes: number;
  /** Requests that belong to one connection (a withLock section's, a cursor's) fail with it instead of being sent again. */
  readonly pinned?: ClientConnection;
  readonly resolve: (message: Message) => void;
  readonly reject: (error: Error) => void;
}

export class RequestPipeline {
  /** Names this client to the server across reconnects, for deduplication. */
  private readonly clientId = randomBytes(16).toString('base64url');
  private nextId = 1;
  private current?: ClientConnection;
  private connecting?: Promise<void>;
  /** Sent and not yet answered, in the order sent. */
  private readonly outstanding = new Map<number, Request>();
  private outstandingBytes = 0;
  /** Not yet sent (no connection, or too much in flight), in id order. */
  private waiting: Request[] = [];
  /** Set once close() has finished: no more connections. */
  private shut = false;

  constructor(private readonly settings: ClientSettings) {}

  /** The connection requests go on now, if there is one. */
  get connection(): ClientConnection | undefined {
    return this.current;
  }

  /** Queues a request; it is sent when connected and the window has room, and again after a reconnect until answered. */
  submit(header: Omit<Header, 'id'>, payloads: readonly Uint8Array[] = [], pinned?: ClientConnection): Promise<Message> {
    const bytes = byteLength(payloads);
    return new Promise<Message>((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, header, payloads, bytes, pinned, resolve, reject });
      this.pump();
    });
  }

  /** Sends what waits, while the window has room (one request always goes, however large). */
  private pump(): void {
    const connection = this.current;
    if (connection === undefined || !connection.alive) {
      if (this.waiting.length > 0) this.reconnect();
      return;
    }
    // The server is closing this connection; what waits goes on the next one.
    if (connection.draining) return;
    while (this.waiting.length > 0) {
      const request = this.waiting[0];
      if (this.outstanding.size > 0 && this.outstandingBytes + request.bytes > this.settings.maxBytesInFlight) return;
      this.waiting.shift();
      if (request.pinned !== undefined && request.pinned !== connection) {
        request.reject(new LaminateError('ERR_CONNECTION', 'The connection this request belonged to (a withLock section or an iter) closed; it was not sent again.'));
        continue;
      }
      // `ack`: every request below it has been answered, so the server may forget their outcomes.
      const ack = this.outstanding.size > 0 ? this.outstanding.keys().next().value! : request.id;
      try {
        connection.send(request.id, { ...request.header, ack }, request.payloads);
      } catch (error) {
        request.reject(error as Error);
        continue;
      }
      this.outstanding.set(request.id, request);
      this.outstandingBytes += request.bytes;
    }
  }

  private onReply(connection: ClientConnection, { header, payloads }: Message): void {
    const request = this.outstanding.get(header.id);
    if (request === undefined || connection !== this.current) return;
    this.outstanding.delete(header.id);
    this.outstandingBytes -= request.bytes;
    if (header.error === undefined) request.resolve({ header, payloads });
    else {
      const error = errorFromWire(header.error);
      // A closing server refused it before running it: safe to send again once a server listens,
      // and nothing more goes on this connection.
      if ((error as LaminateError).code === 'ERR_CLOSED' && request.pinned === undefined) {
        connection.draining = true;
        this.requeue([request]);
      } else request.reject(error);
    }
    this.pump();
  }

  /** The connection closed: what it left unanswered is sent again on the next one, unless it cannot be. */
  private onClose(connection: ClientConnection): void {
    if (this.current !== connection) return;
    this.current = undefined;
    const unanswered = [...this.outstanding.values()];
    this.outstanding.clear();
    this.outstandingBytes = 0;
    const fatal = connection.fatal;
    const again: Request[] = [];
    for (const request of unanswered) {
      if (fatal && FINAL.has((fatal as LaminateError).code)) request.reject(fatal);
      else if (request.pinned !== undefined) request.reject(connectionLost());
      else again.push(request);
    }
    this.requeue(again);
    this.pump();
  }

  private requeue(requests: Request[]): void {
    if (requests.length === 0) return;
    this.waiting = [...requests, ...this.waiting].sort((a, b) => a.id - b.id);
  }

  /** Connects (retrying until connectTimeoutMs) unless already connecting; on failure every waiting request fails. */
  private reconnect(): void {
    if (this.connecting || this.shut) return;
    const { address, connectTimeoutMs, token, maxMessageBytes } = this.settings;
    // The hello takes its id from the same sequence as the requests: ids stay increasing across connections.
    const hello = (socket: Socket) =>
      greet(socket, { id: this.nextId++, client: this.clientId, token, maxMessageBytes }, (connection, message) => this.onReply(connection, message));
    this.connecting = dial(address, connectTimeoutMs, hello)
      .then(
        (connection) => {
          this.current = connection;
          void connection.closed.then(() => this.onClose(connection));
        },
        (error: Error) => {
          const waiting = this.waiting;
          this.waiting = [];
          for (const request of waiting) request.reject(error);
        },
      )
      .finally(() => {
        this.connecting = undefined;
        this.pump();
      });
  }

  /** The current connection, once connected. */
  async connected(): Promise<ClientConnection> {
    for (;;) {
      if (this.current?.alive) return this.current;
      if (!this.connecting) this.reconnect();
      const attempt = this.connecting;
      if (attempt === undefined) throw new LaminateError('ERR_CLOSED', 'This client is closed.');
      await attempt;
      if (!this.current?.alive) throw unreachable(this.settings.address, new Error('no connection'));
    }
  }

  /** Waits for every request to be answered (or to fail), then closes the connection. */
  async close(): Promise<void> {
    while (this.outstanding.size > 0 || this.waiting.length > 0 || this.connecting) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.shut = true;
    const connection = this.current;
    this.current = undefined;
    if (!connection?.alive) return;
    await endSocket(connection.socket, connection.closed);
  }
}
