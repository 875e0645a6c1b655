import { parseIp } from './ip.js';
import { isEmptySelector, type Labels, labelsOf, matchLabels } from './labels.js';
import { OutputTable, type ResourceDelta } from './output-table.js';
import type {
  AuthorizationPolicyResource,
  ConfigChange,
  GatewayResource,
  MeshResource,
  NamespaceResource,
  PeerAuthenticationResource,
  PodResource,
  ResourceKind,
  ServiceEntryResource,
  ServiceResource,
  WorkloadEntryResource,
  WorkloadEntrySpec,
} from './resources.js';
import { resourceKey } from './resources.js';
import type {
  Address,
  AppProtocol,
  GatewayAddress,
  NetworkAddress,
  Port,
  PortList,
  Service,
  WireAuthorization,
  Workload,
  WorkloadType,
} from './xds-types.js';

/** Well-known labels and annotations (Istio's names). */
export const MeshLabels = {
  dataplaneMode: 'istio.io/dataplane-mode',
  useWaypoint: 'istio.io/use-waypoint',
  useWaypointNamespace: 'istio.io/use-waypoint-namespace',
  waypointFor: 'istio.io/waypoint-for',
  redirection: 'ambient.istio.io/redirection',
  network: 'topology.istio.io/network',
  gatewayName: 'gateway.networking.k8s.io/gateway-name',
  sidecarStatus: 'sidecar.istio.io/status',
  canonicalName: 'service.istio.io/canonical-name',
  canonicalRevision: 'service.istio.io/canonical-revision',
} as const;

/** The gateway class of waypoints. */
export const WAYPOINT_GATEWAY_CLASS = 'istio-waypoint';
/** Default HBONE port of a waypoint. */
export const HBONE_PORT = 15008;

/** A note from an {@link AuthorizationConverter} about a policy. */
export interface ConversionWarning {
  /** Field path inside the policy, for example `spec.rules[0].to[0].operation.paths`. */
  readonly path?: string;
  readonly message: string;
}

/** Where a policy applies, from ztunnel's point of view. */
export type PolicyScope = 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR' | 'WAYPOINT';

/** What a converter is told besides the policy. */
export interface ConversionContext {
  /** The scope computed by {@link policyScope}. */
  readonly scope: Exclude<PolicyScope, 'WAYPOINT'>;
  readonly rootNamespace: string;
  readonly trustDomain: string;
}

/**
 * Converts one AuthorizationPolicy into the `istio.security.Authorization`
 * resources ztunnel enforces. The control plane plugs in
 * `@amesh/authz-engine`'s conversion here.
 */
export type AuthorizationConverter = (
  policy: AuthorizationPolicyResource,
  context: ConversionContext,
) => {
  readonly authorizations: readonly WireAuthorization[];
  readonly warnings: readonly ConversionWarning[];
};

/**
 * Converts one PeerAuthentication into Authorization resources (Istio turns
 * STRICT mTLS into a DENY for connections without a peer identity). Outputs
 * with scope `WORKLOAD_SELECTOR` are listed on the workloads the
 * PeerAuthentication selects.
 */
export type PeerAuthenticationConverter = (
  policy: PeerAuthenticationResource,
  context: ConversionContext,
) => {
  readonly authorizations: readonly WireAuthorization[];
  readonly warnings: readonly ConversionWarning[];
};

/** Options of {@link MeshTranslator}. */
export interface TranslatorOptions {
  /** `Workload.clusterId` and the uid prefix. Default `Kubernetes` (Istio's default cluster id). */
  readonly clusterId?: string;
  /** DNS suffix of service hostnames. Default `cluster.local`. */
  readonly domainSuffix?: string;
  /** Trust domain; `Workload.trustDomain` stays empty when it is `cluster.local` (the default). */
  readonly trustDomain?: string;
  /** Network of workloads and VIPs without a `topology.istio.io/network` label. Default empty. */
  readonly network?: string;
  /** Mesh root namespace: its policies are GLOBAL. Default `istio-system`. */
  readonly rootNamespace?: string;
  /** Policy conversion; without it no Authorization resources are produced. */
  readonly authorizationConverter?: AuthorizationConverter;
  /** PeerAuthentication conversion; without it PeerAuthentications produce nothing. */
  readonly peerAuthenticationConverter?: PeerAuthenticationConverter;
}

/** The output change of one {@link MeshTranslator.apply}. */
export interface TranslationDelta {
  /** `istio.workload.Address` by name (workload uid, or `<ns>/<hostname>` for a service). */
  readonly addresses: ResourceDelta<Address>;
  /** `istio.security.Authorization` by `<ns>/<name>`. */
  readonly authorizations: ResourceDelta<WireAuthorization>;
}

