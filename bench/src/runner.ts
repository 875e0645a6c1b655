import { advantage, interleave, type Summary, summarize } from './stats.js';

/** A number a scenario reports per round, and which way is better. */
export interface Metric {
  readonly name: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
}

/** What one round of one contender produced. */
export interface Sample {
  /** Value per metric name; every metric of the scenario must be present. */
  readonly values: Readonly<Record<string, number>>;
  /**
   * A fingerprint of the work done (bytes moved, a checksum, the responses).
   * Every contender must produce the same fingerprint, or the run fails:
   * a fast wrong answer is not a result.
   */
  readonly fingerprint: string;
}

/** A running contender: set up once, measured many times, then closed. */
export interface ContenderInstance {
  round(): Promise<Sample>;
  close(): Promise<void>;
}

/** One side of the comparison: amesh, a peer, or the ceiling. */
export interface Contender {
  readonly name: string;
  start(): Promise<ContenderInstance>;
}

/** A benchmark scenario: contenders measured side by side on the same topology. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly metrics: readonly Metric[];
  readonly contenders: readonly Contender[];
  /** Rounds per contender when the caller does not say. */
  readonly defaultRounds: number;
}

/** Result of {@link runScenario}. */
export interface ScenarioResult {
  readonly scenario: string;
  readonly rounds: number;
  readonly contenders: readonly string[];
  /** summaries[metric][contender] */
  readonly summaries: Readonly<Record<string, Readonly<Record<string, Summary>>>>;
  readonly metrics: readonly Metric[];
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  readonly rounds?: number;
  /** Untimed rounds per contender before measuring (also checks fingerprints). */
  readonly warmup?: number;
  readonly log?: (line: string) => void;
}

/**
 * Runs every contender of a scenario in interleaved rounds (A B A B ...),
 * checks that all produced the same fingerprint, and summarises each metric.
 * @throws {Error} when contenders disagree on the fingerprint or a metric is missing
 */
export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<ScenarioResult> {
  const rounds = options.rounds ?? scenario.defaultRounds;
  const warmup = options.warmup ?? 1;
  const log = options.log ?? (() => {});
  const instances: ContenderInstance[] = [];
  try {
    for (const contender of scenario.contenders) {
      instances.push(await contender.start());
    }
    let expected: { fingerprint: string; by: string } | undefined;
    const check = (sample: Sample, by: string): void => {
      if (expected === undefined) {
        expected = { fingerprint: sample.fingerprint, by };
      } else if (sample.fingerprint !== expected.fingerprint) {
        throw new Error(
          `contender ${by} produced ${sample.fingerprint}, but ${expected.by} produced ${expected.fingerprint}`,
        );
      }
      for (const metric of scenario.metrics) {
        if (typeof sample.values[metric.name] !== 'number') {
          throw new Error(`contender ${by} reported no value for metric ${metric.name}`);
        }
      }
    };
    for (const index of interleave(instances.length, warmup)) {
      check(await instances[index]!.round(), scenario.contenders[index]!.name);
    }
    const samples = scenario.contenders.map(() => [] as Sample[]);
    for (const index of interleave(instances.length, rounds)) {
      const sample = await instances[index]!.round();
      const name = scenario.contenders[index]!.name;
      check(sample, name);
      samples[index]!.push(sample);
      log(
        `  ${name}: ${scenario.metrics.map((m) => `${format(sample.values[m.name]!)} ${m.unit}`).join(', ')}`,
      );
    }
    const summaries: Record<string, Record<string, Summary>> = {};
    for (const metric of scenario.metrics) {
      const byContender: Record<string, Summary> = {};
      scenario.contenders.forEach((contender, i) => {
        byContender[contender.name] = summarize(samples[i]!.map((s) => s.values[metric.name]!));
      });
      summaries[metric.name] = byContender;
    }
    return {
      scenario: scenario.name,
      rounds,
      contenders: scenario.contenders.map((c) => c.name),
      summaries,
      metrics: scenario.metrics,
    };
  } finally {
    await Promise.allSettled(instances.map((i) => i.close()));
  }
}

/**
 * Renders a result as a Markdown table per metric: median, min..max, spread,
 * and the ratio against every other contender ("1.80x" = 1.8 times better).
 */
export function formatResult(result: ScenarioResult): string {
  const lines: string[] = [`## ${result.scenario} (${result.rounds} rounds per contender, interleaved)`, ''];
  for (const metric of result.metrics) {
    const byContender = result.summaries[metric.name]!;
    const names = result.contenders;
    lines.push(`### ${metric.name} (${metric.unit}, ${metric.better} is better)`, '');
    lines.push(`| contender | median | min..max | spread | ${names.map((n) => `vs ${n}`).join(' | ')} |`);
    lines.push(`|---|---:|---:|---:|${names.map(() => '---:').join('|')}|`);
    for (const name of names) {
      const s = byContender[name]!;
      const ratios = names.map((other) => {
        if (other === name) return '—';
        const ratio = advantage(s.median, byContender[other]!.median, metric.better);
        // A zero on either side (for example no proxy CPU on the direct path) has no meaningful ratio.
        return Number.isFinite(ratio) && ratio !== 0 ? `${ratio.toFixed(2)}x` : 'n/a';
      });
      lines.push(
        `| ${name} | ${format(s.median)} | ${format(s.min)}..${format(s.max)} | ±${(s.spread * 50).toFixed(1)}% | ${ratios.join(' | ')} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

function format(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}
