import type { EvalContext } from './eval-context.js';
import { type Cidr, cidrContains, formatIpAddress, type IpAddress } from './ip-address.js';
import { namespaceKey } from './namespace-key.js';
import { type CheckPlan, compileProgram, type MatchProgram, runProgram } from './match-program.js';
import { compileStringFinder, type StringPattern } from './string-pattern.js';

/** The four actions of an AuthorizationPolicy; the wire form only carries ALLOW and DENY. */
export type PolicyAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

/** Which policy decided, as reported in a {@link Decision}. */
export interface PolicyRef {
  /** `<namespace>/<name>`: the xDS resource name, and the tie-breaking order. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly action: PolicyAction;
  /** True for a dry-run policy (`istio.io/dry-run: "true"` or wire `dryRun`). */
  readonly dryRun: boolean;
  /** The external authorizer of a CUSTOM policy. */
  readonly provider?: string;
}

/**
 * One test inside a match: an attribute of the request against a list of
 * values. Positive checks need one value to match; negative checks need all
 * to miss (so an absent attribute passes a negative check).
 */
export interface Check {
  /** The attribute in words: `source namespace`, `header x-user`, `destination port`. */
  readonly attribute: string;
  /** The field it came from, for explanations: `notNamespaces`, `when[1].values`. */
  readonly field: string;
  readonly negated: boolean;
  /** The values as written, for explanations. */
  readonly patterns: readonly string[];
  /** Index of a value matching the request, or -1 (also when the attribute is absent). */
  readonly find: (ctx: EvalContext) => number;
  /** The request's value in words, for explanations (`undefined` = absent). */
  readonly show: (ctx: EvalContext) => string | undefined;
  /** For a positive destination-port check, the ports (feeds the port index). */
  readonly ports?: ReadonlySet<number>;
  /**
   * For a positive check that can only pass for peers of some namespaces, their
   * {@link namespaceKey}s (feeds the source-namespace index).
   */
  readonly namespaceKeys?: ReadonlySet<string>;
  /** What the check tests, when the match program can inline it (else it calls `find`). */
  readonly plan?: CheckPlan;
}

/** A match: every check must pass; no checks = matches. */
export interface CompiledMatch {
  readonly checks: readonly Check[];
}

/** A clause: one of its matches must pass; no matches = matches. */
export interface CompiledClause {
  /** Where it came from: `from`, `to`, `when[0]`, `clauses[1]`. */
  readonly label: string;
  readonly matches: readonly CompiledMatch[];
}

/** A rule: every clause must pass; no clauses = matches everything. */
export interface CompiledRule {
  readonly clauses: readonly CompiledClause[];
}

const ACTION_INDEX: Readonly<Record<PolicyAction, number>> = { ALLOW: 0, DENY: 1, AUDIT: 2, CUSTOM: 3 };