/**
 * The scope of a policy as ztunnel sees it: `WAYPOINT` for policies with
 * `targetRef(s)` (enforced by waypoints, not ztunnel); `WORKLOAD_SELECTOR`
 * with a non-empty selector; `GLOBAL` in the root namespace; else `NAMESPACE`.
 */
export function policyScope(policy: AuthorizationPolicyResource, rootNamespace: string): PolicyScope {
  if (policy.spec.targetRef || (policy.spec.targetRefs?.length ?? 0) > 0) return 'WAYPOINT';
  if (!isEmptySelector(policy.spec.selector?.matchLabels)) return 'WORKLOAD_SELECTOR';
  return policy.metadata.namespace === rootNamespace ? 'GLOBAL' : 'NAMESPACE';
}

/**
 * The scope of a PeerAuthentication: `WORKLOAD_SELECTOR` with a non-empty
 * selector, `GLOBAL` in the root namespace, else `NAMESPACE`.
 */
export function peerAuthenticationScope(
  policy: PeerAuthenticationResource,
  rootNamespace: string,
): Exclude<PolicyScope, 'WAYPOINT'> {
  if (!isEmptySelector(policy.spec.selector?.matchLabels)) return 'WORKLOAD_SELECTOR';
  return policy.metadata.namespace === rootNamespace ? 'GLOBAL' : 'NAMESPACE';
}

/** True for actions ztunnel enforces (ALLOW, the default, and DENY). */
function ztunnelAction(policy: AuthorizationPolicyResource): boolean {
  const action = policy.spec.action ?? 'ALLOW';
  return action === 'ALLOW' || action === 'DENY';
}

type NsMap<T> = Map<string, Map<string, T>>;

function nsPut<T>(map: NsMap<T>, ns: string, name: string, value: T | undefined): void {
  let inner = map.get(ns);
  if (value === undefined) {
    inner?.delete(name);
    if (inner?.size === 0) map.delete(ns);
    return;
  }
  if (!inner) {
    inner = new Map();
    map.set(ns, inner);
  }
  inner.set(name, value);
}

function* nsValues<T>(map: NsMap<T>, ns: string): Iterable<T> {
  const inner = map.get(ns);
  if (inner) yield* inner.values();
}

/** Dirty source keys, by kind (only kinds that produce addresses). */
const ADDRESS_KINDS: ReadonlySet<ResourceKind> = new Set(['Pod', 'WorkloadEntry', 'Service', 'ServiceEntry']);

/**
 * Incremental translation of mesh config into ztunnel xDS state. Holds the
 * current resources with indexes (pods, workload entries, services, service
 * entries and policies by namespace; pods by node; waypoint users by
 * gateway), so a change recomputes only what it touches: a pod change
 * recomputes that workload; a Service change recomputes the Service and the
 * workloads its old or new selector matches; a policy change recomputes the
 * policy and the workloads its selector matches; a namespace change
 * recomputes that namespace; a Gateway change recomputes its waypoint users.
 * Outputs are compared structurally, so a delta carries only what changed.
 *
 * @example
 * ```ts
 * const translator = new MeshTranslator({ authorizationConverter });
 * const delta = translator.apply({ upserted: resources, removed: [] });
 * for (const [name, address] of delta.addresses.upserted) xds.upsert(name, address);
 * ```
 */
export class MeshTranslator {
  private readonly clusterId: string;
  private readonly domain: string;
  private readonly trustDomain: string;
  private readonly network: string;
  private readonly root: string;
  private readonly converter: AuthorizationConverter | undefined;
  private readonly peerConverter: PeerAuthenticationConverter | undefined;

  private readonly all = new Map<string, MeshResource>();
  private readonly namespaces = new Map<string, NamespaceResource>();
  private readonly pods: NsMap<PodResource> = new Map();
  private readonly entries: NsMap<WorkloadEntryResource> = new Map();
  private readonly services: NsMap<ServiceResource> = new Map();
  private readonly serviceEntries: NsMap<ServiceEntryResource> = new Map();
  private readonly policies: NsMap<AuthorizationPolicyResource> = new Map();
  private readonly peerAuthentications: NsMap<PeerAuthenticationResource> = new Map();
  /** Selector-scoped Authorization names produced per PeerAuthentication key. */
  private readonly peerSelectorOutputs = new Map<string, string[]>();
  private readonly gateways = new Map<string, GatewayResource>();
  private readonly podsByNode = new Map<string, Set<PodResource>>();

  private readonly waypointUsers = new Map<string, Set<string>>();
  private readonly waypointRefsOf = new Map<string, Set<string>>();
  private readonly addressTable = new OutputTable<Address>();
  private readonly authorizationTable = new OutputTable<WireAuthorization>();
  private readonly conversionWarnings = new Map<string, readonly ConversionWarning[]>();

