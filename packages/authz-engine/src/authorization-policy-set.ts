import { compileAuthorizationPolicy, targetRefKey } from './compile-resource.js';
import type { CompiledPolicy, PolicyRef } from './compiled-policy.js';
import type { Decision, EvaluateOptions } from './decision.js';
import { explainWith } from './explain.js';
import { Bucket } from './bucket.js';
import { allowPoliciesOf, DecisionScratch, decide, type PolicySink } from './policy-set-core.js';
import type { AuthzRequest } from './request.js';
import type { AuthorizationPolicy } from './resource-types.js';

/**
 * Where the set enforces policies:
 * - `waypoint`: only policies attached with `targetRefs` apply (Istio ambient:
 *   a waypoint enforces the policies that target its Gateway, the Service or
 *   ServiceEntry, or, from the root namespace, the `istio-waypoint` GatewayClass);
 * - `workload`: policies select workloads by namespace (root namespace =
 *   mesh-wide) and `selector`, as at a sidecar or ztunnel.
 */
export type EnforcementPoint = 'waypoint' | 'workload';

/** Options of {@link AuthorizationPolicySet}. */
export interface AuthorizationPolicySetOptions {
  readonly mode: EnforcementPoint;
  /** Root namespace: its namespace-wide policies apply mesh-wide. Default `istio-system`. */
  readonly rootNamespace?: string;
}

/**
 * User-facing AuthorizationPolicy resources, compiled with every HTTP
 * attribute, for a waypoint (or any L7 enforcement point); incremental
 * upsert/remove by `namespace/name`.
 *
 * @example
 * ```ts
 * const set = new AuthorizationPolicySet({ mode: 'waypoint' });
 * set.upsert({ metadata: { name: 'get-only', namespace: 'foo' }, spec: {
 *   targetRefs: [{ kind: 'Service', name: 'b' }], rules: [{ to: [{ operation: { methods: ['GET'] } }] }] } });
 * set.evaluate({ sourceIp: '10.0.0.1', destinationIp: '10.0.0.2', destinationPort: 80,
 *   destination: { namespace: 'foo', targetRefs: [{ kind: 'Service', namespace: 'foo', name: 'b' }] },
 *   http: { method: 'POST', path: '/' } }).result; // 'deny'
 * ```
 */
export class AuthorizationPolicySet {
  readonly mode: EnforcementPoint;
  readonly rootNamespace: string;
  private readonly byKey = new Map<string, CompiledPolicy>();
  private readonly global = new Bucket();
  private readonly byNamespace = new Map<string, Bucket>();
  private readonly selectors = new Map<string, CompiledPolicy[]>();
  private readonly byTargetRef = new Map<string, CompiledPolicy[]>();
  private readonly scratch = new DecisionScratch();

  constructor(options: AuthorizationPolicySetOptions) {
    this.mode = options.mode;
    this.rootNamespace = options.rootNamespace ?? 'istio-system';
  }

  /** Number of policies held. */
  get size(): number {
    return this.byKey.size;
  }

  /**
   * Adds or replaces one policy by `namespace/name`.
   * @throws {AuthzError} `AUTHZ_ERR_INVALID_POLICY` (with every issue) for an invalid policy
   */
  upsert(resource: AuthorizationPolicy): PolicyRef {
    const policy = compileAuthorizationPolicy(resource);
    this.remove(policy.key);
    this.byKey.set(policy.key, policy);
    const target = policy.target;
    if (target.kind === 'namespace') {
      this.bucketOf(policy.namespace, true)!.add(policy);
    } else if (target.kind === 'selector') {
      addTo(this.selectors, policy.namespace, policy);
    } else if (target.kind === 'target-refs') {
      for (const ref of this.refKeys(policy)) addTo(this.byTargetRef, ref, policy);
    }
    return policy;
  }

  /** Removes a policy by `namespace/name`; false when absent. */
  remove(key: string): boolean {
    const policy = this.byKey.get(key);
    if (policy === undefined) return false;
    this.byKey.delete(key);
    const target = policy.target;
    if (target.kind === 'namespace') {
      const bucket = this.bucketOf(policy.namespace, false);
      bucket?.remove(policy);
      if (bucket && bucket.size === 0 && bucket !== this.global) this.byNamespace.delete(policy.namespace);
    } else if (target.kind === 'selector') {
      removeFrom(this.selectors, policy.namespace, policy);
    } else if (target.kind === 'target-refs') {
      for (const ref of this.refKeys(policy)) removeFrom(this.byTargetRef, ref, policy);
    }
    return true;
  }

