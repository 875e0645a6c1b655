import type { WireStringMatch } from './wire-types.js';

/** One string matcher: Istio's `exact`, `prefix`, `suffix` or `presence`. */
export interface StringPattern {
  readonly kind: 'exact' | 'prefix' | 'suffix' | 'presence';
  readonly value: string;
  /** The pattern as a user would write it (`"foo*"`), for explanations. */
  readonly text: string;
}

/**
 * Istio's user-facing string syntax: `"*"` = any non-empty value,
 * `"x*"` = prefix, `"*x"` = suffix, anything else = exact.
 */
export function parseIstioPattern(text: string): StringPattern {
  if (text === '*') return { kind: 'presence', value: '', text };
  if (text.length > 1 && text.startsWith('*')) return { kind: 'suffix', value: text.slice(1), text };
  if (text.length > 1 && text.endsWith('*')) return { kind: 'prefix', value: text.slice(0, -1), text };
  return { kind: 'exact', value: text, text };
}

/** The pattern of a wire `StringMatch`, or undefined when it has not exactly one form. */
export function fromWireStringMatch(match: WireStringMatch): StringPattern | undefined {
  const m = match as { exact?: unknown; prefix?: unknown; suffix?: unknown; presence?: unknown };
  const set = [m.exact, m.prefix, m.suffix, m.presence].filter((v) => v !== undefined && v !== null);
  if (set.length !== 1) return undefined;
  if (typeof m.exact === 'string') return { kind: 'exact', value: m.exact, text: m.exact };
  if (typeof m.prefix === 'string') return { kind: 'prefix', value: m.prefix, text: `${m.prefix}*` };
  if (typeof m.suffix === 'string') return { kind: 'suffix', value: m.suffix, text: `*${m.suffix}` };
  if (typeof m.presence === 'object') return { kind: 'presence', value: '', text: '*' };
  return undefined;
}

/** The wire `StringMatch` for a pattern. */
export function toWireStringMatch(pattern: StringPattern): WireStringMatch {
  switch (pattern.kind) {
    case 'exact':
      return { exact: pattern.value };
    case 'prefix':
      return { prefix: pattern.value };
    case 'suffix':
      return { suffix: pattern.value };
    case 'presence':
      return { presence: {} };
  }
}

/** Does `value` match `pattern`? Presence means a non-empty value (ztunnel, Envoy). */
export function patternMatches(pattern: StringPattern, value: string): boolean {
  switch (pattern.kind) {
    case 'exact':
      return value === pattern.value;
    case 'prefix':
      return value.startsWith(pattern.value);
    case 'suffix':
      return value.endsWith(pattern.value);
    case 'presence':
      return value.length > 0;
  }
}

/**
 * Compiles patterns into a function giving the index of a matching pattern
 * (or -1): exact values go into a hash map, the rest are scanned.
 */
export function compileStringFinder(
  patterns: readonly StringPattern[],
  ignoreCase = false,
): (value: string) => number {
  const exact = new Map<string, number>();
  const others: { pattern: StringPattern; index: number }[] = [];
  patterns.forEach((p, index) => {
    const pattern = ignoreCase ? { ...p, value: p.value.toLowerCase() } : p;
    if (pattern.kind === 'exact') {
      if (!exact.has(pattern.value)) exact.set(pattern.value, index);
    } else {
      others.push({ pattern, index });
    }
  });
  if (others.length === 0) {
    if (exact.size === 1) {
      const [only, index] = [...exact][0]!;
      return ignoreCase ? (v) => (v.toLowerCase() === only ? index : -1) : (v) => (v === only ? index : -1);
    }
    return ignoreCase ? (v) => exact.get(v.toLowerCase()) ?? -1 : (v) => exact.get(v) ?? -1;
  }
  const kinds = others.map((o) => o.pattern.kind);
  const values = others.map((o) => o.pattern.value);
  const indices = others.map((o) => o.index);
  const n = others.length;
  const hasExact = exact.size > 0;
  return (raw) => {
    const value = ignoreCase ? raw.toLowerCase() : raw;
    if (hasExact) {
      const hit = exact.get(value);
      if (hit !== undefined) return hit;
    }
    for (let i = 0; i < n; i++) {
      const kind = kinds[i];
      const v = values[i]!;
      if (
        kind === 'prefix' ? value.startsWith(v) : kind === 'suffix' ? value.endsWith(v) : value.length > 0
      ) {
        return indices[i]!;
      }
    }
    return -1;
  };
}