  /** @param options - cluster, domain, trust domain, root namespace and the policy converter */
  constructor(options: TranslatorOptions = {}) {
    this.clusterId = options.clusterId ?? 'Kubernetes';
    this.domain = options.domainSuffix ?? 'cluster.local';
    const td = options.trustDomain ?? 'cluster.local';
    this.trustDomain = td === 'cluster.local' ? '' : td;
    this.network = options.network ?? '';
    this.root = options.rootNamespace ?? 'istio-system';
    this.converter = options.authorizationConverter;
    this.peerConverter = options.peerAuthenticationConverter;
  }

  /**
   * Applies a change (resources upserted and removed, already validated) and
   * returns the net output delta.
   */
  apply(change: ConfigChange): TranslationDelta {
    const dirty = new Set<string>();
    const dirtyPolicies = new Set<string>();
    for (const resource of change.upserted) {
      const key = resourceKey(resource);
      this.replace(key, this.all.get(key), resource, dirty, dirtyPolicies);
    }
    for (const ref of change.removed) {
      const key = resourceKey(ref);
      const old = this.all.get(key);
      if (old) this.replace(key, old, undefined, dirty, dirtyPolicies);
    }
    for (const key of dirtyPolicies) this.recomputePolicy(key);
    const queue = [...dirty];
    while (queue.length > 0) {
      const key = queue.pop()!;
      queue.push(...this.addressTable.set(key, this.computeSource(key)));
    }
    return { addresses: this.addressTable.flush(), authorizations: this.authorizationTable.flush() };
  }

  /** Every current `Address`, by name. */
  addresses(): ReadonlyMap<string, Address> {
    return this.addressTable.current;
  }

  /** Every current `Authorization`, by name. */
  authorizations(): ReadonlyMap<string, WireAuthorization> {
    return this.authorizationTable.current;
  }

  /** Every current resource, by {@link resourceKey}. */
  resources(): ReadonlyMap<string, MeshResource> {
    return this.all;
  }

  /** The converters' warnings per policy resource key (`AuthorizationPolicy/<ns>/<name>`), for policies that have some. */
  warnings(): ReadonlyMap<string, readonly ConversionWarning[]> {
    return this.conversionWarnings;
  }

  /** Address names claimed by more than one resource (the first claimant wins). */
  conflicts(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.addressTable.conflicting();
  }

  /**
   * The CA's node-locator query: is there a live pod (phase not `Failed` or
   * `Succeeded`) with this namespace and service account on this node?
   * Istio's CA allows a ztunnel to impersonate an identity only then.
   */
  hasLivePod(query: {
    readonly namespace: string;
    readonly serviceAccount: string;
    readonly node: string;
  }): boolean {
    const pods = this.podsByNode.get(query.node);
    if (!pods) return false;
    for (const pod of pods) {
      if (
        pod.metadata.namespace === query.namespace &&
        (pod.spec.serviceAccountName || 'default') === query.serviceAccount &&
        pod.status?.phase !== 'Failed' &&
        pod.status?.phase !== 'Succeeded'
      ) {
        return true;
      }
    }
    return false;
  }

  // ---- state and dependency tracking -------------------------------------