  /** True when a policy with this `namespace/name` is held. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Every policy held, by key order. */
  policies(): PolicyRef[] {
    return [...this.byKey.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /**
   * Authorizes a request (L4 and, when present, HTTP attributes).
   * @throws {AuthzError} `AUTHZ_ERR_INVALID_REQUEST` for an unparsable address or port
   */
  evaluate(request: AuthzRequest, options?: EvaluateOptions): Decision {
    const scratch = this.scratch.acquire();
    try {
      scratch.ctx.reset(request);
      if (this.mode === 'waypoint') {
        this.attachedInto(request, scratch.extras);
        return decide(scratch, undefined, undefined, options);
      }
      const own = this.own(request);
      this.selectedInto(request, scratch.extras);
      return decide(scratch, this.global, own, options);
    } finally {
      scratch.release();
    }
  }

  /**
   * {@link explain}, plus, for a request no ALLOW policy matched, why each
   * applicable ALLOW policy missed (the set knows which applied).
   */
  explain(decision: Decision): string {
    return explainWith(decision, (request) =>
      this.mode === 'waypoint'
        ? allowPoliciesOf(undefined, undefined, this.attached(request))
        : allowPoliciesOf(this.global, this.own(request), this.selected(request)),
    );
  }

  /** Waypoint mode: the policies attached to what the request is addressed to. */
  private attached(request: AuthzRequest): CompiledPolicy[] {
    const extras: CompiledPolicy[] = [];
    this.attachedInto(request, extras);
    return extras;
  }

  private attachedInto(request: AuthzRequest, extras: PolicySink): void {
    const destination = request.destination;
    for (const ref of destination.targetRefs ?? []) {
      const key =
        ref.kind === 'GatewayClass' ? `GatewayClass/${ref.name}` : targetRefKey(ref, destination.namespace);
      for (const policy of this.byTargetRef.get(key) ?? []) {
        if (!extras.includes(policy)) extras.push(policy);
      }
    }
  }

  /** Workload mode: the destination namespace's bucket (the root namespace's is `global`). */
  private own(request: AuthzRequest): Bucket | undefined {
    const namespace = request.destination.namespace;
    return namespace === this.rootNamespace ? undefined : this.byNamespace.get(namespace);
  }

  /** Workload mode: selector policies of the root and destination namespaces matching the labels. */
  private selected(request: AuthzRequest): CompiledPolicy[] {
    const extras: CompiledPolicy[] = [];
    this.selectedInto(request, extras);
    return extras;
  }

  private selectedInto(request: AuthzRequest, extras: PolicySink): void {
    const destination = request.destination;
    const labels = destination.labels;
    if (labels === undefined) return;
    const scopes = [this.selectors.get(this.rootNamespace), this.selectors.get(destination.namespace)];
    for (const list of destination.namespace === this.rootNamespace ? scopes.slice(1) : scopes) {
      for (const policy of list ?? []) {
        if (policy.target.kind === 'selector' && selects(policy.target.matchLabels, labels))
          extras.push(policy);
      }
    }
  }

  private refKeys(policy: CompiledPolicy): string[] {
    if (policy.target.kind !== 'target-refs') return [];
    return policy.target.refs
      .map((ref) => {
        if (!ref.startsWith('GatewayClass/')) return ref;
        // GatewayClass is cluster-scoped; only the root namespace may target it.
        return policy.namespace === this.rootNamespace ? `GatewayClass/${ref.split('/')[2]}` : undefined;
      })
      .filter((ref): ref is string => ref !== undefined);
  }

  private bucketOf(namespace: string, create: boolean): Bucket | undefined {
    if (namespace === this.rootNamespace) return this.global;
    let bucket = this.byNamespace.get(namespace);
    if (bucket === undefined && create) {
      bucket = new Bucket();
      this.byNamespace.set(namespace, bucket);
    }
    return bucket;
  }
}

function selects(
  matchLabels: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [k, v] of Object.entries(matchLabels)) {
    if (labels[k] !== v) return false;
  }
  return true;
}

function addTo(map: Map<string, CompiledPolicy[]>, key: string, policy: CompiledPolicy): void {
  const list = map.get(key);
  if (list) list.push(policy);
  else map.set(key, [policy]);
}

function removeFrom(map: Map<string, CompiledPolicy[]>, key: string, policy: CompiledPolicy): void {
  const list = map.get(key);
  if (!list) return;
  const at = list.indexOf(policy);
  if (at >= 0) list.splice(at, 1);
  if (list.length === 0) map.delete(key);
}
