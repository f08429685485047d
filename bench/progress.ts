/**
 * The live line on stderr while the bench runs: redrawn in place on a terminal; elsewhere (CI
 * logs) only the finished-step lines are printed, so logs stay short.
 */
export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly started = Date.now();
  private last = '';
  private lastDraw = 0;

  elapsed(): string {
    const s = Math.round((Date.now() - this.started) / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  /** Replaces the live line (throttled). */
  status(text: string): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 150 && text.length === this.last.length) return;
    this.lastDraw = now;
    this.last = text;
    const width = process.stderr.columns ?? 120;
    process.stderr.write(`\r\x1b[2K[${this.elapsed()}] ${text}`.slice(0, width + 5));
  }

  /** A permanent line (above the live line on a terminal). */
  line(text: string): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`[${this.elapsed()}] ${text}\n`);
  }

  done(): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
  }
}