  private replace(
    key: string,
    old: MeshResource | undefined,
    next: MeshResource | undefined,
    dirty: Set<string>,
    dirtyPolicies: Set<string>,
  ): void {
    if (next) this.all.set(key, next);
    else this.all.delete(key);
    const r = (next ?? old)!;
    const ns = r.metadata.namespace ?? '';
    const name = r.metadata.name;
    if (ADDRESS_KINDS.has(r.kind)) dirty.add(key);
    switch (r.kind) {
      case 'Namespace': {
        if (next) this.namespaces.set(name, next as NamespaceResource);
        else this.namespaces.delete(name);
        this.markNamespace(name, dirty);
        break;
      }
      case 'Pod': {
        const oldPod = old as PodResource | undefined;
        const newPod = next as PodResource | undefined;
        if (oldPod?.spec.nodeName) this.podsByNode.get(oldPod.spec.nodeName)?.delete(oldPod);
        if (newPod?.spec.nodeName) {
          let set = this.podsByNode.get(newPod.spec.nodeName);
          if (!set) {
            set = new Set();
            this.podsByNode.set(newPod.spec.nodeName, set);
          }
          set.add(newPod);
        }
        nsPut(this.pods, ns, name, newPod);
        break;
      }
      case 'WorkloadEntry':
        nsPut(this.entries, ns, name, next as WorkloadEntryResource | undefined);
        break;
      case 'Service': {
        nsPut(this.services, ns, name, next as ServiceResource | undefined);
        for (const s of [old, next] as (ServiceResource | undefined)[]) {
          const selector = s?.spec.selector;
          if (!isEmptySelector(selector))
            this.markWorkloads([ns], (labels) => matchLabels(selector, labels), dirty);
        }
        break;
      }
      case 'ServiceEntry': {
        nsPut(this.serviceEntries, ns, name, next as ServiceEntryResource | undefined);
        for (const s of [old, next] as (ServiceEntryResource | undefined)[]) {
          const selector = s?.spec.workloadSelector?.labels;
          if (selector) this.markWorkloads([ns], (labels) => matchLabels(selector, labels), dirty);
        }
        break;
      }
      case 'AuthorizationPolicy': {
        nsPut(this.policies, ns, name, next as AuthorizationPolicyResource | undefined);
        dirtyPolicies.add(key);
        for (const p of [old, next] as (AuthorizationPolicyResource | undefined)[]) {
          if (!p || policyScope(p, this.root) !== 'WORKLOAD_SELECTOR') continue;
          const selector = p.spec.selector?.matchLabels;
          const namespaces = ns === this.root ? this.allWorkloadNamespaces() : [ns];
          this.markWorkloads(namespaces, (labels) => matchLabels(selector, labels), dirty);
        }
        break;
      }
      case 'PeerAuthentication': {
        nsPut(this.peerAuthentications, ns, name, next as PeerAuthenticationResource | undefined);
        dirtyPolicies.add(key);
        for (const p of [old, next] as (PeerAuthenticationResource | undefined)[]) {
          const selector = p?.spec.selector?.matchLabels;
          if (!isEmptySelector(selector))
            this.markWorkloads([ns], (labels) => matchLabels(selector, labels), dirty);
        }
        break;
      }
      case 'Gateway': {
        const gwKey = `${ns}/${name}`;
        if (next) this.gateways.set(gwKey, next as GatewayResource);
        else this.gateways.delete(gwKey);
        for (const user of this.waypointUsers.get(gwKey) ?? []) dirty.add(user);
        break;
      }
      default:
        // ServiceAccount, RequestAuthentication, HTTPRoute,
        // DestinationRule: kept for queries and analysis; no ztunnel output.
        break;
    }
  }

  private allWorkloadNamespaces(): string[] {
    return [...new Set([...this.pods.keys(), ...this.entries.keys(), ...this.serviceEntries.keys()])];
  }

  private markNamespace(ns: string, dirty: Set<string>): void {
    for (const pod of nsValues(this.pods, ns)) dirty.add(resourceKey(pod));
    for (const e of nsValues(this.entries, ns)) dirty.add(resourceKey(e));
    for (const s of nsValues(this.services, ns)) dirty.add(resourceKey(s));
    for (const s of nsValues(this.serviceEntries, ns)) dirty.add(resourceKey(s));
  }

  private markWorkloads(
    namespaces: Iterable<string>,
    match: (labels: Labels) => boolean,
    dirty: Set<string>,
  ): void {
    for (const ns of namespaces) {
      for (const pod of nsValues(this.pods, ns))
        if (match(labelsOf(pod.metadata))) dirty.add(resourceKey(pod));
      for (const e of nsValues(this.entries, ns)) if (match(entryLabels(e))) dirty.add(resourceKey(e));
      // Inline ServiceEntry endpoints carry their own labels.
      for (const s of nsValues(this.serviceEntries, ns)) {
        if (s.spec.endpoints?.some((ep) => match(ep.labels ?? {}))) dirty.add(resourceKey(s));
      }
    }
  }

  // ---- policies -----------------------------------------------------------

  private recomputePolicy(key: string): void {
    const resource = this.all.get(key) as
      | AuthorizationPolicyResource
      | PeerAuthenticationResource
      | undefined;
    const outputs = new Map<string, WireAuthorization>();
    this.conversionWarnings.delete(key);
    const context = (scope: Exclude<PolicyScope, 'WAYPOINT'>): ConversionContext => ({
      scope,
      rootNamespace: this.root,
      trustDomain: this.trustDomain || 'cluster.local',
    });
    let result: ReturnType<AuthorizationConverter> | undefined;
    if (resource?.kind === 'AuthorizationPolicy' && this.converter && ztunnelAction(resource)) {
      const scope = policyScope(resource, this.root);
      if (scope !== 'WAYPOINT') result = this.converter(resource, context(scope));
    } else if (resource?.kind === 'PeerAuthentication' && this.peerConverter) {
      result = this.peerConverter(resource, context(peerAuthenticationScope(resource, this.root)));
    }
    if (result) {
      for (const a of result.authorizations) outputs.set(`${a.namespace}/${a.name}`, a);
      if (result.warnings.length > 0) this.conversionWarnings.set(key, result.warnings);
    }
    if (key.startsWith('PeerAuthentication/')) {
      const names = [...outputs].filter(([, a]) => a.scope === 'WORKLOAD_SELECTOR').map(([n]) => n);
      if (names.length > 0) this.peerSelectorOutputs.set(key, names);
      else this.peerSelectorOutputs.delete(key);
    }
    this.authorizationTable.set(key, outputs);
  }

