/**
 * Istio AuthorizationPolicy semantics for amesh: validate policies, convert
 * them (and PeerAuthentication) for ztunnel, compile both the user-facing and
 * the wire form into indexed matchers, evaluate L4 and L7 requests with
 * dry-run and audit, and explain decisions. Pure: no I/O.
 * @packageDocumentation
 */
export { AuthorizationPolicySet } from './authorization-policy-set.js';
export type { AuthorizationPolicySetOptions, EnforcementPoint } from './authorization-policy-set.js';
export { AuthorizationSet } from './authorization-set.js';
export type { AuthorizationSetOptions } from './authorization-set.js';
export { compileAuthorizationPolicy } from './compile-resource.js';
export { compileWireAuthorization, validateWireAuthorization } from './compile-wire.js';
export type { PolicyAction, PolicyRef } from './compiled-policy.js';
export { CONDITION_KEYS, conditionKeyInfo } from './condition-keys.js';
export type { ConditionKeyInfo, ConditionValueKind, ParsedConditionKey } from './condition-keys.js';
export { toWireAuthorization } from './convert-authorization-policy.js';
export type { ConversionOptions, ConversionResult } from './convert-authorization-policy.js';
export {
  PEER_AUTHENTICATION_POLICY_PREFIX,
  peerAuthenticationToWire,
} from './convert-peer-authentication.js';
export type { PeerAuthenticationOptions } from './convert-peer-authentication.js';
export type {
  CustomCheck,
  CustomVerdicts,
  Decision,
  DecisionDetails,
  DryRunResult,
  EvaluateOptions,
  RuleHit,
  ShadowResult,
} from './decision.js';
export { AuthzError } from './errors.js';
export type { AuthzErrorCode, ValidationIssue } from './errors.js';
export { explain } from './explain.js';
export {
  cidrContains,
  cidrFromBytes,
  formatIpAddress,
  ipAddressToBytes,
  parseCidr,
  parseIpAddress,
  tryParseCidr,
  tryParseIpAddress,
} from './ip-address.js';
export type { Cidr, IpAddress } from './ip-address.js';
export { referenceEvaluatePolicies, referenceEvaluateWire } from './reference-evaluator.js';
export type { ReferenceDecision } from './reference-evaluator.js';
export type { AuthzRequest, HttpAttributes, RequestDestination } from './request.js';
export { DRY_RUN_ANNOTATION } from './resource-types.js';
export type {
  AuthorizationAction,
  AuthorizationPolicy,
  AuthorizationPolicySpec,
  AuthorizationRule,
  Condition,
  MtlsMode,
  Operation,
  PeerAuthentication,
  PolicyTargetReference,
  ResourceMetadata,
  Source,
  WorkloadSelector,
} from './resource-types.js';
export { validateAuthorizationPolicy } from './validate-resource.js';
export type { Enforcement, ValidateOptions, ValidationResult } from './validate-resource.js';
export type {
  WireAction,
  WireAddress,
  WireAuthorization,
  WireClause,
  WireMatch,
  WireRule,
  WireScope,
  WireServiceAccountMatch,
  WireStringMatch,
} from './wire-types.js';
