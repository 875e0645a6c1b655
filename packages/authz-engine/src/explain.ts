import {
  type Check,
  type CompiledMatch,
  CompiledPolicy,
  type CompiledRule,
  firstFailingCheck,
  firstMatchingMatch,
  type PolicyRef,
} from './compiled-policy.js';
import type { Decision, RuleHit } from './decision.js';
import { EvalContext } from './eval-context.js';

const MAX_LISTED = 5;

/**
 * Says why a decision was made, in sentences a person can read, for logs,
 * admin endpoints and `amesh` CLI output.
 *
 * @example
 * ```ts
 * explain(set.evaluate(request));
 * // "denied by DENY policy foo/deny-ns rule 0: source namespace bar matched namespaces[0] 'bar'"
 * ```
 */
export function explain(decision: Decision): string {
  return explainWith(decision, undefined);
}

/**
 * {@link explain}, listing why each applicable ALLOW policy missed when the
 * caller (a policy set) can say which applied.
 */
export function explainWith(
  decision: Decision,
  allowPolicies: ((request: Decision['request']) => readonly CompiledPolicy[]) | undefined,
): string {
  const ctx = new EvalContext(decision.request);
  const lines: string[] = [];
  switch (decision.reason) {
    case 'deny-policy-matched':
      lines.push(`denied by ${describeHit(decision.hit, ctx)}`);
      break;
    case 'allow-policy-matched':
      lines.push(`allowed by ${describeHit(decision.hit, ctx)}`);
      break;
    case 'no-allow-policy':
      lines.push(
        `allowed: no DENY policy matched and no ALLOW policy applies to the destination (namespace ${decision.request.destination.namespace})`,
      );
      break;
    case 'no-allow-policy-matched': {
      const n = decision.allowPolicies;
      lines.push(
        `denied: ${n} ALLOW polic${n === 1 ? 'y applies' : 'ies apply'} to the destination and none matched`,
      );
      if (allowPolicies) {
        for (const policy of allowPolicies(decision.request).slice(0, MAX_LISTED)) {
          lines.push(`  ${whyNot(policy, ctx)}`);
        }
        if (n > MAX_LISTED) lines.push(`  (and ${n - MAX_LISTED} more)`);
      }
      break;
    }
    case 'custom-denied':
      lines.push(
        `denied by external authorizer ${quote(decision.provider)}, asked because of ${describeHit(decision.hit, ctx)}`,
      );
      break;
    case 'custom-check-required':
      lines.push(
        `pending: external authorizer${decision.checks.length > 1 ? 's' : ''} ${decision.checks
          .map((c) => quote(c.provider))
          .join(
            ', ',
          )} must decide, asked because of ${decision.checks.map((c) => describeHit(c.hit, ctx)).join('; ')}`,
      );
      break;
  }
  for (const check of decision.customAllowed) {
    lines.push(`external authorizer ${quote(check.provider)} allowed (${name(check.hit.policy)})`);
  }
  for (const hit of decision.audit) lines.push(`audited by ${describeHit(hit, ctx)}`);
  const dry = decision.dryRun;
  if (dry?.deny) {
    lines.push(
      dry.deny.hit
        ? `dry-run: would be denied by ${describeHit(dry.deny.hit, ctx)}`
        : 'dry-run: no dry-run DENY policy matched',
    );
  }
  if (dry?.allow) {
    lines.push(
      dry.allow.hit
        ? `dry-run: would be allowed by ${describeHit(dry.allow.hit, ctx)}`
        : 'dry-run: would be denied, no dry-run ALLOW policy matched',
    );
  }
  return lines.join('\n');
}

function name(policy: PolicyRef): string {
  return `${policy.dryRun ? 'dry-run ' : ''}${policy.action} policy ${policy.key}`;
}

function describeHit(hit: RuleHit, ctx: EvalContext): string {
  const head = `${name(hit.policy)} rule ${hit.ruleIndex}`;
  if (!(hit.policy instanceof CompiledPolicy)) return head;
  const rule = hit.policy.rules[hit.ruleIndex];
  if (rule === undefined) return head;
  return `${head}: ${describeRule(rule, ctx)}`;
}

function describeRule(rule: CompiledRule, ctx: EvalContext): string {
  if (rule.clauses.length === 0) return 'the rule is empty and matches every request';
  const parts: string[] = [];
  for (const clause of rule.clauses) {
    if (clause.matches.length === 0) continue;
    const index = firstMatchingMatch(clause, ctx);
    const match = clause.matches[index];
    if (match === undefined) continue;
    const label = clause.matches.length > 1 ? `${clause.label}[${index}]` : clause.label;
    parts.push(match.checks.length === 0 ? `${label} is empty and matches` : describeMatch(match, ctx));
  }
  return parts.length === 0 ? 'every part of the rule is empty and matches' : parts.join('; ');
}

function describeMatch(match: CompiledMatch, ctx: EvalContext): string {
  return match.checks.map((check) => describeCheck(check, ctx)).join(', ');
}

function describeCheck(check: Check, ctx: EvalContext): string {
  const value = check.show(ctx);
  const subject = value === undefined ? `${check.attribute} (absent)` : `${check.attribute} ${value}`;
  const found = check.find(ctx);
  if (found >= 0) {
    return `${subject} ${check.negated ? 'is listed in' : 'matched'} ${check.field}[${found}] ${quote(check.patterns[found] ?? '')}`;
  }
  return `${subject} ${check.negated ? 'is not in' : 'matched none of'} ${check.field} ${list(check.patterns)}`;
}

function whyNot(policy: CompiledPolicy, ctx: EvalContext): string {
  if (policy.rules.length === 0) return `${name(policy)} has no rules and never matches`;
  const reasons = policy.rules.map((rule, r) => {
    for (const clause of rule.clauses) {
      if (firstMatchingMatch(clause, ctx) >= 0) continue;
      const first = clause.matches[0]!;
      const failing = first.checks[firstFailingCheck(first, ctx)];
      const more =
        clause.matches.length > 1
          ? ` (and ${clause.matches.length - 1} other ${clause.label} entries failed)`
          : '';
      return `rule ${r}: ${failing ? describeCheck(failing, ctx) : 'no match'}${more}`;
    }
    return `rule ${r}: matched`;
  });
  return `${name(policy)} did not match: ${reasons.join('; ')}`;
}

function quote(text: string): string {
  return `'${text}'`;
}

function list(patterns: readonly string[]): string {
  const shown = patterns.slice(0, MAX_LISTED).map(quote).join(', ');
  return `[${shown}${patterns.length > MAX_LISTED ? ', …' : ''}]`;
}
