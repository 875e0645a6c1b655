import type { PolicyRef } from './compiled-policy.js';
import type { AuthzRequest } from './request.js';

/** A policy and the index of its rule that matched the request. */
export interface RuleHit {
  readonly policy: PolicyRef;
  readonly ruleIndex: number;
}

/**
 * What the dry-run policies of one action would have decided, as Envoy's
 * shadow RBAC engines report it (`istio_dry_run_{deny,allow}_shadow_*`).
 */
export interface ShadowResult {
  readonly result: 'allowed' | 'denied';
  /** The dry-run rule that matched, if any. */
  readonly hit?: RuleHit;
}

/** Results of the dry-run policies that apply; an action is absent when it has no dry-run policy. */
export interface DryRunResult {
  readonly deny?: ShadowResult;
  readonly allow?: ShadowResult;
}

/** A CUSTOM policy matched: its provider must be asked. */
export interface CustomCheck {
  readonly provider: string;
  readonly hit: RuleHit;
}

/** Verdicts of external authorizers, by provider name, fed back into `evaluate`. */
export type CustomVerdicts = Readonly<Record<string, 'allow' | 'deny'>>;

/** What every decision carries besides its result. */
export interface DecisionDetails {
  readonly request: AuthzRequest;
  /** Matching AUDIT policies: the request should be audit-logged (never changes the result). */
  readonly audit: readonly RuleHit[];
  /** Dry-run results; `undefined` when no dry-run policy applies. */
  readonly dryRun: DryRunResult | undefined;
  /** CUSTOM providers that matched and allowed (their verdict was passed in). */
  readonly customAllowed: readonly CustomCheck[];
}

/**
 * The outcome of an evaluation, tagged by `reason`:
 * - `deny-policy-matched`: a DENY rule matched (`hit`).
 * - `allow-policy-matched`: no DENY matched and an ALLOW rule did (`hit`).
 * - `no-allow-policy`: no DENY matched and no ALLOW policy applies: allowed.
 * - `no-allow-policy-matched`: ALLOW policies apply (`allowPolicies` of them) and none matched: denied.
 * - `custom-denied`: a CUSTOM policy matched and its provider's verdict was `deny`.
 * - `custom-check-required`: a CUSTOM policy matched and its provider's verdict is unknown:
 *   ask the providers in `checks`, then evaluate again with their verdicts.
 */
export type Decision = DecisionDetails &
  (
    | { readonly result: 'deny'; readonly reason: 'deny-policy-matched'; readonly hit: RuleHit }
    | { readonly result: 'allow'; readonly reason: 'allow-policy-matched'; readonly hit: RuleHit }
    | { readonly result: 'allow'; readonly reason: 'no-allow-policy' }
    | { readonly result: 'deny'; readonly reason: 'no-allow-policy-matched'; readonly allowPolicies: number }
    | {
        readonly result: 'deny';
        readonly reason: 'custom-denied';
        readonly provider: string;
        readonly hit: RuleHit;
      }
    | {
        readonly result: 'pending';
        readonly reason: 'custom-check-required';
        readonly checks: readonly CustomCheck[];
      }
  );

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** Verdicts of external authorizers for CUSTOM policies, by provider name. */
  readonly custom?: CustomVerdicts;
}