  private selectorPolicies(ns: string, labels: Labels): string[] {
    const names: string[] = [];
    const scan = (policyNs: string): void => {
      for (const p of nsValues(this.policies, policyNs)) {
        if (!ztunnelAction(p) || policyScope(p, this.root) !== 'WORKLOAD_SELECTOR') continue;
        if (matchLabels(p.spec.selector?.matchLabels, labels)) names.push(`${policyNs}/${p.metadata.name}`);
      }
    };
    scan(ns);
    if (ns !== this.root) scan(this.root);
    for (const pa of nsValues(this.peerAuthentications, ns)) {
      if (
        isEmptySelector(pa.spec.selector?.matchLabels) ||
        !matchLabels(pa.spec.selector?.matchLabels, labels)
      )
        continue;
      names.push(...(this.peerSelectorOutputs.get(resourceKey(pa)) ?? []));
    }
    return [...new Set(names)].sort();
  }

  // ---- address computation ----------------------------------------------

  private computeSource(key: string): Map<string, Address> {
    const out = new Map<string, Address>();
    const refs = new Set<string>();
    const resource = this.all.get(key);
    if (resource) {
      switch (resource.kind) {
        case 'Pod': {
          const w = this.podWorkload(resource, refs);
          if (w) out.set(w.uid, { workload: w });
          break;
        }
        case 'WorkloadEntry': {
          const w = this.entryWorkload(resource, refs);
          if (w) out.set(w.uid, { workload: w });
          break;
        }
        case 'Service': {
          const s = this.kubeService(resource, refs);
          if (s) out.set(`${s.namespace}/${s.hostname}`, { service: s });
          break;
        }
        case 'ServiceEntry':
          this.serviceEntryOutputs(resource, refs, out);
          break;
        default:
          break;
      }
    }
    this.setWaypointRefs(key, refs);
    return out;
  }

  private setWaypointRefs(source: string, refs: Set<string>): void {
    for (const old of this.waypointRefsOf.get(source) ?? []) {
      if (refs.has(old)) continue;
      const users = this.waypointUsers.get(old);
      users?.delete(source);
      if (users?.size === 0) this.waypointUsers.delete(old);
    }
    for (const ref of refs) {
      let users = this.waypointUsers.get(ref);
      if (!users) {
        users = new Set();
        this.waypointUsers.set(ref, users);
      }
      users.add(source);
    }
    if (refs.size === 0) this.waypointRefsOf.delete(source);
    else this.waypointRefsOf.set(source, refs);
  }

  private namespaceLabels(ns: string): Labels {
    return labelsOf(this.namespaces.get(ns)?.metadata);
  }

  /**
   * `istio.io/use-waypoint` on the object beats the namespace's; `none` opts
   * out; the Gateway must be of class `istio-waypoint` and its
   * `istio.io/waypoint-for` (default `service`) must cover `target`.
   */
  private waypoint(
    target: 'service' | 'workload',
    labels: Labels,
    ns: string,
    refs: Set<string>,
  ): GatewayAddress | undefined {
    if (labels[MeshLabels.gatewayName] !== undefined) return undefined; // a waypoint never uses a waypoint
    const reference = waypointReference(labels, this.namespaceLabels(ns), ns);
    if (!reference) return undefined;
    const gwKey = `${reference.namespace}/${reference.name}`;
    refs.add(gwKey);
    const gateway = this.gateways.get(gwKey);
    if (!gateway || gateway.spec.gatewayClassName !== WAYPOINT_GATEWAY_CLASS) return undefined;
    if (!waypointServes(gateway, target)) return undefined;
    return {
      hostname: {
        namespace: reference.namespace,
        hostname: `${reference.name}.${reference.namespace}.svc.${this.domain}`,
      },
      hboneMtlsPort: waypointPort(gateway),
    };
  }

  private networkOf(labels: Labels, ns: string): string {
    return labels[MeshLabels.network] ?? this.namespaceLabels(ns)[MeshLabels.network] ?? this.network;
  }

  private tunnel(labels: Labels, annotations: Labels, ns: string): 'NONE' | 'HBONE' {
    if (!isAmbientEnrolled(labels, annotations, this.namespaceLabels(ns))) return 'NONE';
    return annotations[MeshLabels.redirection] === 'enabled' ? 'HBONE' : 'NONE';
  }

