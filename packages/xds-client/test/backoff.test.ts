import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/index.js';

describe('reconnect backoff (10 ms up to 15 s, jittered)', () => {
  it('starts near 10 ms and doubles', () => {
    expect(backoffDelay(0, () => 0.5)).toBe(10);
    expect(backoffDelay(1, () => 0.5)).toBe(20);
    expect(backoffDelay(5, () => 0.5)).toBe(320);
  });

  it('jitters by ±20 %', () => {
    expect(backoffDelay(3, () => 0)).toBe(64);
    expect(backoffDelay(3, () => 0.999999)).toBe(96);
  });

  it('never exceeds 15 s', () => {
    for (const random of [0, 0.5, 0.99]) expect(backoffDelay(50, () => random)).toBeLessThanOrEqual(15_000);
    expect(backoffDelay(50, () => 0)).toBe(12_000);
  });
});
