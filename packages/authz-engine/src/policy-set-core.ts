import type { CompiledPolicy } from './compiled-policy.js';
import type {
  CustomCheck,
  Decision,
  DryRunResult,
  EvaluateOptions,
  RuleHit,
  ShadowResult,
} from './decision.js';
import { EvalContext } from './eval-context.js';
import { type Best, type Bucket, BucketView } from './bucket.js';

const ALLOW = 0;
const DENY = 1;
const AUDIT = 2;
const CUSTOM = 3;
const DRY = 4;

/** The ALLOW (not dry-run) policies among those that apply, for explanations. */
export function allowPoliciesOf(
  first: Bucket | undefined,
  second: Bucket | undefined,
  extras: readonly CompiledPolicy[],
): CompiledPolicy[] {
  return [
    ...(first?.policies(ALLOW) ?? []),
    ...(second?.policies(ALLOW) ?? []),
    ...extras.filter((p) => p.category === ALLOW),
  ].sort((x, y) => (x.key < y.key ? -1 : 1));
}

const NO_HITS: readonly RuleHit[] = [];
const NO_CHECKS: readonly CustomCheck[] = [];
const NO_OPTIONS: EvaluateOptions = {};
const CATEGORIES = 8;

/** Where a policy set puts the policies that apply individually: an array or a {@link PolicyList}. */
export interface PolicySink {
  push(policy: CompiledPolicy): unknown;
  includes(policy: CompiledPolicy): boolean;
}

/**
 * A reusable list of policies (the ones applying individually to one
 * decision): cleared by resetting its length, which, unlike setting an
 * array's `length`, costs no runtime call.
 */
export class PolicyList {
  private readonly items: (CompiledPolicy | undefined)[] = [];
  /** Number of policies in the list. */
  length = 0;

  /** Appends a policy. */
  push(policy: CompiledPolicy): void {
    this.items[this.length++] = policy;
  }

  /** The policy at `index` (below `length`). */
  at(index: number): CompiledPolicy {
    return this.items[index]!;
  }

  /** True when the policy is in the list. */
  includes(policy: CompiledPolicy): boolean {
    for (let i = 0; i < this.length; i++) if (this.items[i] === policy) return true;
    return false;
  }

  /** Empties the list, dropping its references. */
  clear(): void {
    for (let i = 0; i < this.length; i++) this.items[i] = undefined;
    this.length = 0;
  }
}

/**
 * Working memory of one decision, owned by a policy set and reused from one
 * decision to the next, so the common decision allocates only its result.
 * `busy` guards re-entry (a request object whose getters evaluate again gets
 * a fresh scratch).
 */
export class DecisionScratch {
  readonly ctx: EvalContext = new EvalContext();
  readonly a: BucketView = new BucketView();
  readonly b: BucketView = new BucketView();
  /** Policies that apply, per category, over both buckets and the extras. */
  readonly totals: Int32Array = new Int32Array(CATEGORIES);
  readonly best: Best = { policy: undefined, rule: -1 };
  /** The individually applying policies (selector / targetRefs) of the decision. */
  readonly extras: PolicyList = new PolicyList();
  busy = false;

  /** Takes this scratch for one decision, or a fresh one when it is in use. */
  acquire(): DecisionScratch {
    const scratch = this.busy ? new DecisionScratch() : this;
    scratch.busy = true;
    return scratch;
  }

  /** Gives the scratch back, dropping references to the request and policies. */
  release(): void {
    this.ctx.clear();
    this.best.policy = undefined;
    this.extras.clear();
    this.busy = false;
  }
}

/**
 * Decides a request given the policies that apply to its destination: two
 * indexed buckets (mesh-wide and namespace) plus a few individually applying
 * policies (selector / targetRefs, in `scratch.extras`). Order: CUSTOM, then
 * DENY, then ALLOW; AUDIT and dry-run are evaluated beside and never change
 * the result. Among several matching policies of an action, the lowest
 * `namespace/name` decides.
 */
export function decide(
  scratch: DecisionScratch,
  first: Bucket | undefined,
  second: Bucket | undefined,
  options: EvaluateOptions = NO_OPTIONS,
): Decision {
  const ctx = scratch.ctx;
  const a = scratch.a;
  const b = scratch.b;
  const extras = scratch.extras;
  if (first === undefined) a.clear();
  else first.fill(a, ctx);
  if (second === undefined) b.clear();
  else second.fill(b, ctx);
  let allowPolicies = a.allow + b.allow;
  let denyPolicies = a.deny + b.deny;
  let others = a.others + b.others;
  for (let i = 0; i < extras.length; i++) {
    const category = extras.at(i).category;
    if (category === ALLOW) allowPolicies++;
    else if (category === DENY) denyPolicies++;
    else others++;
  }
  // AUDIT, CUSTOM or dry-run policies apply: the full procedure.
  if (others > 0) return decideWithOthers(scratch, options);

  return denyThenAllow(scratch, denyPolicies, allowPolicies, NO_HITS, undefined, NO_CHECKS);
}

