/**
 * Capture work waits here instead of running on the forwarding path. Taps push small closures; one
 * drain per event-loop turn runs them in arrival order. Order matters: a legacy `endpoint` event must
 * be decoded before the POST it announces, and a response after its request. A failing step is
 * counted and reported, never thrown back into the socket handler that pushed it.
 */
export class CaptureQueue {
  private items: Array<() => void> = [];
  private scheduled = false;
  failures = 0;
  processed = 0;

  constructor(private readonly onError: (err: Error) => void) {}

  push(step: () => void): void {
    this.items.push(step);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const batch = this.items;
    this.items = [];
    for (const step of batch) {
      try {
        step();
      } catch (err) {
        this.failures++;
        this.onError(err as Error);
      }
      this.processed++;
    }
  };

  /** Runs everything queued now (shutdown, tests). */
  flush(): void {
    while (this.items.length) this.drain();
  }

  get length(): number {
    return this.items.length;
  }
}
