/**
 * Bounds the bytes of appends sent to Redis and not yet acknowledged: an
 * append beyond the bound waits, so a producer faster than Redis does not
 * fill this process's memory (and ioredis's queue) without end. A call larger
 * than the whole bound goes alone.
 */
export class BytesInFlight {
  private used = 0;
  private readonly waiting: { bytes: number; resolve: () => void }[] = [];

  constructor(private readonly limit: number) {}

  async take(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push({ bytes, resolve }));
  }

  give(bytes: number): void {
    this.used -= bytes;
    // In arrival order: a large call is not overtaken for ever by small ones.
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.resolve();
    }
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit;
  }
}
