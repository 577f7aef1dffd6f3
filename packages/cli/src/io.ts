import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';

/** Where a command reads and writes; the real process streams, or others in a caller that embeds the CLI. */
export interface Io {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

export function processIo(): Io {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/**
 * Writes to a stream with backpressure: text is gathered into pieces of about
 * 64 KiB (a line per write() would cost a syscall per key), and a write the
 * stream cannot take at once waits for 'drain', so `laminate keys` over a
 * million keys into a slow pipe does not hold them all in memory.
 */
export class Output {
  private pending: string[] = [];
  private pendingLength = 0;
  /** Bytes handed to the stream so far, for progress displays. */
  written = 0;

  constructor(private readonly stream: Writable) {}

  async text(chunk: string): Promise<void> {
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    if (this.pendingLength >= 1 << 16) await this.flush();
  }

  async bytes(chunk: Uint8Array): Promise<void> {
    await this.flush();
    await this.send(chunk);
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    await this.send(Buffer.from(text, 'utf8'));
  }

  private async send(chunk: Uint8Array): Promise<void> {
    this.written += chunk.byteLength;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }
}
