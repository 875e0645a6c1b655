import { conditionKeyInfo } from './condition-keys.js';
import type { ValidationIssue } from './errors.js';
import { ipAddressToBytes, parseCidr } from './ip-address.js';
import {
  type AuthorizationPolicy,
  type AuthorizationRule,
  type Condition,
  DRY_RUN_ANNOTATION,
  type Source,
} from './resource-types.js';
import { parseIstioPattern, toWireStringMatch } from './string-pattern.js';
import { l7Message, l7Parts, validateAuthorizationPolicy } from './validate-resource.js';
import type {
  WireAddress,
  WireAuthorization,
  WireClause,
  WireMatch,
  WireRule,
  WireScope,
  WireServiceAccountMatch,
  WireStringMatch,
} from './wire-types.js';

/** Options of the conversions to the wire form. */
export interface ConversionOptions {
  /** Root namespace: its namespace-wide policies become GLOBAL. Default `istio-system`. */
  readonly rootNamespace?: string;
}

/**
 * Result of converting a resource for ztunnel:
 * - `converted`: the wire policy, with a warning for every part ztunnel cannot enforce;
 * - `skipped`: nothing for ztunnel (attached to a waypoint, AUDIT/CUSTOM, nothing to enforce), and why;
 * - `invalid`: the resource failed validation (every error listed).
 */
export type ConversionResult =
  | {
      readonly status: 'converted';
      readonly authorization: WireAuthorization;
      readonly warnings: readonly ValidationIssue[];
    }
  | { readonly status: 'skipped'; readonly reason: string; readonly warnings: readonly ValidationIssue[] }
  | { readonly status: 'invalid'; readonly errors: readonly ValidationIssue[] };

/**
 * Converts an AuthorizationPolicy into the `istio.security.Authorization` ztunnel
 * enforces, as Istio's control plane does: an ALLOW rule with any HTTP
 * attribute is dropped (it never matches, so ALLOW fails closed); a DENY rule
 * keeps only its L4 parts (so it denies more); a warning for every such part.
 * @example
 * ```ts
 * const result = toWireAuthorization(policy);
 * if (result.status === 'converted') xds.publish(`${ns}/${name}`, result.authorization);
 * ```
 */
export function toWireAuthorization(
  policy: AuthorizationPolicy,
  options: ConversionOptions = {},
): ConversionResult {
  const validation = validateAuthorizationPolicy(policy, { enforcement: 'waypoint' });
  if (!validation.valid) return { status: 'invalid', errors: validation.errors };
  const warnings: ValidationIssue[] = [...validation.warnings];
  const spec = policy.spec ?? {};
  const refs = spec.targetRefs ?? (spec.targetRef ? [spec.targetRef] : []);
  if (refs.length > 0) {
    return {
      status: 'skipped',
      reason: 'the policy is attached with targetRefs and enforced by a waypoint',
      warnings,
    };
  }
  const action = spec.action ?? 'ALLOW';
  if (action === 'AUDIT' || action === 'CUSTOM') {
    warnings.push({
      path: 'spec.action',
      code: 'AUTHZ_ERR_L7_AT_L4',
      message: `ztunnel does not enforce ${action} policies; attach the policy to a waypoint with targetRefs`,
    });
    return { status: 'skipped', reason: `ztunnel does not enforce ${action} policies`, warnings };
  }
  const rootNamespace = options.rootNamespace ?? 'istio-system';
  const namespace = policy.metadata.namespace!;
  const selected = Object.keys(spec.selector?.matchLabels ?? {}).length > 0;
  const scope: WireScope = selected
    ? 'WORKLOAD_SELECTOR'
    : namespace === rootNamespace
      ? 'GLOBAL'
      : 'NAMESPACE';
  const deny = action === 'DENY';
  const rules: WireRule[] = [];
  (spec.rules ?? []).forEach((rule, r) => {
    const base = `spec.rules[${r}]`;
    const parts = l7Parts(rule, base);
    for (const part of parts)
      warnings.push({ path: part.path, code: 'AUTHZ_ERR_L7_AT_L4', message: l7Message(part, deny) });
    if (!deny && parts.length > 0) return; // Istio: an ALLOW rule with HTTP attributes never matches at L4.
    rules.push(convertRule(rule));
  });
  const authorization: WireAuthorization = {
    name: policy.metadata.name,
    namespace,
    scope,
    action,
    rules,
    dryRun: policy.metadata.annotations?.[DRY_RUN_ANNOTATION] === 'true',
  };
  return { status: 'converted', authorization, warnings };
}

