import type { Socket } from 'node:net';
import { LaminateError } from '@laminate/core';
import { CorkedWriter } from './corked-writer.js';
import { DEFAULT_MAX_MESSAGE_BYTES, FrameReader, type Header, type Message, PROTOCOL_VERSION, byteLength, encodeFrame, errorFromWire, tooLarge } from './protocol.js';

/** Errors after which the same request would fail again on a new connection. */
export const FINAL = new Set(['ERR_AUTH', 'ERR_PROTOCOL', 'ERR_TOO_LARGE']);

/** The client's socket to the server, after the hello. */
export class ClientConnection {
  alive = true;
  /** The server said it is closing: send nothing more here. */
  draining = false;
  serverMax = DEFAULT_MAX_MESSAGE_BYTES;
  /** Why the connection ended, when the server said (ERR_AUTH, ERR_PROTOCOL) or the reader refused a frame. */
  fatal?: Error;
  readonly closed: Promise<void>;
  private readonly writer: CorkedWriter;

  constructor(
    readonly socket: Socket,
    maxMessageBytes: number,
    onReply: (message: Message) => void,
  ) {
    const reader = new FrameReader(maxMessageBytes);
    // Requests made in the same tick leave in one system call.
    this.writer = new CorkedWriter(socket, (flush) => process.nextTick(flush));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      let messages: Message[];
      try {
        messages = reader.push(chunk);
      } catch (error) {
        this.fatal = error as Error;
        socket.destroy();
        return;
      }
      for (const message of messages) {
        const error = message.header.error === undefined ? undefined : errorFromWire(message.header.error);
        // The server closes the connection after these: they apply to every request still waiting.
        if (error && FINAL.has((error as LaminateError).code) && (message.header.id === 0 || (error as LaminateError).code !== 'ERR_TOO_LARGE')) this.fatal = error;
        onReply(message);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.alive = false;
        resolve();
      }),
    );
  }

  /** Writes one request; ERR_TOO_LARGE (nothing written) when the server would refuse its size. */
  send(id: number, header: Omit<Header, 'id'>, payloads: readonly Uint8Array[]): void {
    const buffers = encodeFrame({ ...header, id }, payloads);
    const bytes = byteLength(buffers);
    if (bytes > this.serverMax) throw tooLarge(bytes, this.serverMax);
    this.writer.write(buffers);
  }
}

export interface Hello {
  /** The hello's request id, from the same sequence as the client's other requests. */
  id: number;
  /** Names the client across reconnects, for deduplication. */
  client: string;
  token?: string;
  maxMessageBytes: number;
}

/**
 * Says hello on a fresh socket: the connection, or why the server would not
 * have it. Every other reply on the connection goes to `onReply`.
 */
export function greet(socket: Socket, hello: Hello, onReply: (connection: ClientConnection, message: Message) => void): Promise<ClientConnection | Error> {
  const { id } = hello;
  return new Promise((resolve) => {
    let settled = false;
    const connection: ClientConnection = new ClientConnection(socket, hello.maxMessageBytes, (message) => {
      if (!settled && message.header.id === id) {
        settled = true;
        if (message.header.error !== undefined) {
          socket.destroy();
          return resolve(errorFromWire(message.header.error));
        }
        if (typeof message.header.maxMessageBytes === 'number') connection.serverMax = message.header.maxMessageBytes;
        return resolve(connection);
      }
      onReply(connection, message);
    });
    void connection.closed.then(() => {
      if (!settled) {
        settled = true;
        resolve(connection.fatal ?? connectionLost());
      }
    });
    connection.send(id, { op: 'hello', version: PROTOCOL_VERSION, client: hello.client, ...(hello.token === undefined ? {} : { token: hello.token }) }, []);
  });
}

export function connectionLost(): LaminateError {
  return new LaminateError('ERR_CONNECTION', 'The connection to the laminate server closed before the reply came; the request may or may not have been applied.');
}
