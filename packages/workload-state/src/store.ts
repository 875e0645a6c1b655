import type { Address, Authorization, GatewayAddress, Port, Service, Workload } from '@amesh/xds-types';
import { workloadIdentity } from './identity.js';
import { formatIp, ipKey, parseIp } from './ip.js';

/** A change the store went through, for listeners (re-evaluate connections, refresh certificates). */
export type StateChange =
  | { readonly kind: 'workload'; readonly name: string; readonly workload: Workload | undefined }
  | { readonly kind: 'service'; readonly name: string; readonly service: Service | undefined }
  | { readonly kind: 'authorization'; readonly name: string; readonly policy: Authorization | undefined };

/** Where an outbound connection goes, as decided by {@link WorkloadStore.resolveOutbound}. */
export type OutboundRoute =
  | {
      /** Through an HBONE tunnel: dial `target` (port 15008), CONNECT to `authority`. */
      readonly kind: 'hbone';
      readonly target: { readonly ip: string; readonly port: number };
      readonly authority: string;
      /** SPIFFE IDs the peer's certificate may carry. */
      readonly expectedIdentities: readonly string[];
      /** The workload the bytes finally reach (the waypoint's workload when `via` is `waypoint`). */
      readonly destination: Workload;
      readonly service: Service | undefined;
      readonly via: 'direct' | 'waypoint';
    }
  | {
      /** A mesh workload that is not captured (tunnel protocol NONE): plain TCP to it. */
      readonly kind: 'plaintext';
      readonly target: { readonly ip: string; readonly port: number };
      readonly destination: Workload;
      readonly service: Service | undefined;
    }
  | {
      /** Not a mesh address: connect to the original destination as it is. */
      readonly kind: 'passthrough';
      readonly target: { readonly ip: string; readonly port: number };
    }
  | {
      /** A mesh service the connection cannot reach (ztunnel closes it). */
      readonly kind: 'unreachable';
      readonly reason: 'no-healthy-endpoint' | 'waypoint-not-found';
      readonly service: Service | undefined;
    };

/** Options of {@link WorkloadStore}. */
export interface WorkloadStoreOptions {
  /** Trust domain of workloads that name none (default `cluster.local`). */
  readonly defaultTrustDomain?: string;
  /** The network of this node's workloads (default `''`). */
  readonly network?: string;
  /**
   * Picks one endpoint among healthy candidates; default round robin per
   * service. Injectable for deterministic tests.
   */
  readonly pickEndpoint?: (service: Service, candidates: readonly Workload[]) => Workload;
}

const HBONE_PORT = 15008;

/**
 * The ztunnel's view of the mesh, fed by xDS `Address` and `Authorization`
 * resources (by resource name) and queried on every connection: by IP, by
 * VIP, by name, and for the outbound route. Pure and synchronous.
 *
 * @example
 * ```ts
 * const store = new WorkloadStore();
 * store.applyAddress('default/echo.default.svc.cluster.local', { type: 'service', service });
 * store.applyAddress('pod-uid', { type: 'workload', workload });
 * const route = store.resolveOutbound({ ip: '10.96.0.10', port: 80 });
 * ```
 */
export class WorkloadStore {
  readonly #workloads = new Map<string, Workload>();
  readonly #services = new Map<string, Service>();
  readonly #policies = new Map<string, Authorization>();
  readonly #workloadByIp = new Map<string, Workload>();
  readonly #serviceByVip = new Map<string, Service>();
  /** service key (`ns/hostname`) → uids of workloads that back it */
  readonly #endpoints = new Map<string, Set<string>>();
  readonly #listeners = new Set<(change: StateChange) => void>();
  readonly #roundRobin = new Map<string, number>();
  readonly #defaultTrustDomain: string;
  readonly #network: string;
  readonly #pick: ((service: Service, candidates: readonly Workload[]) => Workload) | undefined;

  constructor(options: WorkloadStoreOptions = {}) {
    this.#defaultTrustDomain = options.defaultTrustDomain ?? 'cluster.local';
    this.#network = options.network ?? '';
    this.#pick = options.pickEndpoint;
  }

