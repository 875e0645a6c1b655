import { conditionKeyInfo } from './condition-keys.js';
import { cidrFromBytes, type IpAddress, tryParseCidr, tryParseIpAddress } from './ip-address.js';
import type { AuthzRequest } from './request.js';
import {
  type AuthorizationPolicy,
  type AuthorizationRule,
  DRY_RUN_ANNOTATION,
  type PolicyTargetReference,
} from './resource-types.js';
import type { CustomVerdicts } from './decision.js';
import { fromWireStringMatch, type StringPattern } from './string-pattern.js';
import type { WireAuthorization, WireMatch } from './wire-types.js';

/** The outcome of a reference evaluation: the fields a compiled {@link Decision} must agree with. */
export interface ReferenceDecision {
  readonly result: 'allow' | 'deny' | 'pending';
  readonly reason:
    | 'deny-policy-matched'
    | 'allow-policy-matched'
    | 'no-allow-policy'
    | 'no-allow-policy-matched'
    | 'custom-denied'
    | 'custom-check-required';
  /** `namespace/name` and rule index of the deciding policy, when one decided. */
  readonly policy?: string;
  readonly ruleIndex?: number;
  /** Matching AUDIT policies, `namespace/name`, sorted. */
  readonly audit: readonly string[];
  /** Dry-run shadow results: `allowed`/`denied` and the deciding dry-run policy. */
  readonly dryRun: {
    readonly deny?: { readonly result: 'allowed' | 'denied'; readonly policy?: string };
    readonly allow?: { readonly result: 'allowed' | 'denied'; readonly policy?: string };
  };
}

interface Candidate {
  readonly key: string;
  readonly action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  readonly dryRun: boolean;
  readonly provider?: string;
  /** Index of the first matching rule, or -1. */
  readonly matchRule: (request: AuthzRequest) => number;
}

/**
 * A deliberately plain evaluator of wire-form policies: scans every policy,
 * interprets the spec directly (no compilation, no index). Slow; it exists to
 * check the compiled engine (property tests) and as the benchmark baseline.
 */
export function referenceEvaluateWire(
  policies: readonly WireAuthorization[],
  request: AuthzRequest,
  options: { readonly rootNamespace?: string } = {},
): ReferenceDecision {
  const root = options.rootNamespace ?? 'istio-system';
  const applicable: Candidate[] = [];
  for (const p of policies) {
    const scope = p.scope ?? 'GLOBAL';
    const key = `${p.namespace}/${p.name}`;
    const applies =
      scope === 'WORKLOAD_SELECTOR'
        ? (request.destination.policies ?? []).includes(key)
        : scope === 'GLOBAL' && p.namespace === root
          ? true
          : p.namespace === request.destination.namespace;
    if (!applies) continue;
    applicable.push({
      key,
      action: p.action ?? 'ALLOW',
      dryRun: p.dryRun === true,
      matchRule: (req) =>
        (p.rules ?? []).findIndex((rule) =>
          (rule.clauses ?? []).every((clause) => {
            const matches = clause.matches ?? [];
            return matches.length === 0 || matches.some((m) => wireMatch(m, req));
          }),
        ),
    });
  }
  return combine(applicable, request, {});
}

/**
 * The plain evaluator of user-facing policies, with the same applicability
 * rules as {@link AuthorizationPolicySet} in the given mode.
 */