/** {@link decide} when AUDIT, CUSTOM or dry-run policies apply (views already filled). */
function decideWithOthers(scratch: DecisionScratch, options: EvaluateOptions): Decision {
  const ctx = scratch.ctx;
  const a = scratch.a;
  const b = scratch.b;
  const extras = scratch.extras;
  const totals = scratch.totals;
  const ac = a.counts;
  const bc = b.counts;
  for (let c = 0; c < CATEGORIES; c++) totals[c] = ac[c]! + bc[c]!;
  for (let i = 0; i < extras.length; i++) totals[extras.at(i).category]!++;

  const request = ctx.request;
  const audit = totals[AUDIT]! > 0 ? collect(ctx, a, b, extras, AUDIT) : NO_HITS;
  const dryRun =
    totals[DRY + DENY]! + totals[DRY + ALLOW]! > 0 ? dryRunResult(ctx, a, b, extras, totals) : undefined;
  let customAllowed = NO_CHECKS;

  if (totals[CUSTOM]! > 0) {
    const hits = collect(ctx, a, b, extras, CUSTOM);
    if (hits.length > 0) {
      const checks = hits.map((hit) => ({ provider: hit.policy.provider!, hit }));
      const verdicts = options.custom ?? {};
      const denied = checks.find((c) => verdicts[c.provider] === 'deny');
      if (denied) {
        return {
          result: 'deny',
          reason: 'custom-denied',
          provider: denied.provider,
          hit: denied.hit,
          request,
          audit,
          dryRun,
          customAllowed,
        };
      }
      const unknown = checks.filter((c) => verdicts[c.provider] !== 'allow');
      if (unknown.length > 0) {
        return {
          result: 'pending',
          reason: 'custom-check-required',
          checks: unknown,
          request,
          audit,
          dryRun,
          customAllowed,
        };
      }
      customAllowed = checks;
    }
  }

  return denyThenAllow(scratch, totals[DENY]!, totals[ALLOW]!, audit, dryRun, customAllowed);
}

/**
 * The end of every decision: the first matching DENY policy denies; else no
 * ALLOW policy allows; else the first matching ALLOW policy allows; else deny.
 * The counts say how many DENY and ALLOW policies apply (a zero skips the walk).
 */
function denyThenAllow(
  scratch: DecisionScratch,
  denyPolicies: number,
  allowPolicies: number,
  audit: readonly RuleHit[],
  dryRun: DryRunResult | undefined,
  customAllowed: readonly CustomCheck[],
): Decision {
  const { ctx, a, b, extras, best } = scratch;
  const request = ctx.request;
  if (denyPolicies > 0) {
    firstMatch(ctx, a, b, extras, DENY, best);
    if (best.policy !== undefined) {
      const hit = best.policy.hit(best.rule);
      return { result: 'deny', reason: 'deny-policy-matched', hit, request, audit, dryRun, customAllowed };
    }
  }
  if (allowPolicies === 0)
    return { result: 'allow', reason: 'no-allow-policy', request, audit, dryRun, customAllowed };
  firstMatch(ctx, a, b, extras, ALLOW, best);
  if (best.policy !== undefined) {
    const hit = best.policy.hit(best.rule);
    return { result: 'allow', reason: 'allow-policy-matched', hit, request, audit, dryRun, customAllowed };
  }
  return {
    result: 'deny',
    reason: 'no-allow-policy-matched',
    allowPolicies,
    request,
    audit,
    dryRun,
    customAllowed,
  };
}

function firstMatch(
  ctx: EvalContext,
  a: BucketView,
  b: BucketView,
  extras: PolicyList,
  wanted: number,
  best: Best,
): void {
  best.policy = undefined;
  best.rule = -1;
  a.firstMatch(wanted, ctx, best);
  b.firstMatch(wanted, ctx, best);
  for (let i = 0; i < extras.length; i++) {
    const policy = extras.at(i);
    if (policy.category !== wanted) continue;
    if (best.policy !== undefined && policy.key >= best.policy.key) continue;
    const rule = policy.matchRule(ctx);
    if (rule >= 0) {
      best.policy = policy;
      best.rule = rule;
    }
  }
}

function collect(
  ctx: EvalContext,
  a: BucketView,
  b: BucketView,
  extras: PolicyList,
  wanted: number,
): RuleHit[] {
  const hits: RuleHit[] = [];
  a.allMatches(wanted, ctx, hits);
  b.allMatches(wanted, ctx, hits);
  for (let i = 0; i < extras.length; i++) {
    const policy = extras.at(i);
    if (policy.category !== wanted) continue;
    const rule = policy.matchRule(ctx);
    if (rule >= 0) hits.push(policy.hit(rule));
  }
  return hits.sort((x, y) => (x.policy.key < y.policy.key ? -1 : x.policy.key > y.policy.key ? 1 : 0));
}

function dryRunResult(
  ctx: EvalContext,
  a: BucketView,
  b: BucketView,
  extras: PolicyList,
  totals: Int32Array,
): DryRunResult {
  const best: Best = { policy: undefined, rule: -1 };
  let deny: ShadowResult | undefined;
  let allow: ShadowResult | undefined;
  if (totals[DRY + DENY]! > 0) {
    firstMatch(ctx, a, b, extras, DRY + DENY, best);
    deny = best.policy ? { result: 'denied', hit: best.policy.hit(best.rule) } : { result: 'allowed' };
  }
  if (totals[DRY + ALLOW]! > 0) {
    firstMatch(ctx, a, b, extras, DRY + ALLOW, best);
    allow = best.policy ? { result: 'allowed', hit: best.policy.hit(best.rule) } : { result: 'denied' };
  }
  return { ...(deny ? { deny } : {}), ...(allow ? { allow } : {}) };
}