/** How a compiled policy chooses its targets. */
export type PolicyTarget =
  | { readonly kind: 'wire'; readonly scope: 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR' }
  | { readonly kind: 'namespace' }
  | { readonly kind: 'selector'; readonly matchLabels: Readonly<Record<string, string>> }
  | { readonly kind: 'target-refs'; readonly refs: readonly string[] };

/** A policy and one of its rules: what a decision reports (a `RuleHit`). */
export interface PolicyRuleHit {
  readonly policy: CompiledPolicy;
  readonly ruleIndex: number;
}

/** A policy compiled into matchers; rules are OR-ed and no rules never match. */
export class CompiledPolicy implements PolicyRef {
  // The fields a decision reads come first, so they share the object's first cache line.
  /** The rules flattened for evaluation (see {@link compileProgram}). */
  readonly #program: MatchProgram;
  /**
   * One frozen hit per rule, built once so a decision allocates none. A
   * private field: it stays out of `JSON.stringify` and deep equality.
   */
  readonly #hits: readonly PolicyRuleHit[];
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly action: PolicyAction;
  readonly dryRun: boolean;
  readonly provider?: string;
  readonly target: PolicyTarget;
  readonly rules: readonly CompiledRule[];
  /** Ports outside which no rule can match; undefined = any port. */
  readonly ports: ReadonlySet<number> | undefined;
  /** Source namespace keys outside which no rule can match; undefined = any. */
  readonly namespaces: ReadonlySet<string> | undefined;
  /** Index of the action (ALLOW 0, DENY 1, AUDIT 2, CUSTOM 3), plus 4 for dry-run. */
  readonly category: number;

  constructor(init: {
    namespace: string;
    name: string;
    action: PolicyAction;
    dryRun: boolean;
    provider?: string;
    target: PolicyTarget;
    rules: readonly CompiledRule[];
  }) {
    this.namespace = init.namespace;
    this.name = init.name;
    this.key = `${init.namespace}/${init.name}`;
    this.action = init.action;
    this.dryRun = init.dryRun;
    if (init.provider !== undefined) this.provider = init.provider;
    this.target = init.target;
    this.rules = init.rules;
    this.ports = bound(init.rules, (c) => c.ports);
    this.namespaces = bound(init.rules, (c) => c.namespaceKeys);
    this.category = ACTION_INDEX[init.action] + (init.dryRun ? 4 : 0);
    this.#program = compileProgram(init.rules);
    this.#hits = init.rules.map((_, ruleIndex) => Object.freeze({ policy: this, ruleIndex }));
  }

  /** The (shared, frozen) hit of rule `ruleIndex`. */
  hit(ruleIndex: number): PolicyRuleHit {
    return this.#hits[ruleIndex]!;
  }

  /** Index of the first rule matching the request, or -1. */
  matchRule(ctx: EvalContext): number {
    return runProgram(this.#program, ctx);
  }
}

/** Index of the first passing match of a clause; an empty clause passes as index 0. */
export function firstMatchingMatch(clause: CompiledClause, ctx: EvalContext): number {
  const matches = clause.matches;
  if (matches.length === 0) return 0;
  for (let m = 0; m < matches.length; m++) {
    if (firstFailingCheck(matches[m]!, ctx) < 0) return m;
  }
  return -1;
}

/** Index of the first failing check of a match, or -1 when it passes. */
export function firstFailingCheck(match: CompiledMatch, ctx: EvalContext): number {
  const checks = match.checks;
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i]!;
    const found = check.find(ctx);
    if (check.negated ? found >= 0 : found < 0) return i;
  }
  return -1;
}

/** A string-valued attribute: one value, several (any may match), or absent. */
export type StringGetter = (ctx: EvalContext) => string | readonly string[] | undefined;

/** Builds a check of a string attribute against Istio string patterns. */
export function stringCheck(
  attribute: string,
  field: string,
  negated: boolean,
  patterns: readonly StringPattern[],
  get: StringGetter,
  options: {
    ignoreCase?: boolean;
    alternative?: (value: string) => string | undefined;
    /** The getter reads this L4 attribute: lets the match program inline the check. */
    subject?: 'principal' | 'source-namespace';
  } = {},
): Check {
  const finder = compileStringFinder(patterns, options.ignoreCase ?? false);
  const alternative = options.alternative;
  const one = alternative
    ? (value: string): number => {
        const index = finder(value);
        if (index >= 0) return index;
        const other = alternative(value);
        return other === undefined ? -1 : finder(other);
      }
    : finder;
  return {
    attribute,
    field,
    negated,
    patterns: patterns.map((p) => p.text),
    find: (ctx) => {
      const value = get(ctx);
      if (value === undefined) return -1;
      if (typeof value === 'string') return one(value);
      for (const v of value) {
        const index = one(v);
        if (index >= 0) return index;
      }
      return -1;
    },
    show: (ctx) => {
      const value = get(ctx);
      return value === undefined ? undefined : typeof value === 'string' ? value : value.join(',');
    },
    ...(options.subject !== undefined && options.ignoreCase !== true && alternative === undefined
      ? { plan: { kind: 'string', subject: options.subject, patterns } }
      : {}),
  };
}

/**
 * Builds a check of an address attribute against CIDR blocks; `address` says
 * that `get` reads the source or destination IP, so the match program can inline it.
 */