  private podWorkload(pod: PodResource, refs: Set<string>): Workload | undefined {
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return undefined;
    const ips = podIps(pod);
    if (ips.length === 0) return undefined;
    const ns = pod.metadata.namespace!;
    const labels = labelsOf(pod.metadata);
    const annotations = pod.metadata.annotations ?? {};
    const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
    const healthy =
      (phase === undefined || phase === 'Running') && (ready === undefined || ready.status === 'True');
    const { workloadType, workloadName } = workloadOwner(pod);
    const services: Record<string, PortList> = {};
    for (const svc of nsValues(this.services, ns)) {
      const selector = svc.spec.selector;
      if (isEmptySelector(selector) || !matchLabels(selector, labels) || svc.spec.type === 'ExternalName')
        continue;
      const ports: Port[] = [];
      for (const p of tcpPorts(svc)) {
        const target = resolveTargetPort(p.targetPort, p.port, (portName) => containerPort(pod, portName));
        if (target !== undefined) ports.push(withProtocol({ servicePort: p.port, targetPort: target }, p));
      }
      services[`${ns}/${this.hostname(svc)}`] = { ports };
    }
    this.addServiceEntryMemberships(ns, labels, () => undefined, services);
    return {
      uid: `${this.clusterId}//Pod/${ns}/${pod.metadata.name}`,
      name: pod.metadata.name,
      namespace: ns,
      addresses: ips,
      hostname: '',
      network: this.networkOf(labels, ns),
      tunnelProtocol: this.tunnel(labels, annotations, ns),
      trustDomain: this.trustDomain,
      serviceAccount: pod.spec.serviceAccountName || 'default',
      ...optional('waypoint', this.waypoint('workload', labels, ns, refs)),
      node: pod.spec.nodeName ?? '',
      ...canonical(labels, workloadName),
      workloadType,
      workloadName,
      services: sortedRecord(services),
      authorizationPolicies: this.selectorPolicies(ns, labels),
      status: healthy ? 'HEALTHY' : 'UNHEALTHY',
      clusterId: this.clusterId,
    };
  }

  private addServiceEntryMemberships(
    ns: string,
    labels: Labels,
    namedPort: (name: string) => number | undefined,
    services: Record<string, PortList>,
  ): void {
    for (const se of nsValues(this.serviceEntries, ns)) {
      const selector = se.spec.workloadSelector?.labels;
      if (!selector || !matchLabels(selector, labels)) continue;
      const ports = (se.spec.ports ?? []).map((p) =>
        withProtocol(
          { servicePort: p.number, targetPort: (p.name && namedPort(p.name)) || p.targetPort || p.number },
          { appProtocol: p.protocol },
        ),
      );
      for (const host of se.spec.hosts) services[`${ns}/${host}`] = { ports };
    }
  }

  private entryWorkload(entry: WorkloadEntryResource, refs: Set<string>): Workload | undefined {
    const ns = entry.metadata.namespace!;
    const labels = entryLabels(entry);
    const annotations = entry.metadata.annotations ?? {};
    const namedPort = (name: string): number | undefined => entry.spec.ports?.[name];
    const services: Record<string, PortList> = {};
    for (const svc of nsValues(this.services, ns)) {
      const selector = svc.spec.selector;
      if (isEmptySelector(selector) || !matchLabels(selector, labels)) continue;
      const ports: Port[] = [];
      for (const p of tcpPorts(svc)) {
        // Istio: a WorkloadEntry's `ports` map overrides by the Service port name.
        const override = p.name ? namedPort(p.name) : undefined;
        const target = override ?? resolveTargetPort(p.targetPort, p.port, namedPort);
        if (target !== undefined) ports.push(withProtocol({ servicePort: p.port, targetPort: target }, p));
      }
      services[`${ns}/${this.hostname(svc)}`] = { ports };
    }
    this.addServiceEntryMemberships(ns, labels, namedPort, services);
    return this.entryLikeWorkload(
      `${this.clusterId}/networking.istio.io/WorkloadEntry/${ns}/${entry.metadata.name}`,
      entry.metadata.name,
      ns,
      entry.spec,
      labels,
      annotations,
      services,
      refs,
    );
  }

  private entryLikeWorkload(
    uid: string,
    name: string,
    ns: string,
    spec: WorkloadEntrySpec,
    labels: Labels,
    annotations: Labels,
    services: Record<string, PortList>,
    refs: Set<string>,
  ): Workload | undefined {
    const address = spec.address ?? '';
    if (address.startsWith('unix://')) return undefined;
    const ip = parseIp(address);
    return {
      uid,
      name,
      namespace: ns,
      addresses: ip ? [ip] : [],
      hostname: ip ? '' : address,
      network: spec.network ?? this.networkOf(labels, ns),
      tunnelProtocol: this.tunnel(labels, annotations, ns),
      trustDomain: this.trustDomain,
      serviceAccount: spec.serviceAccount || 'default',
      ...optional('waypoint', this.waypoint('workload', labels, ns, refs)),
      node: '',
      ...canonical(labels, name),
      workloadType: 'POD',
      workloadName: name,
      services: sortedRecord(services),
      authorizationPolicies: this.selectorPolicies(ns, labels),
      status: 'HEALTHY',
      clusterId: this.clusterId,
    };
  }