export function referenceEvaluatePolicies(
  policies: readonly AuthorizationPolicy[],
  request: AuthzRequest,
  options: {
    readonly mode: 'waypoint' | 'workload';
    readonly rootNamespace?: string;
    readonly custom?: CustomVerdicts;
  },
): ReferenceDecision {
  const root = options.rootNamespace ?? 'istio-system';
  const destination = request.destination;
  const applicable: Candidate[] = [];
  for (const p of policies) {
    const spec = p.spec ?? {};
    const namespace = p.metadata.namespace!;
    const refs: readonly PolicyTargetReference[] =
      spec.targetRefs ?? (spec.targetRef ? [spec.targetRef] : []);
    const labels = spec.selector?.matchLabels ?? {};
    let applies: boolean;
    if (options.mode === 'waypoint') {
      applies = refs.some((ref) =>
        (destination.targetRefs ?? []).some((want) =>
          ref.kind === 'GatewayClass'
            ? want.kind === 'GatewayClass' && want.name === ref.name && namespace === root
            : want.kind === ref.kind &&
              want.name === ref.name &&
              (want.namespace ?? destination.namespace) === (ref.namespace ?? namespace),
        ),
      );
    } else if (refs.length > 0) {
      applies = false;
    } else if (Object.keys(labels).length > 0) {
      applies =
        destination.labels !== undefined &&
        (namespace === root || namespace === destination.namespace) &&
        Object.entries(labels).every(([k, v]) => destination.labels![k] === v);
    } else {
      applies = namespace === root || namespace === destination.namespace;
    }
    if (!applies) continue;
    const action = spec.action ?? 'ALLOW';
    applicable.push({
      key: `${namespace}/${p.metadata.name}`,
      action,
      dryRun:
        p.metadata.annotations?.[DRY_RUN_ANNOTATION] === 'true' && (action === 'ALLOW' || action === 'DENY'),
      ...(action === 'CUSTOM' ? { provider: spec.provider?.name ?? '' } : {}),
      matchRule: (req) => (spec.rules ?? []).findIndex((rule) => resourceRuleMatches(rule, req)),
    });
  }
  return combine(applicable, request, options.custom ?? {});
}

function combine(applicable: Candidate[], request: AuthzRequest, custom: CustomVerdicts): ReferenceDecision {
  applicable.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const first = (action: string, dryRun: boolean): { key: string; rule: number } | undefined => {
    for (const c of applicable) {
      if (c.action !== action || c.dryRun !== dryRun) continue;
      const rule = c.matchRule(request);
      if (rule >= 0) return { key: c.key, rule };
    }
    return undefined;
  };
  const count = (action: string, dryRun: boolean): number =>
    applicable.filter((c) => c.action === action && c.dryRun === dryRun).length;
  const audit = applicable
    .filter((c) => c.action === 'AUDIT' && !c.dryRun && c.matchRule(request) >= 0)
    .map((c) => c.key);
  const dryRun: {
    deny?: { result: 'allowed' | 'denied'; policy?: string };
    allow?: { result: 'allowed' | 'denied'; policy?: string };
  } = {};
  if (count('DENY', true) > 0) {
    const hit = first('DENY', true);
    dryRun.deny = hit ? { result: 'denied', policy: hit.key } : { result: 'allowed' };
  }
  if (count('ALLOW', true) > 0) {
    const hit = first('ALLOW', true);
    dryRun.allow = hit ? { result: 'allowed', policy: hit.key } : { result: 'denied' };
  }
  const base = { audit, dryRun };
  const customHits = applicable.filter((c) => c.action === 'CUSTOM' && c.matchRule(request) >= 0);
  const denier = customHits.find((c) => custom[c.provider!] === 'deny');
  if (denier) {
    return {
      ...base,
      result: 'deny',
      reason: 'custom-denied',
      policy: denier.key,
      ruleIndex: denier.matchRule(request),
    };
  }
  if (customHits.some((c) => custom[c.provider!] !== 'allow')) {
    return { ...base, result: 'pending', reason: 'custom-check-required' };
  }
  const deny = first('DENY', false);
  if (deny)
    return { ...base, result: 'deny', reason: 'deny-policy-matched', policy: deny.key, ruleIndex: deny.rule };
  if (count('ALLOW', false) === 0) return { ...base, result: 'allow', reason: 'no-allow-policy' };
  const allow = first('ALLOW', false);
  if (allow)
    return {
      ...base,
      result: 'allow',
      reason: 'allow-policy-matched',
      policy: allow.key,
      ruleIndex: allow.rule,
    };
  return { ...base, result: 'deny', reason: 'no-allow-policy-matched' };
}

// ---- attribute access, written out plainly ----

