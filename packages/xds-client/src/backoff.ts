/** Reconnect backoff settings; defaults 10 ms up to 15 s, ×2 per attempt, ±20 % jitter. */
export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
  readonly multiplier?: number;
  /** Fraction of the delay randomised either way (gRPC's connection backoff uses 0.2). */
  readonly jitter?: number;
}

/**
 * The delay before reconnect attempt `attempt` (0 = first retry): exponential
 * from `initialMs`, capped at `maxMs`, jittered by `random()` in [0, 1).
 */
export function backoffDelay(attempt: number, random: () => number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 10;
  const max = options.maxMs ?? 15_000;
  const multiplier = options.multiplier ?? 2;
  const jitter = options.jitter ?? 0.2;
  const base = Math.min(max, initial * multiplier ** Math.max(0, attempt));
  const jittered = base * (1 - jitter + 2 * jitter * random());
  return Math.max(0, Math.min(max, Math.round(jittered)));
}