export function ipCheck(
  attribute: string,
  field: string,
  negated: boolean,
  cidrs: readonly Cidr[],
  get: (ctx: EvalContext) => IpAddress | undefined,
  texts: readonly string[] = cidrs.map((c) => c.text),
  address?: 'source' | 'destination',
): Check {
  return {
    attribute,
    field,
    negated,
    patterns: texts,
    find: (ctx) => {
      const ip = get(ctx);
      if (ip === undefined) return -1;
      for (let i = 0; i < cidrs.length; i++) {
        if (cidrContains(cidrs[i]!, ip)) return i;
      }
      return -1;
    },
    show: (ctx) => {
      const ip = get(ctx);
      return ip === undefined ? undefined : formatIpAddress(ip);
    },
    ...(address === undefined ? {} : { plan: { kind: 'ip', address, cidrs } }),
  };
}

/** Builds a check of the destination port. */
export function portCheck(
  field: string,
  negated: boolean,
  ports: readonly number[],
  texts?: readonly string[],
): Check {
  const set = new Set(ports);
  return {
    attribute: 'destination port',
    field,
    negated,
    patterns: texts ?? ports.map(String),
    find: (ctx) => (set.has(ctx.port) ? ports.indexOf(ctx.port) : -1),
    show: (ctx) => String(ctx.port),
    plan: { kind: 'port', ports },
    ...(negated ? {} : { ports: set }),
  };
}

/**
 * Values (ports, namespace keys) outside which a policy cannot match: a rule
 * is bound when one of its clauses has only matches with a positive check
 * carrying such values (the rule then needs one of them); the policy is bound
 * when all its rules are. Undefined = not bound.
 */
function bound<T>(
  rules: readonly CompiledRule[],
  valuesOf: (check: Check) => ReadonlySet<T> | undefined,
): ReadonlySet<T> | undefined {
  const all = new Set<T>();
  for (const rule of rules) {
    let ruleValues: Set<T> | undefined;
    for (const clause of rule.clauses) {
      if (clause.matches.length === 0) continue;
      const values = new Set<T>();
      let everyMatchBound = true;
      for (const match of clause.matches) {
        const check = match.checks.find((c) => valuesOf(c) !== undefined);
        const found = check === undefined ? undefined : valuesOf(check);
        if (found === undefined) {
          everyMatchBound = false;
          break;
        }
        for (const v of found) values.add(v);
      }
      if (everyMatchBound) {
        ruleValues = values;
        break;
      }
    }
    if (ruleValues === undefined) return undefined;
    for (const v of ruleValues) all.add(v);
  }
  return all;
}

/**
 * Namespace keys a principal pattern can only match within: an exact
 * principal has one; a prefix has one when it spans `/ns/<namespace>/`.
 */
export function principalNamespaceKey(pattern: StringPattern): string | undefined {
  if (pattern.kind === 'exact') return namespaceKey(pattern.value);
  if (pattern.kind !== 'prefix') return undefined;
  const at = pattern.value.indexOf('/ns/');
  if (at < 0) return undefined;
  const end = pattern.value.indexOf('/', at + 4);
  return end < 0 ? undefined : pattern.value.slice(at + 4, end);
}

/** Attaches namespace keys to a positive check when every pattern has one. */
export function withNamespaceKeys(
  check: Check,
  patterns: readonly StringPattern[],
  keyOf: (pattern: StringPattern) => string | undefined,
): Check {
  if (check.negated) return check;
  const keys = new Set<string>();
  for (const pattern of patterns) {
    const key = keyOf(pattern);
    if (key === undefined) return check;
    keys.add(key);
  }
  return { ...check, namespaceKeys: keys };
}

/** The namespace key of an exact namespace pattern. */
export function exactNamespaceKey(pattern: StringPattern): string | undefined {
  return pattern.kind === 'exact' ? pattern.value : undefined;
}

/** The namespace key of an exact `<namespace>/<service account>` pattern. */
export function serviceAccountNamespaceKey(pattern: StringPattern): string | undefined {
  if (pattern.kind !== 'exact') return undefined;
  const slash = pattern.value.indexOf('/');
  return slash < 0 ? undefined : pattern.value.slice(0, slash);
}