function ip(value: string | IpAddress): IpAddress {
  return typeof value === 'string' ? tryParseIpAddress(value)! : value;
}

function bigint(address: IpAddress): bigint {
  return address.words.reduce((acc, w) => (acc << 32n) | BigInt(w), 0n);
}

/** CIDR containment with BigInt arithmetic (independent of the compiled word masks). */
function within(address: IpAddress, family: 4 | 6, network: bigint, prefix: number): boolean {
  if (address.family !== family) return false;
  const bits = family === 4 ? 32 : 128;
  const shift = BigInt(bits - prefix);
  return bigint(address) >> shift === network >> shift;
}

function withinText(address: IpAddress, text: string): boolean {
  const cidr = tryParseCidr(text)!;
  return within(address, cidr.family, bigint(cidr), cidr.prefixLength);
}

function principalOf(request: AuthzRequest): string | undefined {
  const p = request.sourcePrincipal;
  if (p === undefined || p === '') return undefined;
  return p.startsWith('spiffe://') ? p.slice(9) : p;
}

function identityPart(request: AuthzRequest, part: 'ns' | 'sa'): string | undefined {
  const segments = principalOf(request)?.split('/');
  if (
    segments?.length !== 5 ||
    segments[1] !== 'ns' ||
    segments[3] !== 'sa' ||
    !segments[2] ||
    !segments[4]
  ) {
    return undefined;
  }
  return part === 'ns' ? segments[2] : segments[4];
}

function serviceAccountOf(request: AuthzRequest): string | undefined {
  const ns = identityPart(request, 'ns');
  const sa = identityPart(request, 'sa');
  return ns && sa ? `${ns}/${sa}` : undefined;
}

function patternHit(pattern: StringPattern, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (pattern.kind === 'presence') return value !== '';
  if (pattern.kind === 'prefix') return value.slice(0, pattern.value.length) === pattern.value;
  if (pattern.kind === 'suffix')
    return (
      value.length >= pattern.value.length &&
      value.slice(value.length - pattern.value.length) === pattern.value
    );
  return value === pattern.value;
}

function istio(text: string): StringPattern {
  if (text === '*') return { kind: 'presence', value: '', text };
  if (text.length > 1 && text[0] === '*') return { kind: 'suffix', value: text.slice(1), text };
  if (text.length > 1 && text[text.length - 1] === '*')
    return { kind: 'prefix', value: text.slice(0, -1), text };
  return { kind: 'exact', value: text, text };
}

/** Positive list: empty = not checked, else some value matches; negative list: none may match. */
function field<T>(
  positive: readonly T[] | undefined,
  negative: readonly T[] | undefined,
  hit: (v: T) => boolean,
): boolean {
  if (positive && positive.length > 0 && !positive.some(hit)) return false;
  if (negative && negative.length > 0 && negative.some(hit)) return false;
  return true;
}

function wireMatch(m: WireMatch, request: AuthzRequest): boolean {
  const src = ip(request.sourceIp);
  const dst = ip(request.destinationIp);
  const addressHit = (address: IpAddress) => (a: { address: Uint8Array; length?: number }) => {
    const cidr = cidrFromBytes(a.address, a.length ?? 0);
    return within(address, cidr.family, bigint(cidr), cidr.prefixLength);
  };
  const principal = principalOf(request);
  const namespace = identityPart(request, 'ns');
  const account = serviceAccountOf(request);
  return (
    field(m.destinationPorts, m.notDestinationPorts, (p) => p === request.destinationPort) &&
    field(m.sourceIps, m.notSourceIps, addressHit(src)) &&
    field(m.destinationIps, m.notDestinationIps, addressHit(dst)) &&
    field(m.namespaces, m.notNamespaces, (s) => patternHit(fromWireStringMatch(s)!, namespace)) &&
    field(m.principals, m.notPrincipals, (s) => patternHit(fromWireStringMatch(s)!, principal)) &&
    field(m.serviceAccounts, m.notServiceAccounts, (s) => account === `${s.namespace}/${s.serviceAccount}`)
  );
}

