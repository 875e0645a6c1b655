/**
 * A token bucket over an injected clock: `take()` is false once the burst is
 * spent faster than the refill rate. Used to bound floods (RFC 9113 §10.5).
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;

  constructor(burst: number, perSecond: number, now: () => number) {
    this.#burst = burst;
    this.#tokens = burst;
    this.#perMs = perSecond / 1000;
    this.#now = now;
    this.#last = now();
  }

  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
