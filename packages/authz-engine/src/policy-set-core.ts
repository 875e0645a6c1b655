import type { CompiledPolicy } from './compiled-policy.js';
import type {
  CustomCheck,
  Decision,
  DryRunResult,
  EvaluateOptions,
  RuleHit,
  ShadowResult,
} from './decision.js';
import type { EvalContext } from './eval-context.js';
import { type Best, type Bucket, type BucketView, EMPTY_VIEW } from './bucket.js';

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

const NONE: readonly CompiledPolicy[] = [];
const NO_HITS: readonly RuleHit[] = [];
const NO_CHECKS: readonly CustomCheck[] = [];
const NO_OPTIONS: EvaluateOptions = {};

/**
 * Decides a request given the policies that apply to its destination: two
 * indexed buckets (mesh-wide and namespace) plus a few individually applying
 * policies (selector / targetRefs). Order: CUSTOM, then DENY, then ALLOW;
 * AUDIT and dry-run are evaluated beside and never change the result. Among
 * several matching policies of an action, the lowest `namespace/name` decides.
 */
export function decide(
  ctx: EvalContext,
  first: Bucket | undefined,
  second: Bucket | undefined,
  extras: readonly CompiledPolicy[] = NONE,
  options: EvaluateOptions = NO_OPTIONS,
): Decision {
  const a = first === undefined ? EMPTY_VIEW : first.view(ctx);
  const b = second === undefined ? EMPTY_VIEW : second.view(ctx);
  const request = ctx.request;
  const audit =
    a.counts[AUDIT]! + b.counts[AUDIT]! + count(extras, AUDIT) > 0
      ? collect(ctx, a, b, extras, AUDIT)
      : NO_HITS;
  const dryRun = dryRunResult(ctx, a, b, extras);
  let customAllowed = NO_CHECKS;

  if (a.counts[CUSTOM]! + b.counts[CUSTOM]! + count(extras, CUSTOM) > 0) {
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

  const best: Best = { policy: undefined, rule: -1 };
  firstMatch(ctx, a, b, extras, DENY, best);
  if (best.policy !== undefined) {
    const hit: RuleHit = { policy: best.policy, ruleIndex: best.rule };
    return { result: 'deny', reason: 'deny-policy-matched', hit, request, audit, dryRun, customAllowed };
  }
  const allowPolicies = a.counts[ALLOW]! + b.counts[ALLOW]! + count(extras, ALLOW);
  if (allowPolicies === 0)
    return { result: 'allow', reason: 'no-allow-policy', request, audit, dryRun, customAllowed };
  firstMatch(ctx, a, b, extras, ALLOW, best);
  if (best.policy !== undefined) {
    const hit: RuleHit = { policy: best.policy, ruleIndex: best.rule };
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

function count(extras: readonly CompiledPolicy[], wanted: number): number {
  let n = 0;
  for (let i = 0; i < extras.length; i++) if (extras[i]!.category === wanted) n++;
  return n;
}

function firstMatch(
  ctx: EvalContext,
  a: BucketView,
  b: BucketView,
  extras: readonly CompiledPolicy[],
  wanted: number,
  best: Best,
): void {
  best.policy = undefined;
  best.rule = -1;
  a.firstMatch(wanted, ctx, best);
  b.firstMatch(wanted, ctx, best);
  for (let i = 0; i < extras.length; i++) {
    const policy = extras[i]!;
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
  extras: readonly CompiledPolicy[],
  wanted: number,
): RuleHit[] {
  const hits: RuleHit[] = [];
  a.allMatches(wanted, ctx, hits);
  b.allMatches(wanted, ctx, hits);
  for (const policy of extras) {
    if (policy.category !== wanted) continue;
    const rule = policy.matchRule(ctx);
    if (rule >= 0) hits.push({ policy, ruleIndex: rule });
  }
  return hits.sort((x, y) => (x.policy.key < y.policy.key ? -1 : x.policy.key > y.policy.key ? 1 : 0));
}

function dryRunResult(
  ctx: EvalContext,
  a: BucketView,
  b: BucketView,
  extras: readonly CompiledPolicy[],
): DryRunResult | undefined {
  const denyCount = a.counts[DRY + DENY]! + b.counts[DRY + DENY]! + count(extras, DRY + DENY);
  const allowCount = a.counts[DRY + ALLOW]! + b.counts[DRY + ALLOW]! + count(extras, DRY + ALLOW);
  if (denyCount === 0 && allowCount === 0) return undefined;
  const best: Best = { policy: undefined, rule: -1 };
  let deny: ShadowResult | undefined;
  let allow: ShadowResult | undefined;
  if (denyCount > 0) {
    firstMatch(ctx, a, b, extras, DRY + DENY, best);
    deny = best.policy
      ? { result: 'denied', hit: { policy: best.policy, ruleIndex: best.rule } }
      : { result: 'allowed' };
  }
  if (allowCount > 0) {
    firstMatch(ctx, a, b, extras, DRY + ALLOW, best);
    allow = best.policy
      ? { result: 'allowed', hit: { policy: best.policy, ruleIndex: best.rule } }
      : { result: 'denied' };
  }
  return { ...(deny ? { deny } : {}), ...(allow ? { allow } : {}) };
}