function resourceRuleMatches(rule: AuthorizationRule, request: AuthzRequest): boolean {
  const http = request.http ?? {};
  const src = ip(request.sourceIp);
  const remote = http.remoteIp === undefined ? src : ip(http.remoteIp);
  const principal = principalOf(request);
  const strip = (t: string) => istio(t.startsWith('spiffe://') ? t.slice(9) : t);
  const stringHit = (value: string | undefined) => (t: string) => patternHit(istio(t), value);
  const hostHit = (t: string) => {
    const host = http.host?.toLowerCase();
    const pattern = istio(t.toLowerCase());
    if (host === undefined) return false;
    const colon = host.lastIndexOf(':');
    return (
      patternHit(pattern, host) ||
      (colon >= 0 && !host.endsWith(']') && patternHit(pattern, host.slice(0, colon)))
    );
  };
  const path = http.path === undefined ? undefined : http.path.split(/[?#]/)[0];
  const froms = rule.from ?? [];
  const fromOk =
    froms.length === 0 ||
    froms.some(
      ({ source: s = {} }) =>
        field(s.ipBlocks, s.notIpBlocks, (t) => withinText(src, t)) &&
        field(s.remoteIpBlocks, s.notRemoteIpBlocks, (t) => withinText(remote, t)) &&
        field(s.namespaces, s.notNamespaces, stringHit(identityPart(request, 'ns'))) &&
        field(s.principals, s.notPrincipals, (t) => patternHit(strip(t), principal)) &&
        field(s.serviceAccounts, s.notServiceAccounts, stringHit(serviceAccountOf(request))) &&
        field(s.requestPrincipals, s.notRequestPrincipals, stringHit(http.requestPrincipal)),
    );
  const tos = rule.to ?? [];
  const toOk =
    tos.length === 0 ||
    tos.some(
      ({ operation: o = {} }) =>
        field(o.ports, o.notPorts, (t) => Number(t) === request.destinationPort) &&
        field(o.hosts, o.notHosts, hostHit) &&
        field(o.methods, o.notMethods, stringHit(http.method)) &&
        field(o.paths, o.notPaths, stringHit(path)),
    );
  const whenOk = (rule.when ?? []).every((c) => {
    const key = conditionKeyInfo(c.key)!;
    let hit: (t: string) => boolean;
    if (key.info.kind === 'ip') {
      const address =
        c.key === 'source.ip' ? src : c.key === 'remote.ip' ? remote : ip(request.destinationIp);
      hit = (t) => withinText(address, t);
    } else if (key.info.kind === 'port') {
      hit = (t) => Number(t) === request.destinationPort;
    } else {
      let values: readonly string[] = [];
      if (key.type === 'header') {
        const v = http.headers?.[key.header];
        values = v === undefined ? [] : [v];
      } else if (key.type === 'claim') {
        let v: unknown = http.claims;
        for (const part of key.path) {
          v =
            v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, part)
              ? (v as Record<string, unknown>)[part]
              : undefined;
        }
        values =
          typeof v === 'string'
            ? [v]
            : typeof v === 'number' || typeof v === 'boolean'
              ? [String(v)]
              : Array.isArray(v)
                ? v.filter((x): x is string => typeof x === 'string')
                : [];
      } else {
        const v =
          c.key === 'source.namespace'
            ? identityPart(request, 'ns')
            : c.key === 'source.principal'
              ? principal
              : c.key === 'request.auth.principal'
                ? http.requestPrincipal
                : c.key === 'request.auth.presenter'
                  ? http.presenter
                  : c.key === 'connection.sni'
                    ? http.sni
                    : undefined;
        values = c.key === 'request.auth.audiences' ? (http.audiences ?? []) : v === undefined ? [] : [v];
      }
      const toPattern = c.key === 'source.principal' ? strip : istio;
      hit = (t) => values.some((v) => patternHit(toPattern(t), v));
    }
    return field(c.values, c.notValues, hit);
  });
  return fromOk && toOk && whenOk;
}
