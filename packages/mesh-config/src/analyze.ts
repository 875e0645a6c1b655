import { isEmptySelector, type Labels, labelsOf, matchLabels } from './labels.js';
import type {
  AuthorizationPolicyResource,
  GatewayResource,
  MeshResource,
  NamespaceResource,
  TargetRef,
} from './resources.js';
import {
  MeshLabels,
  policyScope,
  WAYPOINT_GATEWAY_CLASS,
  waypointReference,
  waypointServes,
} from './translator.js';

/** Stable codes of {@link AnalysisWarning}. */
export type AnalysisCode =
  | 'WAYPOINT_NOT_FOUND'
  | 'WAYPOINT_NOT_A_WAYPOINT'
  | 'WAYPOINT_FOR_MISMATCH'
  | 'SELECTOR_MATCHES_NOTHING'
  | 'HTTP_RULE_IN_ZTUNNEL_POLICY'
  | 'TARGET_REF_NOT_FOUND'
  | 'ROUTE_PARENT_NOT_FOUND'
  | 'ROUTE_BACKEND_NOT_FOUND';

/** One finding of {@link analyze}. */
export interface AnalysisWarning {
  readonly code: AnalysisCode;
  /** `Kind namespace/name` (or `Kind name` for namespaces). */
  readonly resource: string;
  /** Field path the warning is about. */
  readonly path: string;
  readonly message: string;
}

/** Options of {@link analyze}. */
export interface AnalyzeOptions {
  /** Mesh root namespace. Default `istio-system`. */
  readonly rootNamespace?: string;
  /** DNS suffix of service hostnames. Default `cluster.local`. */
  readonly domainSuffix?: string;
}

