import { compileWireAuthorization } from './compile-wire.js';
import type { CompiledPolicy, PolicyRef } from './compiled-policy.js';
import type { Decision, EvaluateOptions } from './decision.js';
import { explainWith } from './explain.js';
import { Bucket } from './bucket.js';
import { allowPoliciesOf, DecisionScratch, decide, type PolicySink } from './policy-set-core.js';
import type { AuthzRequest, RequestDestination } from './request.js';
import type { WireAuthorization } from './wire-types.js';

/** Options of {@link AuthorizationSet}. */
export interface AuthorizationSetOptions {
  /** Namespace whose GLOBAL policies apply mesh-wide. Default `istio-system`. */
  readonly rootNamespace?: string;
}

/**
 * The wire-form policies a ztunnel holds, compiled and indexed by scope,
 * namespace and destination port; updated incrementally from xDS deltas.
 *
 * Which policies apply to a destination: GLOBAL policies of the root
 * namespace, NAMESPACE policies of the destination's namespace (a GLOBAL
 * policy outside the root namespace counts as NAMESPACE), and the
 * WORKLOAD_SELECTOR policies the workload lists (`destination.policies`).
 *
 * @example
 * ```ts
 * const set = new AuthorizationSet();
 * set.upsert({ name: 'deny-bar', namespace: 'foo', scope: 'NAMESPACE', action: 'DENY',
 *   rules: [{ clauses: [{ matches: [{ namespaces: [{ exact: 'bar' }] }] }] }] });
 * const decision = set.evaluate({ sourcePrincipal: 'cluster.local/ns/bar/sa/a', sourceIp: '10.0.0.1',
 *   destinationIp: '10.0.0.2', destinationPort: 80, destination: { namespace: 'foo' } });
 * decision.result; // 'deny'
 * ```
 */
export class AuthorizationSet {
  /** Namespace whose GLOBAL policies apply mesh-wide. */
  readonly rootNamespace: string;
  private readonly byKey = new Map<string, CompiledPolicy>();
  private readonly global = new Bucket();
  private readonly byNamespace = new Map<string, Bucket>();
  /** The WORKLOAD_SELECTOR policies by key: the ones a destination can list. */
  private readonly selectors = new Map<string, CompiledPolicy>();
  private readonly scratch = new DecisionScratch();

  constructor(options: AuthorizationSetOptions = {}) {
    this.rootNamespace = options.rootNamespace ?? 'istio-system';
  }

  /** Number of policies held. */
  get size(): number {
    return this.byKey.size;
  }

  /**
   * Adds or replaces (by `namespace/name`) one policy; others are untouched.
   * On error the previous version stays in force.
   * @throws {AuthzError} `AUTHZ_ERR_INVALID_POLICY` (with `issues`) for a malformed policy
   */
  upsert(authorization: WireAuthorization): PolicyRef {
    const policy = compileWireAuthorization(authorization);
    this.remove(policy.key);
    this.byKey.set(policy.key, policy);
    if (isSelectorScoped(policy)) this.selectors.set(policy.key, policy);
    this.bucketOf(policy, true)?.add(policy);
    return policy;
  }

  /** Removes a policy by its resource name `namespace/name`; false when absent. */
  remove(key: string): boolean {
    const policy = this.byKey.get(key);
    if (policy === undefined) return false;
    this.byKey.delete(key);
    this.selectors.delete(key);
    const bucket = this.bucketOf(policy, false);
    if (bucket) {
      bucket.remove(policy);
      if (bucket.size === 0 && bucket !== this.global) this.byNamespace.delete(policy.namespace);
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
   * Whether `policy` takes part in decisions for `destination`, as
   * {@link AuthorizationSet.evaluate} selects policies: GLOBAL in the root
   * namespace applies everywhere, GLOBAL elsewhere and NAMESPACE apply in
   * their namespace, WORKLOAD_SELECTOR applies where `destination.policies`
   * lists its `namespace/name`. For a scope this version does not know the
   * answer is true, so a caller re-checking open connections after a change
   * never misses a denial. The policy need not be held by the set.
   */
  appliesTo(policy: WireAuthorization, destination: RequestDestination): boolean {
    switch (policy.scope ?? 'GLOBAL') {
      case 'WORKLOAD_SELECTOR':
        return destination.policies?.includes(`${policy.namespace}/${policy.name}`) ?? false;
      case 'GLOBAL':
        return policy.namespace === this.rootNamespace || policy.namespace === destination.namespace;
      case 'NAMESPACE':
        return policy.namespace === destination.namespace;
      default:
        return true;
    }
  }

  /**
   * Authorizes an L4 request (HTTP attributes are ignored: wire policies have none).
   * @throws {AuthzError} `AUTHZ_ERR_INVALID_REQUEST` for an unparsable address or port
   */
  evaluate(request: AuthzRequest, options?: EvaluateOptions): Decision {
    const scratch = this.scratch.acquire();
    try {
      scratch.ctx.reset(request);
      const namespace = request.destination.namespace;
      this.selectInto(request, scratch.extras);
      return decide(scratch, this.global, this.byNamespace.get(namespace), options);
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
      allowPoliciesOf(
        this.global,
        this.byNamespace.get(request.destination.namespace),
        this.selected(request),
      ),
    );
  }

  private selected(request: AuthzRequest): readonly CompiledPolicy[] {
    const found: CompiledPolicy[] = [];
    this.selectInto(request, found);
    return found;
  }

  /** Appends the WORKLOAD_SELECTOR policies the destination lists to `out`. */
  private selectInto(request: AuthzRequest, out: PolicySink): void {
    const names = request.destination.policies;
    if (names === undefined) return;
    for (let i = 0; i < names.length; i++) {
      const policy = this.selectors.get(names[i]!);
      if (policy !== undefined) out.push(policy);
    }
  }

  private bucketOf(policy: CompiledPolicy, create: boolean): Bucket | undefined {
    const scope = policy.target.kind === 'wire' ? policy.target.scope : 'NAMESPACE';
    if (scope === 'WORKLOAD_SELECTOR') return undefined;
    if (scope === 'GLOBAL' && policy.namespace === this.rootNamespace) return this.global;
    let bucket = this.byNamespace.get(policy.namespace);
    if (bucket === undefined && create) {
      bucket = new Bucket();
      this.byNamespace.set(policy.namespace, bucket);
    }
    return bucket;
  }
}

function isSelectorScoped(policy: CompiledPolicy): boolean {
  return policy.target.kind === 'wire' && policy.target.scope === 'WORKLOAD_SELECTOR';
}
