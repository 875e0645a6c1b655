import { TelemetryError } from './errors.js';

/** Definition shared by every metric kind. */
export interface MetricDefinition<L extends string> {
  /** Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`); counters end in `_total`. */
  readonly name: string;
  readonly help: string;
  /** Label names, in the order they are rendered. */
  readonly labels: readonly L[];
}

/** Histogram definition: bucket upper bounds, ascending (`+Inf` is added). */
export interface HistogramDefinition<L extends string> extends MetricDefinition<L> {
  readonly buckets: readonly number[];
}

/** Label values for a metric with label names `L`. */
export type Labels<L extends string> = { readonly [K in L]: string };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Family =
  | {
      readonly kind: 'counter' | 'gauge';
      readonly def: MetricDefinition<string>;
      readonly series: Map<string, Series>;
      /** Series by frozen label object (see {@link cached}). */
      readonly byObject: WeakMap<object, Series>;
    }
  | {
      readonly kind: 'histogram';
      readonly def: HistogramDefinition<string>;
      readonly series: Map<string, HistogramSeries>;
      readonly byObject: WeakMap<object, HistogramSeries>;
    };

interface Series {
  readonly labels: string;
  value: number;
  /** Set when a gauge series is removed, so a cached reference to it is not used again. */
  removed?: boolean;
}

interface HistogramSeries {
  readonly labels: string;
  readonly counts: number[];
  sum: number;
  count: number;
  /** Never set: histograms have no `remove` (the field keeps {@link cached} generic). */
  removed?: boolean;
}

/**
 * The series a frozen label object was last resolved to. A frozen object
 * cannot change, so its key (the label values joined, 23 of them for
 * Istio's metrics) need not be rebuilt on every `inc`; callers that share
 * label sets between events (ztunnel's per-peers label cache) pay for the
 * key once. Unfrozen objects always take the key path: they may have changed.
 */
function cached<S extends { removed?: boolean }>(
  byObject: WeakMap<object, S>,
  labels: object,
): S | undefined {
  if (!Object.isFrozen(labels)) return undefined;
  const s = byObject.get(labels);
  return s === undefined || s.removed ? undefined : s;
}

function remember<S>(byObject: WeakMap<object, S>, labels: object, s: S): S {
  if (Object.isFrozen(labels)) byObject.set(labels, s);
  return s;
}

/** A monotonically increasing counter. */
export interface Counter<L extends string> {
  /** Adds `by` (default 1, must be ≥ 0) to the series with these labels. */
  inc(labels: Labels<L>, by?: number): void;
  /** Current value of one series (0 when never incremented). */
  get(labels: Labels<L>): number;
}

/** A value that goes up and down. */
export interface Gauge<L extends string> {
  set(labels: Labels<L>, value: number): void;
  add(labels: Labels<L>, delta: number): void;
  get(labels: Labels<L>): number;
  /** Removes a series, for example when the workload it describes is gone. */
  remove(labels: Labels<L>): void;
}

/** A distribution of observations in cumulative buckets. */
export interface Histogram<L extends string> {
  observe(labels: Labels<L>, value: number): void;
  /** Number of observations and their sum for one series. */
  get(labels: Labels<L>): { readonly count: number; readonly sum: number };
}

/**
 * A set of metric families rendered in the Prometheus text exposition format
 * (version 0.0.4), the format `promtool check metrics` checks. Pure: no I/O;
 * serve {@link MetricsRegistry.render} from any HTTP server (see `./node`).
 *
 * @example
 * ```ts
 * const registry = new MetricsRegistry();
 * const opened = registry.counter({ name: 'demo_opened_total', help: 'Opened.', labels: ['reporter'] });
 * opened.inc({ reporter: 'source' });
 * console.log(registry.render());
 * ```
 */
export class MetricsRegistry {
  readonly #families = new Map<string, Family>();

  /**
   * Registers a counter.
   * @throws {TelemetryError} `TELEMETRY_ERR_INVALID_NAME` for a bad metric or label name,
   *   `TELEMETRY_ERR_DUPLICATE_METRIC` when the name is taken
   */
  counter<L extends string>(def: MetricDefinition<L>): Counter<L> {
    const family = this.#register({ kind: 'counter', def, series: new Map(), byObject: new WeakMap() });
    return {
      inc: (labels, by = 1) => {
        if (!(by >= 0) || !Number.isFinite(by)) {
          throw new TelemetryError('TELEMETRY_ERR_VALUE', `counter ${def.name} cannot grow by ${by}`);
        }
        this.#series(family, labels).value += by;
      },
      get: (labels) => (cached(family.byObject, labels) ?? family.series.get(key(def, labels)))?.value ?? 0,
    };
  }

  /** Registers a gauge. @throws {TelemetryError} as {@link MetricsRegistry.counter} */
  gauge<L extends string>(def: MetricDefinition<L>): Gauge<L> {
    const family = this.#register({ kind: 'gauge', def, series: new Map(), byObject: new WeakMap() });
    return {
      set: (labels, value) => {
        this.#series(family, labels).value = value;
      },
      add: (labels, delta) => {
        this.#series(family, labels).value += delta;
      },
      get: (labels) => (cached(family.byObject, labels) ?? family.series.get(key(def, labels)))?.value ?? 0,
      remove: (labels) => {
        const k = key(def, labels);
        const s = family.series.get(k);
        if (s) s.removed = true;
        family.series.delete(k);
      },
    };
  }