  private hostname(svc: ServiceResource): string {
    return `${svc.metadata.name}.${svc.metadata.namespace}.svc.${this.domain}`;
  }

  private kubeService(svc: ServiceResource, refs: Set<string>): Service | undefined {
    if (svc.spec.type === 'ExternalName') return undefined;
    const ns = svc.metadata.namespace!;
    const labels = labelsOf(svc.metadata);
    const vips = svc.spec.clusterIPs ?? (svc.spec.clusterIP ? [svc.spec.clusterIP] : []);
    const addresses: NetworkAddress[] = [];
    for (const vip of vips) {
      const bytes = parseIp(vip);
      if (bytes) addresses.push({ network: this.network, address: bytes });
    }
    return {
      name: svc.metadata.name,
      namespace: ns,
      hostname: this.hostname(svc),
      addresses,
      ports: tcpPorts(svc).map((p) =>
        withProtocol(
          {
            servicePort: p.port,
            // A named target port is resolved per workload (Workload.services); 0 here, as Istio does.
            targetPort:
              typeof p.targetPort === 'number' ? p.targetPort : p.targetPort === undefined ? p.port : 0,
          },
          p,
        ),
      ),
      subjectAltNames: [],
      ...optional('waypoint', this.waypoint('service', labels, ns, refs)),
    };
  }

  private serviceEntryOutputs(se: ServiceEntryResource, refs: Set<string>, out: Map<string, Address>): void {
    const ns = se.metadata.namespace!;
    const labels = labelsOf(se.metadata);
    const addresses: NetworkAddress[] = [];
    for (const a of se.spec.addresses ?? []) {
      const [ip, len] = a.split('/');
      const bytes = parseIp(ip ?? '');
      // Only single addresses become VIPs; wider CIDRs cannot be a service address.
      if (bytes && (len === undefined || Number(len) === bytes.length * 8)) {
        addresses.push({ network: this.network, address: bytes });
      }
    }
    const ports = (se.spec.ports ?? []).map((p) =>
      withProtocol(
        { servicePort: p.number, targetPort: p.targetPort ?? p.number },
        { appProtocol: p.protocol },
      ),
    );
    const waypoint = this.waypoint('service', labels, ns, refs);
    for (const host of se.spec.hosts) {
      out.set(`${ns}/${host}`, {
        service: {
          name: se.metadata.name,
          namespace: ns,
          hostname: host,
          addresses,
          ports,
          subjectAltNames: [...(se.spec.subjectAltNames ?? [])],
          ...optional('waypoint', waypoint),
        },
      });
    }
    for (const ep of se.spec.endpoints ?? []) {
      const epLabels = { ...ep.labels };
      const services: Record<string, PortList> = {};
      const epPorts = (se.spec.ports ?? []).map((p) =>
        withProtocol(
          {
            servicePort: p.number,
            targetPort: (p.name ? ep.ports?.[p.name] : undefined) ?? p.targetPort ?? p.number,
          },
          { appProtocol: p.protocol },
        ),
      );
      for (const host of se.spec.hosts) services[`${ns}/${host}`] = { ports: epPorts };
      const address = ep.address ?? '';
      const w = this.entryLikeWorkload(
        `${this.clusterId}/networking.istio.io/ServiceEntry/${ns}/${se.metadata.name}/${address}`,
        se.metadata.name,
        ns,
        ep,
        epLabels,
        se.metadata.annotations ?? {},
        services,
        refs,
      );
      if (w) out.set(w.uid, { workload: w });
    }
  }
}

/**
 * Which waypoint an object asks for: its own `istio.io/use-waypoint` label
 * beats its namespace's; `none` (on the object, or on the namespace when the
 * object says nothing) means no waypoint. `istio.io/use-waypoint-namespace`
 * on the same object names the waypoint's namespace (default: the object's).
 */
export function waypointReference(
  labels: Labels,
  namespaceLabels: Labels,
  namespace: string,
): { readonly name: string; readonly namespace: string } | undefined {
  const own = labels[MeshLabels.useWaypoint];
  const source = own !== undefined ? labels : namespaceLabels;
  const name = source[MeshLabels.useWaypoint];
  if (!name || name === 'none') return undefined;
  return { name, namespace: source[MeshLabels.useWaypointNamespace] || namespace };
}

/** True when a waypoint Gateway's `istio.io/waypoint-for` covers `target`. */
export function waypointServes(gateway: GatewayResource, target: 'service' | 'workload'): boolean {
  const forWhat = labelsOf(gateway.metadata)[MeshLabels.waypointFor] ?? 'service';
  return forWhat === 'all' || forWhat === target;
}

