import { conditionKeyInfo, type ParsedConditionKey } from './condition-keys.js';
import {
  type Check,
  type CompiledClause,
  type CompiledMatch,
  CompiledPolicy,
  type CompiledRule,
  exactNamespaceKey,
  ipCheck,
  type PolicyTarget,
  portCheck,
  principalNamespaceKey,
  type StringGetter,
  serviceAccountNamespaceKey,
  stringCheck,
  withNamespaceKeys,
} from './compiled-policy.js';
import { invalidPolicy } from './errors.js';
import type { EvalContext } from './eval-context.js';
import { parseCidr } from './ip-address.js';
import {
  type AuthorizationPolicy,
  type AuthorizationRule,
  DRY_RUN_ANNOTATION,
  type Operation,
  type PolicyTargetReference,
  type Source,
} from './resource-types.js';
import { parseIstioPattern, type StringPattern } from './string-pattern.js';
import { validateAuthorizationPolicy } from './validate-resource.js';

/**
 * Compiles a user-facing AuthorizationPolicy (what a waypoint enforces, with
 * every HTTP attribute). Warnings do not stop compilation; errors do.
 * @throws {AuthzError} `AUTHZ_ERR_INVALID_POLICY` with every problem in `issues`
 * @example
 * ```ts
 * const policy = compileAuthorizationPolicy({
 *   metadata: { name: 'allow-get', namespace: 'foo' },
 *   spec: { targetRefs: [{ kind: 'Service', name: 'b' }], rules: [{ to: [{ operation: { methods: ['GET'] } }] }] },
 * });
 * ```
 */
export function compileAuthorizationPolicy(policy: AuthorizationPolicy): CompiledPolicy {
  const { errors } = validateAuthorizationPolicy(policy, { enforcement: 'waypoint' });
  if (errors.length > 0) {
    throw invalidPolicy('AuthorizationPolicy', policy?.metadata?.namespace, policy?.metadata?.name, errors);
  }
  const spec = policy.spec ?? {};
  const action = spec.action ?? 'ALLOW';
  const namespace = policy.metadata.namespace!;
  const dryRun =
    policy.metadata.annotations?.[DRY_RUN_ANNOTATION] === 'true' && (action === 'ALLOW' || action === 'DENY');
  return new CompiledPolicy({
    namespace,
    name: policy.metadata.name,
    action,
    dryRun,
    ...(action === 'CUSTOM' ? { provider: spec.provider!.name! } : {}),
    target: targetOf(policy, namespace),
    rules: (spec.rules ?? []).map(compileRule),
  });
}

/** The key a target reference is indexed by: `<kind>/<namespace>/<name>`. */
export function targetRefKey(ref: PolicyTargetReference, defaultNamespace: string): string {
  return `${ref.kind}/${ref.namespace ?? defaultNamespace}/${ref.name}`;
}

function targetOf(policy: AuthorizationPolicy, namespace: string): PolicyTarget {
  const spec = policy.spec ?? {};
  const refs = spec.targetRefs ?? (spec.targetRef ? [spec.targetRef] : []);
  if (refs.length > 0) return { kind: 'target-refs', refs: refs.map((r) => targetRefKey(r, namespace)) };
  const labels = spec.selector?.matchLabels ?? {};
  // An empty selector selects every workload of the namespace, like no selector.
  if (Object.keys(labels).length > 0) return { kind: 'selector', matchLabels: { ...labels } };
  return { kind: 'namespace' };
}

function compileRule(rule: AuthorizationRule): CompiledRule {
  const clauses: CompiledClause[] = [];
  if (rule.from && rule.from.length > 0) {
    clauses.push({ label: 'from', matches: rule.from.map((f) => compileSource(f.source ?? {})) });
  }
  if (rule.to && rule.to.length > 0) {
    clauses.push({ label: 'to', matches: rule.to.map((t) => compileOperation(t.operation ?? {})) });
  }
  (rule.when ?? []).forEach((condition, w) => {
    const key = conditionKeyInfo(condition.key)!;
    const checks: Check[] = [];
    const field = `when[${w}]`;
    if (condition.values && condition.values.length > 0) {
      checks.push(conditionCheck(key, `${field}.values`, false, condition.values));
    }
    if (condition.notValues && condition.notValues.length > 0) {
      checks.push(conditionCheck(key, `${field}.notValues`, true, condition.notValues));
    }
    clauses.push({ label: field, matches: [{ checks }] });
  });
  return { clauses };
}