function convertRule(rule: AuthorizationRule): WireRule {
  const clauses: WireClause[] = [];
  if (rule.to && rule.to.length > 0) {
    clauses.push({
      matches: rule.to.map(({ operation = {} }) =>
        compact({
          destinationPorts: (operation.ports ?? []).map(Number),
          notDestinationPorts: (operation.notPorts ?? []).map(Number),
        }),
      ),
    });
  }
  if (rule.from && rule.from.length > 0) {
    clauses.push({ matches: rule.from.map(({ source = {} }) => sourceMatch(source)) });
  }
  for (const condition of rule.when ?? []) clauses.push({ matches: [conditionMatch(condition)] });
  return { clauses };
}

function sourceMatch(source: Source): WireMatch {
  return compact({
    sourceIps: (source.ipBlocks ?? []).map(toAddress),
    notSourceIps: (source.notIpBlocks ?? []).map(toAddress),
    namespaces: (source.namespaces ?? []).map(toStringMatch),
    notNamespaces: (source.notNamespaces ?? []).map(toStringMatch),
    principals: (source.principals ?? []).map(toPrincipalMatch),
    notPrincipals: (source.notPrincipals ?? []).map(toPrincipalMatch),
    serviceAccounts: (source.serviceAccounts ?? []).map(toServiceAccount),
    notServiceAccounts: (source.notServiceAccounts ?? []).map(toServiceAccount),
  });
}

/** An L4 condition becomes one match; an HTTP one an empty match (only reached for DENY). */
function conditionMatch(condition: Condition): WireMatch {
  const key = conditionKeyInfo(condition.key);
  if (key === undefined || key.info.layer === 'L7') return {};
  const values = condition.values ?? [];
  const notValues = condition.notValues ?? [];
  switch (key.key) {
    case 'source.ip':
      return compact({ sourceIps: values.map(toAddress), notSourceIps: notValues.map(toAddress) });
    case 'destination.ip':
      return compact({ destinationIps: values.map(toAddress), notDestinationIps: notValues.map(toAddress) });
    case 'destination.port':
      return compact({ destinationPorts: values.map(Number), notDestinationPorts: notValues.map(Number) });
    case 'source.namespace':
      return compact({ namespaces: values.map(toStringMatch), notNamespaces: notValues.map(toStringMatch) });
    default:
      return compact({
        principals: values.map(toPrincipalMatch),
        notPrincipals: notValues.map(toPrincipalMatch),
      });
  }
}

/** Drops empty lists, so the wire object carries only what is set. */
function compact(match: { [K in keyof WireMatch]?: NonNullable<WireMatch[K]> }): WireMatch {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(match)) if (v !== undefined && v.length > 0) out[k] = v;
  return out as WireMatch;
}

function toAddress(text: string): WireAddress {
  const cidr = parseCidr(text);
  return { address: ipAddressToBytes(cidr), length: cidr.prefixLength };
}

function toStringMatch(text: string): WireStringMatch {
  return toWireStringMatch(parseIstioPattern(text));
}

function toPrincipalMatch(text: string): WireStringMatch {
  return toStringMatch(text.startsWith('spiffe://') ? text.slice(9) : text);
}

function toServiceAccount(text: string): WireServiceAccountMatch {
  const [namespace = '', serviceAccount = ''] = text.split('/');
  return { namespace, serviceAccount };
}
