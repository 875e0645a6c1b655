/** Summary of one contender's samples for one metric. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median, as a fraction: how noisy the samples were. */
  readonly spread: number;
  readonly samples: number;
}

/**
 * Median, min, max and spread of a non-empty list of samples.
 * @throws {RangeError} on an empty list or a non-finite sample
 */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('cannot summarize zero samples');
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`sample is not a finite number: ${v}`);
  }
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return {
    median,
    min,
    max,
    spread: median === 0 ? 0 : (max - min) / Math.abs(median),
    samples: values.length,
  };
}

/**
 * How many times better `a` is than `b` for a metric: for "higher is better"
 * metrics `a / b`, for "lower is better" ones `b / a`. A ratio above 1 means
 * `a` wins.
 */
export function advantage(a: number, b: number, better: 'higher' | 'lower'): number {
  if (a === 0 && b === 0) return 1;
  return better === 'higher' ? a / b : b / a;
}

/** Interleaved order of contender indices for `rounds` rounds: 0 1 2 0 1 2 ... (A B A B). */
export function interleave(contenders: number, rounds: number): number[] {
  const order: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < contenders; c++) order.push(c);
  }
  return order;
}
