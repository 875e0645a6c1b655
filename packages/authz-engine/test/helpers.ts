import {
  type AuthorizationPolicy,
  AuthorizationPolicySet,
  AuthorizationSet,
  type AuthzRequest,
  type Decision,
  explain,
  toWireAuthorization,
} from '../src/index.js';

export const ROOT = 'istio-system';

/** An mTLS request from foo/a (10.0.0.1) to a workload app=b in foo (10.0.1.1:8080). */
export function request(overrides: Partial<AuthzRequest> = {}): AuthzRequest {
  return {
    sourcePrincipal: 'cluster.local/ns/foo/sa/a',
    sourceIp: '10.0.0.1',
    destinationIp: '10.0.1.1',
    destinationPort: 8080,
    destination: { namespace: 'foo', labels: { app: 'b' } },
    ...overrides,
  };
}

/** Plaintext (no peer identity). */
export function plaintext(overrides: Partial<AuthzRequest> = {}): AuthzRequest {
  const { sourcePrincipal: _, ...rest } = request(overrides);
  return rest;
}

/** A request from another identity. */
export function from(principal: string, overrides: Partial<AuthzRequest> = {}): AuthzRequest {
  return request({ sourcePrincipal: principal, ...overrides });
}

export interface Summary {
  result: Decision['result'];
  reason?: Decision['reason'];
  policy?: string;
  rule?: number;
}

export function summary(decision: Decision): Summary {
  const hit = 'hit' in decision ? decision.hit : undefined;
  return {
    result: decision.result,
    reason: decision.reason,
    ...(hit ? { policy: hit.policy.key, rule: hit.ruleIndex } : {}),
  };
}

/** Policy shorthand: `policy('foo', 'name', spec, annotations)`. */
export function policy(
  namespace: string,
  name: string,
  spec: AuthorizationPolicy['spec'] = {},
  annotations?: Record<string, string>,
): AuthorizationPolicy {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec,
  };
}

/**
 * Evaluates as ztunnel would: convert each policy to the wire form, load an
 * AuthorizationSet, and list on the destination the selector policies whose
 * labels it carries (what the control plane does).
 */
export function atZtunnel(policies: readonly AuthorizationPolicy[], req: AuthzRequest): Decision {
  const set = new AuthorizationSet({ rootNamespace: ROOT });
  const selected: string[] = [];
  for (const p of policies) {
    const converted = toWireAuthorization(p, { rootNamespace: ROOT });
    if (converted.status === 'invalid') throw new Error(JSON.stringify(converted.errors));
    if (converted.status !== 'converted') continue;
    set.upsert(converted.authorization);
    const labels = p.spec?.selector?.matchLabels ?? {};
    const ns = p.metadata.namespace!;
    if (
      converted.authorization.scope === 'WORKLOAD_SELECTOR' &&
      (ns === ROOT || ns === req.destination.namespace) &&
      Object.entries(labels).every(([k, v]) => req.destination.labels?.[k] === v)
    ) {
      selected.push(`${ns}/${p.metadata.name}`);
    }
  }
  const decision = set.evaluate({ ...req, destination: { ...req.destination, policies: selected } });
  expectExplained(decision, set);
  return decision;
}

/** Evaluates the user-facing policies at a workload (sidecar-style, every attribute). */
export function atWorkload(policies: readonly AuthorizationPolicy[], req: AuthzRequest): Decision {
  const set = new AuthorizationPolicySet({ mode: 'workload', rootNamespace: ROOT });
  for (const p of policies) set.upsert(p);
  const decision = set.evaluate(req);
  expectExplained(decision, set);
  return decision;
}

/** Evaluates the user-facing policies at a waypoint (targetRefs only). */
export function atWaypoint(policies: readonly AuthorizationPolicy[], req: AuthzRequest): Decision {
  const set = new AuthorizationPolicySet({ mode: 'waypoint', rootNamespace: ROOT });
  for (const p of policies) set.upsert(p);
  const decision = set.evaluate(req);
  expectExplained(decision, set);
  return decision;
}

function expectExplained(decision: Decision, set: { explain(d: Decision): string }): void {
  const text = set.explain(decision);
  if (!text.startsWith(explain(decision))) throw new Error(`set.explain extends explain: ${text}`);
  if (
    typeof text !== 'string' ||
    !text.startsWith(
      decision.result === 'pending' ? 'pending' : decision.result === 'allow' ? 'allowed' : 'denied',
    )
  ) {
    throw new Error(`explanation does not start with the result: ${text}`);
  }
}