const principal: StringGetter = (ctx) => ctx.principal();
const sourceNamespace: StringGetter = (ctx) => ctx.sourceNamespace();
const serviceAccount: StringGetter = (ctx) => {
  const ns = ctx.sourceNamespace();
  const sa = ctx.sourceServiceAccount();
  return ns === undefined || sa === undefined ? undefined : `${ns}/${sa}`;
};
const requestPrincipal: StringGetter = (ctx) => ctx.request.http?.requestPrincipal;
const host: StringGetter = (ctx) => ctx.request.http?.host;
const method: StringGetter = (ctx) => ctx.request.http?.method;
const path: StringGetter = (ctx) => {
  const p = ctx.request.http?.path;
  if (p === undefined) return undefined;
  // Istio matches paths on Envoy's url_path: the query string is not part of it.
  const end = p.search(/[?#]/);
  return end < 0 ? p : p.slice(0, end);
};

/** Source fields whose positive values bind the peer's namespace (the source-namespace index). */
const NAMESPACE_KEYS: Partial<Record<keyof Source, (pattern: StringPattern) => string | undefined>> = {
  namespaces: exactNamespaceKey,
  principals: principalNamespaceKey,
  serviceAccounts: serviceAccountNamespaceKey,
};

function compileSource(source: Source): CompiledMatch {
  const checks: Check[] = [];
  const strings = (
    field: keyof Source,
    attribute: string,
    get: StringGetter,
    toPattern: (text: string) => StringPattern = parseIstioPattern,
  ): void => {
    const values = source[field];
    if (!values || values.length === 0) return;
    const patterns = values.map(toPattern);
    const subject =
      get === principal ? 'principal' : get === sourceNamespace ? 'source-namespace' : undefined;
    const check = stringCheck(
      attribute,
      field,
      field.startsWith('not'),
      patterns,
      get,
      subject === undefined ? {} : { subject },
    );
    const keyOf = NAMESPACE_KEYS[field];
    checks.push(keyOf ? withNamespaceKeys(check, patterns, keyOf) : check);
  };
  const ips = (
    field: keyof Source,
    attribute: string,
    get: (ctx: EvalContext) => ReturnType<EvalContext['remoteIp']>,
    address?: 'source',
  ): void => {
    const values = source[field];
    if (!values || values.length === 0) return;
    const cidrs = values.map(parseCidr);
    checks.push(ipCheck(attribute, field, field.startsWith('not'), cidrs, get, values, address));
  };
  ips('ipBlocks', 'source IP', (ctx) => ctx.sourceIp, 'source');
  ips('notIpBlocks', 'source IP', (ctx) => ctx.sourceIp, 'source');
  ips('remoteIpBlocks', 'remote IP', (ctx) => ctx.remoteIp());
  ips('notRemoteIpBlocks', 'remote IP', (ctx) => ctx.remoteIp());
  strings('namespaces', 'source namespace', sourceNamespace);
  strings('notNamespaces', 'source namespace', sourceNamespace);
  strings('principals', 'source principal', principal, principalPattern);
  strings('notPrincipals', 'source principal', principal, principalPattern);
  strings('serviceAccounts', 'source service account', serviceAccount);
  strings('notServiceAccounts', 'source service account', serviceAccount);
  strings('requestPrincipals', 'request principal', requestPrincipal);
  strings('notRequestPrincipals', 'request principal', requestPrincipal);
  return { checks };
}

function compileOperation(operation: Operation): CompiledMatch {
  const checks: Check[] = [];
  const ports = (field: 'ports' | 'notPorts'): void => {
    const values = operation[field];
    if (values && values.length > 0)
      checks.push(portCheck(field, field === 'notPorts', values.map(Number), values));
  };
  ports('ports');
  ports('notPorts');
  const strings = (field: keyof Operation, attribute: string, get: StringGetter, hostLike = false): void => {
    const values = operation[field];
    if (!values || values.length === 0) return;
    checks.push(
      stringCheck(
        attribute,
        field,
        field.startsWith('not'),
        values.map(parseIstioPattern),
        get,
        hostLike ? { ignoreCase: true, alternative: withoutPort } : {},
      ),
    );
  };
  // Istio: host matching is case-insensitive, and "example.com" also matches "example.com:8080".
  strings('hosts', 'host', host, true);
  strings('notHosts', 'host', host, true);
  strings('methods', 'method', method);
  strings('notMethods', 'method', method);
  strings('paths', 'path', path);
  strings('notPaths', 'path', path);
  return { checks };
}

function conditionCheck(
  key: ParsedConditionKey,
  field: string,
  negated: boolean,
  values: readonly string[],
): Check {
  switch (key.info.kind) {
    case 'ip': {
      const get =
        key.key === 'source.ip'
          ? (ctx: EvalContext) => ctx.sourceIp
          : key.key === 'remote.ip'
            ? (ctx: EvalContext) => ctx.remoteIp()
            : (ctx: EvalContext) => ctx.destinationIp;
      const address =
        key.key === 'source.ip' ? 'source' : key.key === 'destination.ip' ? 'destination' : undefined;
      return ipCheck(key.key, field, negated, values.map(parseCidr), get, values, address);
    }
    case 'port':
      return { ...portCheck(field, negated, values.map(Number), values), attribute: key.key };
    case 'string': {
      const patterns = values.map(key.key === 'source.principal' ? principalPattern : parseIstioPattern);
      const subject =
        key.key === 'source.principal'
          ? 'principal'
          : key.key === 'source.namespace'
            ? 'source-namespace'
            : undefined;
      const check = stringCheck(
        key.key,
        field,
        negated,
        patterns,
        conditionGetter(key),
        subject === undefined ? {} : { subject },
      );
      if (key.key === 'source.principal') return withNamespaceKeys(check, patterns, principalNamespaceKey);
      if (key.key === 'source.namespace') return withNamespaceKeys(check, patterns, exactNamespaceKey);
      return check;
    }
  }
}

function conditionGetter(key: ParsedConditionKey): StringGetter {
  if (key.type === 'header') {
    const name = key.header;
    return (ctx) => ctx.request.http?.headers?.[name];
  }
  if (key.type === 'claim') {
    const claimPath = key.path;
    return (ctx) => claimValue(ctx.request.http?.claims, claimPath);
  }
  switch (key.key) {
    case 'source.namespace':
      return sourceNamespace;
    case 'source.principal':
      return principal;
    case 'request.auth.principal':
      return requestPrincipal;
    case 'request.auth.audiences':
      return (ctx) => ctx.request.http?.audiences;
    case 'request.auth.presenter':
      return (ctx) => ctx.request.http?.presenter;
    default:
      return (ctx) => ctx.request.http?.sni;
  }
}

/** A JWT claim by path; strings match as is, lists of strings match by any element. */
function claimValue(
  claims: Readonly<Record<string, unknown>> | undefined,
  path: readonly string[],
): string | readonly string[] | undefined {
  let value: unknown = claims;
  for (const part of path) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, part)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[part];
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return undefined;
}

/** Principals compare without `spiffe://` (protocol-facts: Authorization semantics). */
function principalPattern(text: string): StringPattern {
  return parseIstioPattern(text.startsWith('spiffe://') ? text.slice(9) : text);
}

function withoutPort(value: string): string | undefined {
  const colon = value.lastIndexOf(':');
  if (colon < 0 || value.endsWith(']')) return undefined;
  return value.slice(0, colon);
}