  /** Registers a histogram. @throws {TelemetryError} also for buckets that are not ascending */
  histogram<L extends string>(def: HistogramDefinition<L>): Histogram<L> {
    for (let i = 0; i < def.buckets.length; i++) {
      const b = def.buckets[i]!;
      if (!Number.isFinite(b) || (i > 0 && b <= def.buckets[i - 1]!)) {
        throw new TelemetryError(
          'TELEMETRY_ERR_VALUE',
          `histogram ${def.name}: buckets must be finite and ascending`,
        );
      }
    }
    const family = this.#register({
      kind: 'histogram',
      def,
      series: new Map(),
      byObject: new WeakMap(),
    }) as Extract<Family, { kind: 'histogram' }>;
    return {
      observe: (labels, value) => {
        if (Number.isNaN(value))
          throw new TelemetryError('TELEMETRY_ERR_VALUE', `histogram ${def.name}: NaN`);
        const s = seriesOf(family, labels, (rendered) => ({
          labels: rendered,
          counts: def.buckets.map(() => 0),
          sum: 0,
          count: 0,
        }));
        // Cumulative buckets are computed at render time; store per-bucket counts.
        const i = def.buckets.findIndex((b) => value <= b);
        if (i >= 0) s.counts[i]!++;
        s.sum += value;
        s.count++;
      },
      get: (labels) => {
        const s = family.series.get(key(def, labels));
        return { count: s?.count ?? 0, sum: s?.sum ?? 0 };
      },
    };
  }

  /** The whole registry in the Prometheus text format, families in registration order. */
  render(): string {
    const out: string[] = [];
    for (const family of this.#families.values()) {
      const { def } = family;
      out.push(`# HELP ${def.name} ${escapeHelp(def.help)}`, `# TYPE ${def.name} ${family.kind}`);
      if (family.kind === 'histogram') {
        for (const s of family.series.values()) {
          const base = def.name;
          let cumulative = 0;
          family.def.buckets.forEach((b, i) => {
            cumulative += s.counts[i]!;
            out.push(`${base}_bucket${withLabel(s.labels, 'le', formatNumber(b))} ${cumulative}`);
          });
          out.push(`${base}_bucket${withLabel(s.labels, 'le', '+Inf')} ${s.count}`);
          out.push(`${base}_sum${braces(s.labels)} ${formatNumber(s.sum)}`);
          out.push(`${base}_count${braces(s.labels)} ${s.count}`);
        }
      } else {
        for (const s of family.series.values())
          out.push(`${def.name}${braces(s.labels)} ${formatNumber(s.value)}`);
      }
    }
    return out.length === 0 ? '' : `${out.join('\n')}\n`;
  }

  #register<F extends Family>(family: F): F {
    const { name, labels } = family.def;
    if (!NAME.test(name))
      throw new TelemetryError('TELEMETRY_ERR_INVALID_NAME', `invalid metric name ${name}`);
    const seen = new Set<string>();
    for (const label of labels) {
      if (!LABEL.test(label) || label.startsWith('__') || (family.kind === 'histogram' && label === 'le')) {
        throw new TelemetryError('TELEMETRY_ERR_INVALID_NAME', `metric ${name}: invalid label name ${label}`);
      }
      if (seen.has(label))
        throw new TelemetryError('TELEMETRY_ERR_INVALID_NAME', `metric ${name}: label ${label} twice`);
      seen.add(label);
    }
    if (this.#families.has(name)) {
      throw new TelemetryError('TELEMETRY_ERR_DUPLICATE_METRIC', `metric ${name} is already registered`);
    }
    this.#families.set(name, family);
    return family;
  }

  #series(family: Family & { kind: 'counter' | 'gauge' }, labels: Labels<string>): Series {
    return seriesOf(family, labels, (rendered) => ({ labels: rendered, value: 0 }));
  }
}

/**
 * The series of `labels` in a family: from the frozen-labels cache, else by
 * the label-value key, else created (with its rendered labels) and kept.
 */
function seriesOf<S extends { readonly labels: string; removed?: boolean }>(
  family: {
    readonly def: MetricDefinition<string>;
    readonly series: Map<string, S>;
    readonly byObject: WeakMap<object, S>;
  },
  labels: Labels<string>,
  create: (renderedLabels: string) => S,
): S {
  const hit = cached(family.byObject, labels);
  if (hit) return hit;
  const k = key(family.def, labels);
  let s = family.series.get(k);
  if (!s) {
    s = create(renderLabels(family.def, labels));
    family.series.set(k, s);
  }
  return remember(family.byObject, labels, s);
}

function key(def: MetricDefinition<string>, labels: Labels<string>): string {
  let k = '';
  for (const name of def.labels) {
    const v = labels[name];
    if (typeof v !== 'string') {
      throw new TelemetryError('TELEMETRY_ERR_LABELS', `metric ${def.name}: label ${name} is missing`);
    }
    k += `${v}\u0000`;
  }
  return k;
}

function renderLabels(def: MetricDefinition<string>, labels: Labels<string>): string {
  return def.labels.map((name) => `${name}="${escapeLabel(labels[name]!)}"`).join(',');
}

function braces(rendered: string): string {
  return rendered === '' ? '' : `{${rendered}}`;
}

function withLabel(rendered: string, name: string, value: string): string {
  return `{${rendered === '' ? '' : `${rendered},`}${name}="${value}"}`;
}

/** Label values escape backslash, double quote and line feed (exposition format spec). */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