  /**
   * Applies one `istio.workload.Address` resource by its xDS name (a
   * workload's uid, or `<namespace>/<hostname>` for a service); `undefined`
   * removes it.
   */
  applyAddress(name: string, address: Address | undefined): void {
    if (address === undefined) {
      if (this.#workloads.has(name)) this.#removeWorkload(name);
      else if (this.#services.has(name)) this.#removeService(name);
      return;
    }
    if (address.type === 'workload') {
      if (this.#services.has(name)) this.#removeService(name);
      this.#upsertWorkload(name, address.workload);
    } else {
      if (this.#workloads.has(name)) this.#removeWorkload(name);
      this.#upsertService(name, address.service);
    }
  }

  /** Applies one `istio.security.Authorization` by name (`<namespace>/<name>`); `undefined` removes it. */
  applyAuthorization(name: string, policy: Authorization | undefined): void {
    if (policy === undefined) {
      if (!this.#policies.delete(name)) return;
    } else {
      this.#policies.set(name, policy);
    }
    this.#emit({ kind: 'authorization', name, policy });
  }

  /** Calls `listener` after every change; returns a function that unsubscribes. */
  onChange(listener: (change: StateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A workload by uid. */
  workload(uid: string): Workload | undefined {
    return this.#workloads.get(uid);
  }

  /** A service by `<namespace>/<hostname>`. */
  service(name: string): Service | undefined {
    return this.#services.get(name);
  }

  /** The workload that owns an IP on a network (default: this node's network). */
  workloadByIp(ip: string, network = this.#network): Workload | undefined {
    return this.#workloadByIp.get(ipKey(network, ip));
  }

  /** The service whose VIP this is. */
  serviceByVip(ip: string, network = this.#network): Service | undefined {
    return this.#serviceByVip.get(ipKey(network, ip));
  }

  /** Every workload, service and policy, for admin dumps. */
  dump(): { workloads: Workload[]; services: Service[]; policies: Authorization[] } {
    return {
      workloads: [...this.#workloads.values()],
      services: [...this.#services.values()],
      policies: [...this.#policies.values()],
    };
  }

  /** All services, by xDS resource name (a `service` change names the same key). */
  services(): ReadonlyMap<string, Service> {
    return this.#services;
  }

  /** All authorization policies, by name. */
  policies(): ReadonlyMap<string, Authorization> {
    return this.#policies;
  }

  /** The SPIFFE ID of a workload. */
  identityOf(workload: Workload): string {
    return workloadIdentity(workload, this.#defaultTrustDomain);
  }

  /** Workloads that back a service (any health). */
  endpointsOf(service: Service): Workload[] {
    const uids = this.#endpoints.get(serviceKey(service));
    if (!uids) return [];
    const out: Workload[] = [];
    for (const uid of uids) {
      const w = this.#workloads.get(uid);
      if (w) out.push(w);
    }
    return out;
  }

  /**
   * Decides where an outbound connection to `destination` goes, as ztunnel
   * does: a service VIP picks a healthy endpoint (or the service's waypoint),
   * a pod IP goes to that pod (or its waypoint), anything else passes through.
   * `source` is the connecting workload, so a waypoint's own traffic is not
   * sent back to itself.
   */
  resolveOutbound(destination: { ip: string; port: number }, source?: Workload): OutboundRoute {
    const service = this.serviceByVip(destination.ip);
    if (service) return this.#resolveService(service, destination, source);
    const workload = this.workloadByIp(destination.ip);
    if (!workload) return { kind: 'passthrough', target: { ip: destination.ip, port: destination.port } };
    if (workload.waypoint && !this.#isWaypointOf(source, workload.waypoint)) {
      return this.#viaWaypoint(
        workload.waypoint,
        `${bracket(destination.ip)}:${destination.port}`,
        undefined,
      );
    }
    return this.#toWorkload(workload, destination.ip, destination.port, undefined);
  }

  #resolveService(
    service: Service,
    destination: { ip: string; port: number },
    source?: Workload,
  ): OutboundRoute {
    if (service.waypoint && !this.#isWaypointOf(source, service.waypoint)) {
      return this.#viaWaypoint(service.waypoint, `${bracket(destination.ip)}:${destination.port}`, service);
    }
    const servicePort = service.ports.find((p) => p.servicePort === destination.port);
    const healthy = this.endpointsOf(service).filter((w) => w.status === 'HEALTHY' && this.#addressOf(w));
    if (healthy.length === 0) return { kind: 'unreachable', reason: 'no-healthy-endpoint', service };
    const endpoint = this.#pickEndpoint(service, healthy);
    const port = targetPort(endpoint, service, servicePort, destination.port);
    return this.#toWorkload(endpoint, this.#addressOf(endpoint)!, port, service);
  }

  #toWorkload(workload: Workload, ip: string, port: number, service: Service | undefined): OutboundRoute {
    if (workload.tunnelProtocol === 'HBONE') {
      return {
        kind: 'hbone',
        target: { ip, port: HBONE_PORT },
        authority: `${bracket(ip)}:${port}`,
        expectedIdentities: [this.identityOf(workload)],
        destination: workload,
        service,
        via: 'direct',
      };
    }
    return { kind: 'plaintext', target: { ip, port }, destination: workload, service };
  }

  #viaWaypoint(gateway: GatewayAddress, authority: string, service: Service | undefined): OutboundRoute {
    const waypoint = this.#waypointWorkload(gateway);
    const ip = waypoint && this.#addressOf(waypoint);
    if (!waypoint || !ip) return { kind: 'unreachable', reason: 'waypoint-not-found', service };
    return {
      kind: 'hbone',
      target: { ip, port: gateway.hboneMtlsPort || HBONE_PORT },
      authority,
      expectedIdentities: [this.identityOf(waypoint)],
      destination: waypoint,
      service,
      via: 'waypoint',
    };
  }

  #waypointWorkload(gateway: GatewayAddress): Workload | undefined {
    if (gateway.hostname) {
      const svc = this.#services.get(`${gateway.hostname.namespace}/${gateway.hostname.hostname}`);
      if (!svc) return undefined;
      const healthy = this.endpointsOf(svc).filter((w) => w.status === 'HEALTHY' && this.#addressOf(w));
      return healthy.length === 0 ? undefined : this.#pickEndpoint(svc, healthy);
    }
    if (gateway.address) return this.workloadByIp(formatIp(gateway.address.address), gateway.address.network);
    return undefined;
  }

  #isWaypointOf(source: Workload | undefined, gateway: GatewayAddress): boolean {
    if (!source) return false;
    if (gateway.hostname) {
      const key = `${gateway.hostname.namespace}/${gateway.hostname.hostname}`;
      return key in source.services;
    }
    if (gateway.address) {
      const ip = formatIp(gateway.address.address);
      return source.addresses.some((a) => formatIp(a) === ip);
    }
    return false;
  }

  #pickEndpoint(service: Service, candidates: readonly Workload[]): Workload {
    if (this.#pick) return this.#pick(service, candidates);
    const key = serviceKey(service);
    const next = this.#roundRobin.get(key) ?? 0;
    this.#roundRobin.set(key, next + 1);
    return candidates[next % candidates.length]!;
  }

  #addressOf(workload: Workload): string | undefined {
    const first = workload.addresses[0];
    return first ? formatIp(first) : undefined;
  }

  #upsertWorkload(uid: string, workload: Workload): void {
    const old = this.#workloads.get(uid);
    if (old) this.#unindexWorkload(uid, old);
    this.#workloads.set(uid, workload);
    for (const address of workload.addresses) {
      this.#workloadByIp.set(ipKey(workload.network, address), workload);
    }
    for (const key of Object.keys(workload.services)) {
      const set = this.#endpoints.get(key) ?? new Set<string>();
      this.#endpoints.set(key, set);
      set.add(uid);
    }
    this.#emit({ kind: 'workload', name: uid, workload });
  }

  #removeWorkload(uid: string): void {
    const old = this.#workloads.get(uid);
    if (!old) return;
    this.#unindexWorkload(uid, old);
    this.#workloads.delete(uid);
    this.#emit({ kind: 'workload', name: uid, workload: undefined });
  }

  #unindexWorkload(uid: string, workload: Workload): void {
    for (const address of workload.addresses) {
      const key = ipKey(workload.network, address);
      if (this.#workloadByIp.get(key) === workload) this.#workloadByIp.delete(key);
    }
    for (const key of Object.keys(workload.services)) this.#endpoints.get(key)?.delete(uid);
  }

  #upsertService(name: string, service: Service): void {
    const old = this.#services.get(name);
    if (old) this.#unindexService(old);
    this.#services.set(name, service);
    for (const vip of service.addresses) this.#serviceByVip.set(ipKey(vip.network, vip.address), service);
    this.#emit({ kind: 'service', name, service });
  }

  #removeService(name: string): void {
    const old = this.#services.get(name);
    if (!old) return;
    this.#unindexService(old);
    this.#services.delete(name);
    this.#emit({ kind: 'service', name, service: undefined });
  }

  #unindexService(service: Service): void {
    for (const vip of service.addresses) {
      const key = ipKey(vip.network, vip.address);
      if (this.#serviceByVip.get(key) === service) this.#serviceByVip.delete(key);
    }
  }

  #emit(change: StateChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

function serviceKey(service: Pick<Service, 'namespace' | 'hostname'>): string {
  return `${service.namespace}/${service.hostname}`;
}

/**
 * The port on the endpoint: the workload's own mapping for this service
 * (named ports resolve per pod), else the service's target port, else the
 * port that was dialled.
 */
function targetPort(
  endpoint: Workload,
  service: Service,
  servicePort: Port | undefined,
  dialled: number,
): number {
  const own = endpoint.services[serviceKey(service)]?.ports.find((p) => p.servicePort === dialled);
  if (own && own.targetPort > 0) return own.targetPort;
  if (servicePort && servicePort.targetPort > 0) return servicePort.targetPort;
  return dialled;
}

function bracket(ip: string): string {
  const bytes = parseIp(ip);
  return bytes && bytes.length === 16 ? `[${formatIp(bytes)}]` : ip;
}