const L4_WHEN_KEYS = new Set([
  'source.ip',
  'source.namespace',
  'source.principal',
  'destination.ip',
  'destination.port',
]);
const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
const HTTP_SOURCE_FIELDS = [
  'requestPrincipals',
  'notRequestPrincipals',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;

function label(r: MeshResource): string {
  return r.kind === 'Namespace'
    ? `Namespace ${r.metadata.name}`
    : `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`;
}

/**
 * Finds config that is valid but will not do what its author likely meant,
 * as structured warnings (the control plane's `analyze` command prints
 * them): HTTP attributes in policies only ztunnel enforces, waypoint
 * references that resolve to nothing (or to a Gateway that is not a
 * waypoint, or whose `istio.io/waypoint-for` excludes the referrer),
 * selectors that match no workload, policy `targetRefs` and HTTPRoute
 * parents/backends that do not exist. Pure; results sorted by resource.
 *
 * @example
 * ```ts
 * for (const w of analyze(resources)) console.log(`${w.code} ${w.resource} ${w.path}: ${w.message}`);
 * ```
 */
export function analyze(config: Iterable<MeshResource>, options: AnalyzeOptions = {}): AnalysisWarning[] {
  const root = options.rootNamespace ?? 'istio-system';
  const domain = options.domainSuffix ?? 'cluster.local';
  const resources = [...config];
  const warnings: AnalysisWarning[] = [];
  const namespaces = new Map<string, NamespaceResource>();
  const gateways = new Map<string, GatewayResource>();
  const services = new Set<string>();
  const serviceEntries = new Set<string>();
  const serviceHosts = new Set<string>();
  const workloads: { ns: string; labels: Labels }[] = [];
  for (const r of resources) {
    const key = `${r.metadata.namespace}/${r.metadata.name}`;
    switch (r.kind) {
      case 'Namespace':
        namespaces.set(r.metadata.name, r);
        break;
      case 'Gateway':
        gateways.set(key, r);
        break;
      case 'Service':
        services.add(key);
        serviceHosts.add(`${r.metadata.name}.${r.metadata.namespace}.svc.${domain}`);
        break;
      case 'ServiceEntry':
        serviceEntries.add(key);
        for (const h of r.spec.hosts) serviceHosts.add(h);
        break;
      case 'Pod':
        if (r.status?.phase !== 'Failed' && r.status?.phase !== 'Succeeded') {
          workloads.push({ ns: r.metadata.namespace!, labels: labelsOf(r.metadata) });
        }
        break;
      case 'WorkloadEntry':
        workloads.push({ ns: r.metadata.namespace!, labels: { ...labelsOf(r.metadata), ...r.spec.labels } });
        break;
      default:
        break;
    }
  }
  for (const r of resources) {
    if (r.kind === 'ServiceEntry') {
      for (const ep of r.spec.endpoints ?? [])
        workloads.push({ ns: r.metadata.namespace!, labels: ep.labels ?? {} });
    }
  }
  /** Whether a reference target exists; kinds amesh does not track count as existing. */
  const exists = (kind: string, key: string): boolean => {
    switch (kind) {
      case 'Gateway':
        return gateways.has(key);
      case 'Service':
        return services.has(key);
      case 'ServiceEntry':
        return serviceEntries.has(key);
      case 'Hostname': // Istio's backendRef kind for a ServiceEntry host
        return serviceHosts.has(key);
      default:
        return true;
    }
  };
  const matchesAny = (ns: string, selector: Labels): boolean =>
    workloads.some((w) => (ns === root || w.ns === ns) && matchLabels(selector, w.labels));

  const checkWaypoint = (r: MeshResource, target: 'service' | 'workload' | 'namespace'): void => {
    const labels = labelsOf(r.metadata);
    const ns = r.kind === 'Namespace' ? r.metadata.name : r.metadata.namespace!;
    if (labels[MeshLabels.useWaypoint] === undefined) return;
    const ref = waypointReference(labels, {}, ns);
    if (!ref) return;
    const path = `metadata.labels["${MeshLabels.useWaypoint}"]`;
    const gateway = gateways.get(`${ref.namespace}/${ref.name}`);
    if (!gateway) {
      warnings.push({
        code: 'WAYPOINT_NOT_FOUND',
        resource: label(r),
        path,
        message: `waypoint ${ref.namespace}/${ref.name} does not exist; traffic will not use a waypoint`,
      });
      return;
    }
    if (gateway.spec.gatewayClassName !== WAYPOINT_GATEWAY_CLASS) {
      warnings.push({
        code: 'WAYPOINT_NOT_A_WAYPOINT',
        resource: label(r),
        path,
        message: `Gateway ${ref.namespace}/${ref.name} has class ${gateway.spec.gatewayClassName}, not ${WAYPOINT_GATEWAY_CLASS}`,
      });
      return;
    }
    const targets: ('service' | 'workload')[] = target === 'namespace' ? [] : [target];
    for (const t of targets) {
      if (!waypointServes(gateway, t)) {
        const forWhat = labelsOf(gateway.metadata)[MeshLabels.waypointFor] ?? 'service';
        warnings.push({
          code: 'WAYPOINT_FOR_MISMATCH',
          resource: label(r),
          path,
          message: `waypoint ${ref.namespace}/${ref.name} is for ${forWhat} traffic, so this ${t} reference is ignored`,
        });
      }
    }
  };

  const checkTargetRefs = (r: MeshResource, refs: readonly TargetRef[], base: string): void => {
    refs.forEach((ref, i) => {
      const ns = ref.namespace ?? r.metadata.namespace!;
      const key = `${ns}/${ref.name}`;
      if (!exists(ref.kind, key)) {
        warnings.push({
          code: 'TARGET_REF_NOT_FOUND',
          resource: label(r),
          path: refs.length === 1 && base === 'spec.targetRef' ? base : `${base}[${i}]`,
          message: `${ref.kind} ${key} does not exist; the policy applies nowhere`,
        });
      }
    });
  };

  const checkSelector = (r: MeshResource, selector: Labels | undefined, path: string): void => {
    if (isEmptySelector(selector)) return;
    if (!matchesAny(r.metadata.namespace!, selector!)) {
      warnings.push({
        code: 'SELECTOR_MATCHES_NOTHING',
        resource: label(r),
        path,
        message: `no workload${r.metadata.namespace === root ? '' : ` in namespace ${r.metadata.namespace}`} has labels ${JSON.stringify(selector)}`,
      });
    }
  };

  for (const r of resources) {
    switch (r.kind) {
      case 'Namespace':
        checkWaypoint(r, 'namespace');
        break;
      case 'Service':
      case 'ServiceEntry':
        checkWaypoint(r, 'service');
        if (r.kind === 'ServiceEntry')
          checkSelector(r, r.spec.workloadSelector?.labels, 'spec.workloadSelector.labels');
        break;
      case 'Pod':
      case 'WorkloadEntry':
        checkWaypoint(r, 'workload');
        break;
      case 'AuthorizationPolicy':
        checkSelector(r, r.spec.selector?.matchLabels, 'spec.selector.matchLabels');
        checkTargetRefs(
          r,
          r.spec.targetRefs ?? (r.spec.targetRef ? [r.spec.targetRef] : []),
          r.spec.targetRef ? 'spec.targetRef' : 'spec.targetRefs',
        );
        checkZtunnelHttpRules(r, root, warnings);
        break;
      case 'PeerAuthentication':
        checkSelector(r, r.spec.selector?.matchLabels, 'spec.selector.matchLabels');
        break;
      case 'RequestAuthentication':
        checkSelector(r, r.spec.selector?.matchLabels, 'spec.selector.matchLabels');
        checkTargetRefs(
          r,
          r.spec.targetRefs ?? (r.spec.targetRef ? [r.spec.targetRef] : []),
          r.spec.targetRef ? 'spec.targetRef' : 'spec.targetRefs',
        );
        break;
      case 'HTTPRoute': {
        const ns = r.metadata.namespace!;
        (r.spec.parentRefs ?? []).forEach((p, i) => {
          const kind = p.kind ?? 'Gateway';
          const key = `${p.namespace ?? ns}/${p.name}`;
          if (!exists(kind, key)) {
            warnings.push({
              code: 'ROUTE_PARENT_NOT_FOUND',
              resource: label(r),
              path: `spec.parentRefs[${i}]`,
              message: `${kind} ${key} does not exist`,
            });
          }
        });
        (r.spec.rules ?? []).forEach((rule, i) => {
          (rule.backendRefs ?? []).forEach((b, j) => {
            const kind = b.kind ?? 'Service';
            const key = `${b.namespace ?? ns}/${b.name}`;
            if (!exists(kind, kind === 'Hostname' ? b.name : key)) {
              warnings.push({
                code: 'ROUTE_BACKEND_NOT_FOUND',
                resource: label(r),
                path: `spec.rules[${i}].backendRefs[${j}]`,
                message: `${kind} ${key} does not exist; requests routed to it get 500/503`,
              });
            }
          });
        });
        break;
      }
      default:
        break;
    }
  }
  return warnings.sort((a, b) =>
    a.resource < b.resource
      ? -1
      : a.resource > b.resource
        ? 1
        : a.path < b.path
          ? -1
          : a.path > b.path
            ? 1
            : 0,
  );
}

/**
 * An ALLOW rule with HTTP attributes is dropped by ztunnel (never matches);
 * a DENY rule keeps only its L4 parts (protocol-facts, authorization).
 */
function checkZtunnelHttpRules(
  policy: AuthorizationPolicyResource,
  root: string,
  warnings: AnalysisWarning[],
): void {
  if (policyScope(policy, root) === 'WAYPOINT') return;
  const action = policy.spec.action ?? 'ALLOW';
  if (action !== 'ALLOW' && action !== 'DENY') return;
  const consequence =
    action === 'ALLOW'
      ? 'ztunnel enforces this policy and cannot see HTTP; this ALLOW rule never matches'
      : 'ztunnel enforces this policy and cannot see HTTP; this DENY rule keeps only its L4 parts';
  const push = (path: string, what: string): void => {
    warnings.push({
      code: 'HTTP_RULE_IN_ZTUNNEL_POLICY',
      resource: label(policy),
      path,
      message: `${what}: ${consequence} (attach it to a waypoint with targetRefs instead)`,
    });
  };
  (policy.spec.rules ?? []).forEach((rule, i) => {
    (rule.to ?? []).forEach((to, j) => {
      for (const f of HTTP_OPERATION_FIELDS) {
        if (to.operation[f]?.length) push(`spec.rules[${i}].to[${j}].operation.${f}`, `HTTP attribute ${f}`);
      }
    });
    (rule.from ?? []).forEach((from, j) => {
      for (const f of HTTP_SOURCE_FIELDS) {
        if (from.source[f]?.length) push(`spec.rules[${i}].from[${j}].source.${f}`, `HTTP attribute ${f}`);
      }
    });
    (rule.when ?? []).forEach((w, j) => {
      if (!L4_WHEN_KEYS.has(w.key))
        push(`spec.rules[${i}].when[${j}].key`, `condition ${w.key} is not an L4 key`);
    });
  });
}
