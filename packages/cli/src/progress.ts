import type { Io } from './io.js';

/** How often the line is redrawn at most: about ten times a second. */
const INTERVAL_MS = 100;

export type ProgressMode = 'tty' | 'lines' | 'off';

/**
 * A one-line status on stderr for commands that may run long, never on
 * stdout, which carries the command's data.
 *
 * - On a terminal the line is redrawn in place and erased when the command ends.
 * - Forced with --progress into something that is not a terminal (a log
 *   file, a test), each redraw is a line of its own, and the last state is
 *   written at the end, so the log shows how far the command got.
 *
 * The text comes from a function the command gives, read at most every
 * 100 ms: by `poke()`, which loops call after each step (cheap: a clock read
 * when nothing is due), and by a timer, which covers a single long await such
 * as drop() or the key listing, where no loop runs.
 */
export class Progress {
  private status: () => string = () => '';
  private timer?: NodeJS.Timeout;
  private shown = '';
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(
    private readonly io: Io,
    readonly mode: ProgressMode,
    private readonly label: string,
  ) {}

  /**
   * --progress forces the line, --no-progress hides it; by default it shows when
   * stderr is a terminal, except for a command whose data goes to that same
   * terminal (keys, cat), where interleaved redraws would garble the output
   * and the scrolling output shows progress enough.
   */
  static choose(io: Io, options: { progress?: boolean; 'no-progress'?: boolean }, label: string, writesToStdout: boolean): Progress {
    let mode: ProgressMode;
    if (options['no-progress']) mode = 'off';
    else if (options.progress) mode = io.stderr.isTTY ? 'tty' : 'lines';
    else mode = io.stderr.isTTY && !(writesToStdout && io.stdout.isTTY) ? 'tty' : 'off';
    return new Progress(io, mode, label);
  }

  /** Starts showing `status()`; the first state is drawn at once. */
  start(status: () => string): void {
    this.status = status;
    if (this.mode === 'off') return;
    this.draw();
    this.timer ??= setInterval(() => this.draw(), INTERVAL_MS);
    // The display must never keep a finished command's process alive.
    this.timer.unref();
  }

  /** Redraws if the last drawing is older than the interval. */
  poke(): void {
    if (this.mode !== 'off' && Date.now() - this.lastDraw >= INTERVAL_MS) this.draw();
  }

  /** Seconds since the command started, for statuses of one long call. */
  elapsed(): string {
    return `${((Date.now() - this.started) / 1000).toFixed(1)}s`;
  }

  /** Stops the display: a terminal's line is erased; a log gets the final state. */
  done(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.mode === 'lines') this.draw();
    else if (this.mode === 'tty' && this.shown !== '') this.io.stderr.write('\r\x1b[K');
    this.shown = '';
  }

  private draw(): void {
    this.lastDraw = Date.now();
    const text = `laminate ${this.label}: ${this.status()}`;
    if (text === this.shown) return;
    this.shown = text;
    if (this.mode === 'lines') {
      this.io.stderr.write(text + '\n');
    } else {
      // Cut to the terminal's width: a wrapped line cannot be redrawn in place.
      const width = this.io.stderr.columns || 80; // a terminal with no size set reports 0
      this.io.stderr.write('\r' + (text.length >= width ? text.slice(0, width - 1) : text) + '\x1b[K');
    }
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB": binary units, as the spec's sizes (64MiB) use. */
export function humanBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/** 12345 → "12,345". */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}
