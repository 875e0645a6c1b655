import { describe, expect, it } from 'vitest';
import { formatResult, runScenario, type Scenario } from '../src/runner.js';
import { advantage, interleave, summarize } from '../src/stats.js';

describe('stats', () => {
  it('summarizes odd and even sample counts', () => {
    expect(summarize([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, spread: 1, samples: 3 });
    expect(summarize([4, 1, 2, 3]).median).toBe(2.5);
  });

  it('refuses empty or non-finite samples', () => {
    expect(() => summarize([])).toThrow(RangeError);
    expect(() => summarize([1, Number.NaN])).toThrow(/finite/);
  });

  it('computes advantage in the direction that is better', () => {
    expect(advantage(10, 5, 'higher')).toBe(2);
    expect(advantage(5, 10, 'lower')).toBe(2);
  });

  it('interleaves contenders round by round (A B A B)', () => {
    expect(interleave(2, 3)).toEqual([0, 1, 0, 1, 0, 1]);
  });
});

function fakeScenario(fingerprints: string[], order: string[]): Scenario {
  return {
    name: 'fake',
    description: 'test',
    metrics: [{ name: 'ops', unit: 'op/s', better: 'higher' }],
    defaultRounds: 3,
    contenders: fingerprints.map((fingerprint, i) => ({
      name: `c${i}`,
      async start() {
        let n = 0;
        return {
          async round() {
            order.push(`c${i}`);
            n++;
            return { values: { ops: (i + 1) * 100 + n }, fingerprint };
          },
          async close() {
            order.push(`close c${i}`);
          },
        };
      },
    })),
  };
}

describe('runScenario', () => {
  it('runs contenders interleaved, summarizes, and reports ratios', async () => {
    const order: string[] = [];
    const result = await runScenario(fakeScenario(['same', 'same'], order), { warmup: 1, rounds: 2 });
    expect(order).toEqual(['c0', 'c1', 'c0', 'c1', 'c0', 'c1', 'close c0', 'close c1']);
    expect(result.summaries.ops?.c1?.median).toBe(202.5);
    const table = formatResult(result);
    expect(table).toContain('| c1 | 203 |');
    expect(table).toMatch(/\| c1 \|.*\| 1\.98x \| — \|/);
  });

  it('fails loudly when contenders disagree on the work done, and still closes them', async () => {
    const order: string[] = [];
    await expect(runScenario(fakeScenario(['1024 bytes', '1000 bytes'], order))).rejects.toThrow(
      /c1 produced 1000 bytes, but c0 produced 1024 bytes/,
    );
    expect(order).toContain('close c0');
    expect(order).toContain('close c1');
  });
});

describe('formatResult with a zero median', () => {
  it('prints n/a instead of an infinite or zero ratio', async () => {
    const scenario: Scenario = {
      name: 'zero',
      description: 'test',
      metrics: [{ name: 'cpu', unit: 's', better: 'lower' }],
      defaultRounds: 1,
      contenders: [0, 2].map((value, i) => ({
        name: `c${i}`,
        async start() {
          return { round: async () => ({ values: { cpu: value }, fingerprint: 'x' }), close: async () => {} };
        },
      })),
    };
    const table = formatResult(await runScenario(scenario, { warmup: 0, rounds: 1 }));
    expect(table).toMatch(/\| c0 \| 0 \| 0\.\.0 \| ±0\.0% \| — \| n\/a \|/);
    expect(table).toMatch(/\| c1 \| 2\.00 \| 2\.00\.\.2\.00 \| ±0\.0% \| n\/a \| — \|/);
  });
});
