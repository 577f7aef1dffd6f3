import type { Socket } from 'node:net';
import { LaminateError } from '@laminate/core';
import { CorkedWriter } from './corked-writer.js';
import { Cursors } from './cursors.js';
import { Deadlines } from './deadlines.js';
import { type Request, dispatch } from './dispatch.js';
import { endSocket } from './end-socket.js';
import { ConnectionFlow } from './flow-control.js';
import { HELLO_MAX_BYTES, checkHello, helloTooLarge } from './hello.js';
import { ConnectionLock } from './lock-section.js';
import { FrameReader, type Header, type Message, PROTOCOL_VERSION, byteLength, encodeFrame, errorToWire, tooLarge } from './protocol.js';
import { replyTooLarge } from './reply-size.js';
import type { Server } from './server.js';
import type { Outcome, Session } from './sessions.js';

/**
 * One client's socket on the server: its hello, its requests and their
 * replies. Frames are taken from the reader one at a time and their requests
 * started in the order they came; a read waits (and the frames behind it with
 * it) until the flow has room for its reply, so a client that sends reads
 * faster than it takes their replies stops being read instead of filling the
 * server's memory.
 */
export class ServerConnection {
  private readonly reader: FrameReader;
  private readonly writer: CorkedWriter;
  private readonly flow: ConnectionFlow;
  private readonly lock: ConnectionLock;
  readonly cursors: Cursors;
  private readonly deadlines: Deadlines;
  /** The hello was accepted. */
  greeted = false;
  private failed = false;
  private finishing = false;
  /** A request is waiting for its reply's size or for room; the frames after it wait too. */
  private waiting = false;
  /** Requests running in the store: a connection with one is not idle. */
  private running = 0;
  /** Requests not yet answered: finish() waits for them. */
  private readonly pending = new Set<Promise<void>>();
  private session?: Session;
  private readonly closed: Promise<void>;