function waypointPort(gateway: GatewayResource): number {
  return gateway.spec.listeners.find((l) => l.protocol === 'HBONE')?.port ?? HBONE_PORT;
}

/**
 * Ambient enrolment: the pod label `istio.io/dataplane-mode` wins (`none`
 * opts out), else the namespace label; pods with an injected sidecar are
 * never ambient.
 */
export function isAmbientEnrolled(labels: Labels, annotations: Labels, namespaceLabels: Labels): boolean {
  if (annotations[MeshLabels.sidecarStatus] !== undefined) return false;
  const own = labels[MeshLabels.dataplaneMode];
  if (own !== undefined) return own === 'ambient';
  return namespaceLabels[MeshLabels.dataplaneMode] === 'ambient';
}

/** Istio's canonical service labels, with its fallback chain. */
function canonical(
  labels: Labels,
  fallbackName: string,
): { canonicalName: string; canonicalRevision: string } {
  return {
    canonicalName:
      labels[MeshLabels.canonicalName] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? fallbackName,
    canonicalRevision:
      labels[MeshLabels.canonicalRevision] ??
      labels['app.kubernetes.io/version'] ??
      labels.version ??
      'latest',
  };
}

function entryLabels(entry: WorkloadEntryResource): Labels {
  return entry.spec.labels ? { ...labelsOf(entry.metadata), ...entry.spec.labels } : labelsOf(entry.metadata);
}

function podIps(pod: PodResource): Uint8Array[] {
  const texts = pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []);
  const out: Uint8Array[] = [];
  for (const t of texts) {
    const bytes = parseIp(t);
    if (bytes) out.push(bytes);
  }
  return out;
}

function containerPort(pod: PodResource, name: string): number | undefined {
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === name) return p.containerPort;
  }
  return undefined;
}

function resolveTargetPort(
  target: number | string | undefined,
  port: number,
  named: (name: string) => number | undefined,
): number | undefined {
  if (target === undefined) return port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  return named(target);
}

function tcpPorts(svc: ServiceResource): readonly NonNullable<ServiceResource['spec']['ports']>[number][] {
  // ztunnel carries TCP only.
  return (svc.spec.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
}

const APP_PROTOCOLS: Readonly<Record<string, AppProtocol>> = {
  http: 'HTTP11',
  'kubernetes.io/h2c': 'HTTP2',
  http2: 'HTTP2',
  grpc: 'GRPC',
  'grpc-web': 'HTTP11',
  tcp: 'TCP',
  tls: 'TLS',
  https: 'TLS',
};

/** Istio protocol selection: `appProtocol`, else the port name prefix (`http-web`). */
function withProtocol(
  port: Port,
  source: { readonly appProtocol?: string | undefined; readonly name?: string },
): Port {
  const explicit = source.appProtocol?.toLowerCase();
  const byName = source.name?.toLowerCase().split('-')[0];
  const protocol = (explicit && APP_PROTOCOLS[explicit]) || (byName && APP_PROTOCOLS[byName]) || undefined;
  return protocol ? { ...port, appProtocol: protocol } : port;
}

function workloadOwner(pod: PodResource): { workloadType: WorkloadType; workloadName: string } {
  const owner = pod.metadata.ownerReferences?.[0];
  if (!owner) return { workloadType: 'POD', workloadName: pod.metadata.name };
  if (owner.kind === 'ReplicaSet') {
    const hash = pod.metadata.labels?.['pod-template-hash'];
    if (hash && owner.name.endsWith(`-${hash}`)) {
      return { workloadType: 'DEPLOYMENT', workloadName: owner.name.slice(0, -hash.length - 1) };
    }
    return { workloadType: 'POD', workloadName: owner.name };
  }
  if (owner.kind === 'Job') {
    // CronJob-created jobs are named `<cronjob>-<scheduled minute>` (Istio's heuristic).
    const m = /^(.+)-\d{8,}$/.exec(owner.name);
    return m
      ? { workloadType: 'CRONJOB', workloadName: m[1]! }
      : { workloadType: 'JOB', workloadName: owner.name };
  }
  return { workloadType: 'POD', workloadName: owner.name };
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * Translates a full set of resources in one go (a fresh {@link MeshTranslator}).
 *
 * @example
 * ```ts
 * const { addresses, authorizations } = translate(resources, { clusterId: 'Kubernetes' });
 * ```
 */
export function translate(
  resources: readonly MeshResource[],
  options: TranslatorOptions = {},
): {
  readonly addresses: ReadonlyMap<string, Address>;
  readonly authorizations: ReadonlyMap<string, WireAuthorization>;
} {
  const translator = new MeshTranslator(options);
  translator.apply({ upserted: resources, removed: [] });
  return { addresses: translator.addresses(), authorizations: translator.authorizations() };
}