  constructor(
    private readonly server: Server,
    private readonly socket: Socket,
  ) {
    const { limits } = server;
    this.reader = new FrameReader(limits.maxMessageBytes);
    this.writer = new CorkedWriter(socket, (flush) => setImmediate(flush));
    this.flow = new ConnectionFlow(server.flow, socket, limits.maxConnectionBytes);
    this.lock = new ConnectionLock(server.store);
    this.cursors = new Cursors({
      maxMessageBytes: limits.maxMessageBytes,
      maxCursors: limits.maxCursors,
      maxBytes: limits.maxConnectionBytes,
      account: (bytes) => this.flow.account(bytes),
    });
    this.deadlines = new Deadlines(limits, {
      busy: () => this.running > 0 || this.lock.held || this.cursors.size > 0,
      expired: (why) => {
        if (this.failed) return;
        server.timedOut++;
        this.fail(new LaminateError('ERR_CONNECTION', `The server closed this connection: ${why}.`));
      },
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.once('close', () => {
      this.deadlines.clear();
      this.cursors.closeAll();
      this.flow.close();
      this.lock.abandon();
      if (this.session) this.server.sessions.leave(this.session);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
    // Counted from the moment they arrive: bytes waiting in the reader are held as surely as a request running.
    this.flow.account(chunk.byteLength);
    this.reader.feed(chunk);
    this.deadlines.active();
    this.pump();
  }

  /** Takes the frames received, in order, until one has to wait or none is whole. */
  private pump(): void {
    while (!this.failed && !this.waiting) {
      const bytes = this.reader.nextLength();
      if (bytes === undefined) break;
      let message: Message | undefined;
      try {
        if (!this.greeted && bytes > HELLO_MAX_BYTES) throw helloTooLarge(bytes);
        message = this.reader.next();
      } catch (error) {
        return this.fail(error as LaminateError);
      }
      if (message === undefined) break;
      this.take(message, bytes);
    }
    this.flow.update();
  }

  /** Reports a connection-level error (reply id 0 unless given) and closes the connection. */
  private fail(error: LaminateError, id = 0): void {
    if (this.failed) return;
    this.failed = true;
    this.flow.stop();
    this.write({ id, error: errorToWire(error) });
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /**
   * Writes one reply; its bytes count as held until the socket has taken
   * them, and then `taken` runs (at once when the socket is gone).
   */
  private write(header: Header, payloads: readonly Uint8Array[] = [], taken?: () => void): void {
    if (this.socket.destroyed || this.socket.writableEnded) return taken?.();
    let buffers = encodeFrame(header, payloads);
    let bytes = byteLength(buffers);
    if (bytes > this.server.maxMessageBytes) {
      buffers = encodeFrame({ id: header.id, error: errorToWire(tooLarge(bytes, this.server.maxMessageBytes)) });
      bytes = byteLength(buffers);
    }
    this.flow.account(bytes);
    this.writer.write(buffers, () => {
      this.flow.account(-bytes);
      taken?.();
    });
  }

  /** Answers a request without running it; its frame's bytes leave the count. */
  private refuse(id: number, error: LaminateError, frameBytes: number): void {
    this.flow.account(-frameBytes);
    this.write({ id, error: errorToWire(error) });
  }

  /** The first message: checks the protocol version and the token, and joins the client's session. */
  private hello(header: Header): void {
    let client: string | undefined;
    try {
      client = checkHello(header, (token) => this.server.accepts(token));
    } catch (error) {
      return this.fail(error as LaminateError, header.id);
    }
    if (client !== undefined) this.session = this.server.sessions.join(client);
    this.greeted = true;
    this.deadlines.greetedNow();
    this.write({ id: header.id, ok: true, version: PROTOCOL_VERSION, maxMessageBytes: this.server.maxMessageBytes });
  }

  /** One whole frame of `frameBytes` bytes: the hello, or a request to start now or once its reply has room. */
  private take(message: Message, frameBytes: number): void {
    const { header, payloads } = message;
    if (!this.greeted) {
      this.flow.account(-frameBytes);
      return this.hello(header);
    }
    let request: Request;
    try {
      request = dispatch(header, payloads, { store: this.server.store, lock: this.lock, cursors: this.cursors, ops: this.server.ops });
    } catch (error) {
      this.flow.account(-frameBytes);
      return this.fail(error as LaminateError, header.id);
    }
    if (this.finishing) return this.refuse(header.id, closing(), frameBytes);
    // A request whose reply carries no values needs no room: it starts at once.
    if (request.replySize === undefined && this.flow.admit(0) === true) return this.run(header, request, frameBytes, 0);
    this.waiting = true;
    this.track(
      this.admit(header, request, frameBytes).finally(() => {
        this.waiting = false;
        this.pump();
      }),
    );
  }

  /**
   * A read: asks the store the size of its reply, refuses it (ERR_TOO_LARGE)
   * when that cannot fit a frame, else waits until the flow has room for it
   * and starts it.
   */
  private async admit(header: Header, request: Request, frameBytes: number): Promise<void> {
    const reply = await request.replySize?.();
    if (reply !== undefined && reply > this.server.maxMessageBytes) {
      this.server.refusedReads++;
      return this.refuse(header.id, replyTooLarge(String(header.op), reply, this.server.maxMessageBytes), frameBytes);
    }
    if (!this.finishing && (await this.flow.admit(reply))) return this.run(header, request, frameBytes, reply);
    if (this.finishing) this.refuse(header.id, closing(), frameBytes);
    else this.flow.account(-frameBytes);
  }

  /** Runs a started request and answers it; `reply` is the room reserved for its reply (undefined: its size was not known). */
  private run(header: Header, { work, change }: Request, frameBytes: number, reply: number | undefined): void {
    const { id } = header;
    this.running++;
    const run = (): Promise<Outcome> => this.lock.run(work, header.locked === true).then((result) => ({ reply: result }), (error: unknown) => ({ error }));
    this.track(
      this.server.sessions.settle(this.session, header, run, change).then((result) => {
        this.running--;
        this.deadlines.active();
        const taken = () => this.flow.done();
        // The reply is counted as written bytes before the room reserved for it and the request's own bytes are let go.
        if ('reply' in result) this.write({ id, ok: true, ...result.reply.header }, result.reply.payloads, taken);
        else this.write({ id, error: errorToWire(result.error) }, [], taken);
        this.flow.answered(reply);
        this.flow.account(-frameBytes);
      }),
    );
  }

  private track(promise: Promise<void>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  /** Lets the requests in flight finish and be answered, then closes the connection. */
  async finish(): Promise<void> {
    this.finishing = true;
    // A read waiting for room is answered ERR_CLOSED, not waited for: its client may never take the replies that would make room.
    this.flow.release();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.lock.release();
    await endSocket(this.socket, this.closed);
  }
}

function closing(): LaminateError {
  return new LaminateError('ERR_CLOSED', 'The server is closing; it takes no new requests.');
}
