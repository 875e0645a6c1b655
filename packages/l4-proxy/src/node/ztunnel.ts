import { randomFillSync, randomUUID } from 'node:crypto';
import type net from 'node:net';
import { AuthorizationSet, type AuthzRequest, type Decision, explain } from '@amesh/authz-engine';
import { buildForwarded, buildTraceParent, forwardedNode } from '@amesh/hbone-codec';
import { type HbonePoolKey, HbonePool, HboneServer, type IncomingTunnel } from '@amesh/hbone-codec/node';
import { acceptHboneTls, connectHboneTls, type TlsCertificate } from '@amesh/mtls-identity/node';
import {
  type ConnectionLogFields,
  createIstioTcpMetrics,
  formatConnectionLog,
  type IstioTcpMetrics,
  MetricsRegistry,
} from '@amesh/telemetry';
import { parseIp, formatIp, type StateChange, type WorkloadStore } from '@amesh/workload-state';
import type { Authorization, Workload } from '@amesh/xds-types';
import { Socks5Reply } from '../socks5.js';
import { type ConnectionPeers, PeerLabelCache } from './peer-labels.js';
import type { ListenerPurpose, LocalPod, PodNetwork } from './pod-network.js';
import { type Relay, relay } from './relay.js';
import { acceptSocks5 } from './socks5-server.js';

/** Where ztunnel gets workload certificates (the `@amesh/mtls-identity` `CertificateManager` fits). */
export interface ZtunnelCertificates {
  fetch(identity: string, priority?: 'needed-now' | 'prefetch' | 'background'): Promise<TlsCertificate>;
}

/** Options of {@link Ztunnel}. */
export interface ZtunnelOptions {
  /** Workloads, services and policies from xDS. */
  readonly store: WorkloadStore;
  readonly certificates: ZtunnelCertificates;
  readonly network: PodNetwork;
  /**
   * `redirect`: pods' traffic is captured by nftables; listen on 15001
   * (outbound), 15006 (inbound plaintext) and 15008 per pod.
   * `explicit` (local mode): only 15008 per pod; apps enter through SOCKS5.
   */
  readonly capture: 'redirect' | 'explicit';
  /** This mesh's trust domain; HBONE peers from other trust domains are refused. Default `cluster.local`. */
  readonly trustDomain?: string;
  /** Namespace whose GLOBAL policies apply mesh-wide. Default `istio-system`. */
  readonly rootNamespace?: string;
  readonly metrics?: MetricsRegistry;
  /** Where connection logs and errors go (one line each). Default: nowhere. */
  readonly log?: (line: string) => void;
  readonly ports?: {
    readonly outbound?: number;
    readonly inboundPlaintext?: number;
    readonly hbone?: number;
  };
  /** HBONE connection pool tuning (tests use short idle times). */
  readonly pool?: { readonly idleTimeoutMs?: number; readonly maxStreamsPerConnection?: number };
  /** Cluster name in the `baggage` header. Default `Kubernetes`. */
  readonly clusterName?: string;
}

/** One connection ztunnel is proxying, as shown by the admin endpoint. */
export interface TrackedConnection {
  readonly id: string;
  readonly direction: 'inbound' | 'outbound';
  readonly pod: string;
  readonly source: string;
  readonly destination: string;
  readonly sourceIdentity: string | undefined;
  readonly destinationIdentity: string | undefined;
  readonly protocol: 'hbone' | 'tcp';
  readonly startedAt: number;
  bytes(): { received: number; sent: number };
}

interface InboundAuthz {
  /** The request minus the destination's current policies, which are looked up again on re-evaluation. */
  readonly request: Omit<AuthzRequest, 'destination'>;
  readonly podUid: string;
}

interface Tracked extends TrackedConnection {
  readonly relay: Relay;
  readonly authz: InboundAuthz | undefined;
}

/** `bytes()` of every {@link Tracked}: one shared function, not a closure per connection. */
function trackedBytes(this: Tracked): { received: number; sent: number } {
  return this.relay.bytes();
}

/** Random bytes for `traceparent` ids, drawn from a buffer refilled by the CSPRNG (one call per 4 KiB, not per id). */
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;
function pooledRandom(n: number): Buffer {
  if (randomOffset + n > randomPool.length) {
    randomPool = randomFillSync(Buffer.allocUnsafe(Math.max(RANDOM_POOL_BYTES, n)));
    randomOffset = 0;
  }
  const bytes = randomPool.subarray(randomOffset, randomOffset + n);
  randomOffset += n;
  return bytes;
}

interface PodState {
  readonly pod: LocalPod;
  readonly servers: net.Server[];
  readonly hbone: HboneServer;
}

const DEFAULT_PORTS = { outbound: 15001, inboundPlaintext: 15006, hbone: 15008 };

/**
 * The per-node L4 secure overlay, in-process: per-pod listeners, outbound
 * routing into HBONE tunnels with the source pod's identity, inbound HBONE
 * termination with L4 authorization, plaintext handling, connection
 * tracking with re-evaluation when policies change, Istio metrics and
 * connection logs. The binary (`examples/ztunnel`) wires it to xDS, the CA,
 * the node agent and the admin endpoints.
 */
export class Ztunnel {
  readonly metrics: MetricsRegistry;
  readonly #options: ZtunnelOptions;
  readonly #tcp: IstioTcpMetrics;
  readonly #labels = new PeerLabelCache();
  /** SPIFFE identity per workload object (the store replaces the object when the workload changes). */
  readonly #identities = new WeakMap<Workload, string>();
  readonly #authz: AuthorizationSet;
  readonly #pods = new Map<string, PodState>();
  readonly #podByIp = new Map<string, LocalPod>();
  /** Open connections by the uid of the local pod they belong to (what a workload change can affect). */
  readonly #byPod = new Map<string, Set<Tracked>>();
  /** The policies as last applied, by resource name: what a removed or replaced policy applied to. */
  readonly #policies = new Map<string, Authorization>();
  readonly #pool: HbonePool;
  readonly #ports: typeof DEFAULT_PORTS;
  readonly #trustDomain: string;
  readonly #extraServers = new Set<net.Server>();
  readonly #unsubscribe: () => void;
  #state: { readonly kind: 'running' } | { readonly kind: 'draining' } | { readonly kind: 'closed' } = {
    kind: 'running',
  };

  constructor(options: ZtunnelOptions) {
    this.#options = options;
    this.metrics = options.metrics ?? new MetricsRegistry();
    this.#tcp = createIstioTcpMetrics(this.metrics);
    this.#ports = { ...DEFAULT_PORTS, ...options.ports };
    this.#trustDomain = options.trustDomain ?? 'cluster.local';
    this.#authz = new AuthorizationSet({ rootNamespace: options.rootNamespace ?? 'istio-system' });
    for (const [name, policy] of options.store.policies()) {
      this.#authz.upsert(policy);
      this.#policies.set(name, policy);
    }
    this.#unsubscribe = options.store.onChange((change) => this.#onStateChange(change));
    this.#pool = new HbonePool({
      connect: (key) => this.#dialHbone(key),
      ...(options.pool?.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.pool.idleTimeoutMs } : {}),
      ...(options.pool?.maxStreamsPerConnection !== undefined
        ? { maxStreamsPerConnection: options.pool.maxStreamsPerConnection }
        : {}),
    });
  }

  /**
   * Starts serving a pod: opens its listeners (15008, plus 15001 and 15006
   * in redirect mode) and fetches its certificate ahead of need.
   * @throws when a listener cannot be opened (the pod is then not served at all)
   */
  async addPod(pod: LocalPod): Promise<void> {
    if (this.#state.kind !== 'running') throw new Error('ztunnel is shutting down');
    if (this.#pods.has(pod.uid)) await this.removePod(pod.uid);
    const hbone = new HboneServer({ handler: (tunnel) => this.#inboundTunnel(pod, tunnel) });
    const servers: net.Server[] = [];
    const open = async (port: number, purpose: ListenerPurpose, onSocket: (s: net.Socket) => void) => {
      const server = await this.#options.network.listen(pod, port, purpose);
      server.on('connection', onSocket);
      servers.push(server);
    };
    try {
      await open(this.#ports.hbone, 'hbone', (socket) => this.#inboundHbone(pod, hbone, socket));
      if (this.#options.capture === 'redirect') {
        await open(this.#ports.outbound, 'outbound', (socket) => {
          const destination = this.#options.network.originalDestination(socket);
          void this.#outbound(pod, socket, destination);
        });
        await open(this.#ports.inboundPlaintext, 'inbound-plaintext', (socket) =>
          this.#inboundPlaintext(pod, socket),
        );
      }
    } catch (error) {
      for (const s of servers) s.close();
      throw error;
    }
    this.#pods.set(pod.uid, { pod, servers, hbone });
    for (const ip of pod.ips) this.#podByIp.set(canonical(ip), pod);
    const workload = this.#options.store.workload(pod.uid);
    if (workload)
      this.#options.certificates.fetch(this.#options.store.identityOf(workload), 'prefetch').catch(() => {});
  }

  /** Stops serving a pod: closes its listeners and every connection it has open. */
  async removePod(uid: string): Promise<void> {
    const state = this.#pods.get(uid);
    if (!state) return;
    this.#pods.delete(uid);
    for (const ip of state.pod.ips) {
      if (this.#podByIp.get(canonical(ip)) === state.pod) this.#podByIp.delete(canonical(ip));
    }
    for (const c of this.#byPod.get(uid) ?? []) c.relay.abort(new Error('pod removed from the mesh'));
    state.hbone.destroy();
    await Promise.all(state.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  /** The pods this ztunnel serves. */
  pods(): LocalPod[] {
    return [...this.#pods.values()].map((s) => s.pod);
  }

  /** Open connections, for the admin endpoint. */
  connections(): TrackedConnection[] {
    return [...this.#byPod.values()].flatMap((set) => [...set]);
  }

  /**
   * Serves SOCKS5 (explicit mode's entry into the mesh) on `server`, which
   * must already listen: the client's source IP names the pod it speaks for.
   */
  serveSocks5(server: net.Server): void {
    this.#extraServers.add(server);
    server.on('connection', (socket: net.Socket) => {
      void this.#socks5(socket);
    });
  }

  /**
   * Graceful shutdown: stop accepting, send GOAWAY on HBONE connections, let
   * open connections finish until `drainMs`, then cut what is left.
   */
  async close(drainMs = 5_000): Promise<void> {
    if (this.#state.kind !== 'running') return;
    this.#state = { kind: 'draining' };
    this.#unsubscribe();
    const closing: Promise<unknown>[] = [];
    for (const server of [...this.#extraServers, ...[...this.#pods.values()].flatMap((p) => p.servers)]) {
      closing.push(new Promise<void>((resolve) => server.close(() => resolve())));
    }
    const hbones = [...this.#pods.values()].map((p) => p.hbone.close());
    const drained = Promise.all(this.connections().map((c) => (c as Tracked).relay.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
    clearTimeout(timer);
    for (const c of this.connections()) (c as Tracked).relay.abort(new Error('ztunnel shutting down'));
    for (const p of this.#pods.values()) p.hbone.destroy();
    await Promise.allSettled([...hbones, this.#pool.close(), ...closing]);
    this.#pods.clear();
    this.#state = { kind: 'closed' };
  }

  // --- outbound -----------------------------------------------------------------------------

  async #socks5(socket: net.Socket): Promise<void> {
    let request: Awaited<ReturnType<typeof acceptSocks5>>;
    try {
      request = await acceptSocks5(socket);
    } catch (error) {
      this.#log(`socks5 handshake failed from ${socket.remoteAddress}: ${(error as Error).message}`);
      return;
    }
    // Keys are canonical, so a hit on the address as written is the same hit without parsing it.
    const remote = socket.remoteAddress ?? '';
    const pod = this.#podByIp.get(remote) ?? this.#podByIp.get(canonical(remote));
    if (!pod) {
      this.#log(`socks5 refused: ${socket.remoteAddress} is not a pod on this node`);
      request.reply(Socks5Reply.NOT_ALLOWED);
      return;
    }
    let ip = request.destination.host;
    if (request.destination.kind === 'domain') {
      const vip = this.#resolveHostname(request.destination.host);
      if (!vip) {
        this.#log(`socks5: unknown host ${request.destination.host}`);
        request.reply(Socks5Reply.HOST_UNREACHABLE);
        return;
      }
      ip = vip;
    }
    await this.#outbound(pod, socket, { ip, port: request.destination.port }, request);
  }

  /** A service hostname (or `name.namespace`, `name.namespace.svc`) to its first VIP. */
  #resolveHostname(host: string): string | undefined {
    if (parseIp(host)) return host;
    const wanted = host.replace(/\.$/, '');
    for (const service of this.#options.store.dump().services) {
      const short = `${service.name}.${service.namespace}`;
      if (service.hostname === wanted || short === wanted || `${short}.svc` === wanted) {
        const vip = service.addresses[0];
        if (vip) return formatIp(vip.address);
      }
    }
    return undefined;
  }

  async #outbound(
    pod: LocalPod,
    socket: net.Socket,
    destination: { ip: string; port: number },
    socks?: { reply(code: number): void; readonly head: Buffer },
  ): Promise<void> {
    const store = this.#options.store;
    const source = store.workload(pod.uid);
    const started = Date.now();
    const src = `${socket.remoteAddress}:${socket.remotePort}`;
    const dst = `${destination.ip}:${destination.port}`;
    const refuse = (why: string, code: number = Socks5Reply.GENERAL_FAILURE): void => {
      this.#logConnection({ 'src.addr': src, 'dst.addr': dst, direction: 'outbound', error: why }, source);
      if (socks) socks.reply(code as never);
      else socket.destroy();
    };
    if (!source) {
      refuse(`source pod ${pod.uid} is unknown to the control plane`, Socks5Reply.NOT_ALLOWED);
      return;
    }
    const sourceIdentity = this.#identity(source);
    const route = store.resolveOutbound(destination, source);
    if (route.kind === 'unreachable') {
      refuse(`no route to ${dst}: ${route.reason}`, Socks5Reply.HOST_UNREACHABLE);
      return;
    }
    if (route.kind === 'hbone') {
      const sourceIp = pod.ips.find(
        (ip) => (ip.includes(':') ? 6 : 4) === (route.target.ip.includes(':') ? 6 : 4),
      );
      const key: HbonePoolKey = {
        sourceIdentity,
        destinationIdentities: route.expectedIdentities,
        nextHop: `${bracket(route.target.ip)}:${route.target.port}`,
        ...(sourceIp ? { sourceIp } : {}),
      };
      const peers: ConnectionPeers = {
        reporter: 'source',
        source,
        sourcePrincipal: sourceIdentity,
        destination: route.via === 'waypoint' ? undefined : route.destination,
        destinationPrincipal: route.expectedIdentities[0],
        service: route.service,
        mtls: true,
      };
      let tunnel: Awaited<ReturnType<HbonePool['open']>>;
      try {
        tunnel = await this.#pool.open(key, {
          authority: route.authority,
          forwarded: buildForwarded({
            for: forwardedNode(socket.remoteAddress ?? '', socket.remotePort),
            ...(route.service ? { host: route.service.hostname } : {}),
          }),
          traceparent: buildTraceParent({ random: pooledRandom }),
        });
      } catch (error) {
        const status = (error as { status?: number }).status;
        this.#countRefused(peers, status === 401 ? 'DENY' : 'CONNECT');
        refuse(
          `HBONE to ${key.nextHop} (${route.authority}) failed: ${(error as Error).message}`,
          status === 401 ? Socks5Reply.NOT_ALLOWED : Socks5Reply.CONNECTION_REFUSED,
        );
        return;
      }
      if (socks) {
        socks.reply(Socks5Reply.SUCCEEDED);
        if (socks.head.length > 0) tunnel.write(socks.head);
      }
      this.#track({
        direction: 'outbound',
        pod,
        downstream: socket,
        upstream: tunnel,
        peers,
        protocol: 'hbone',
        started,
        log: {
          'src.addr': src,
          'dst.addr': key.nextHop,
          'dst.hbone_addr': route.authority,
          ...(route.service ? { 'dst.service': route.service.hostname } : {}),
          'dst.workload': route.destination.workloadName || route.destination.name,
          'dst.namespace': route.destination.namespace,
          'dst.identity': route.expectedIdentities[0] ?? '',
        },
        authz: undefined,
      });
      return;
    }
    // plaintext (a mesh workload without HBONE) or passthrough (not in the mesh)
    const upstream = this.#options.network.connect(pod, route.target);
    const peers: ConnectionPeers = {
      reporter: 'source',
      source,
      sourcePrincipal: sourceIdentity,
      destination: route.kind === 'plaintext' ? route.destination : undefined,
      destinationPrincipal: undefined,
      service: route.kind === 'plaintext' ? route.service : undefined,
      mtls: false,
    };
    const onConnectError = (error: Error): void => {
      if (upstream.connecting || !upstream.remoteAddress) {
        this.#countRefused(peers, 'CONNECT');
        refuse(
          `connect to ${route.target.ip}:${route.target.port} failed: ${error.message}`,
          Socks5Reply.CONNECTION_REFUSED,
        );
      }
    };
    upstream.once('error', onConnectError);
    upstream.once('connect', () => {
      // From here the relay owns the socket's errors; dropping this listener frees what it holds.
      upstream.off('error', onConnectError);
      if (socks) {
        socks.reply(Socks5Reply.SUCCEEDED);
        if (socks.head.length > 0) upstream.write(socks.head);
      }
      this.#track({
        direction: 'outbound',
        pod,
        downstream: socket,
        upstream,
        peers,
        protocol: 'tcp',
        started,
        log: { 'src.addr': src, 'dst.addr': `${route.target.ip}:${route.target.port}` },
        authz: undefined,
      });
    });
  }

  async #dialHbone(key: HbonePoolKey): Promise<import('node:stream').Duplex> {
    const [ip, port] = splitHostPort(key.nextHop);
    const sourcePod = key.sourceIp ? this.#podByIp.get(canonical(key.sourceIp)) : undefined;
    const certificate = await this.#options.certificates.fetch(key.sourceIdentity, 'needed-now');
    const socket = this.#options.network.connect(sourcePod, { ip, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return connectHboneTls({ certificate, expectedIdentities: key.destinationIdentities, socket });
  }

  // --- inbound ------------------------------------------------------------------------------

  #inboundHbone(pod: LocalPod, hbone: HboneServer, socket: net.Socket): void {
    const workload = (): Workload | undefined => this.#options.store.workload(pod.uid);
    acceptHboneTls(socket, {
      trustDomain: this.#trustDomain,
      selectCertificate: async () => {
        const w = workload();
        if (!w) throw new Error(`pod ${pod.uid} is unknown to the control plane`);
        return this.#options.certificates.fetch(this.#options.store.identityOf(w), 'needed-now');
      },
    }).then(
      ({ socket: tlsSocket, peer }) => {
        hbone.handle(tlsSocket, {
          peerIdentity: peer.uri,
          ...(socket.localAddress ? { localAddress: stripMapped(socket.localAddress) } : {}),
          ...(socket.localPort ? { localPort: socket.localPort } : {}),
          ...(socket.remoteAddress ? { remoteAddress: stripMapped(socket.remoteAddress) } : {}),
          ...(socket.remotePort ? { remotePort: socket.remotePort } : {}),
        });
      },
      (error: Error) => {
        this.#log(
          `${new Date().toISOString()} error access connection complete src.addr=${socket.remoteAddress}:${socket.remotePort} direction="inbound" error=${JSON.stringify(`mTLS handshake refused: ${error.message}`)}`,
        );
      },
    );
  }

  #inboundTunnel(pod: LocalPod, tunnel: IncomingTunnel): void {
    const store = this.#options.store;
    const destination = store.workload(pod.uid);
    const started = Date.now();
    const meta = tunnel.metadata;
    const authority = tunnel.request.authority;
    const principal = meta.peerIdentity;
    const sourceIp = meta.remoteAddress ?? '';
    const src = `${sourceIp}:${meta.remotePort ?? 0}`;
    const source = this.#sourceWorkload(sourceIp, principal);
    const log: ConnectionLogFields = {
      'src.addr': src,
      ...(source
        ? { 'src.workload': source.workloadName || source.name, 'src.namespace': source.namespace }
        : {}),
      ...(principal ? { 'src.identity': principal } : {}),
      'dst.addr': `${bracket(meta.localAddress ?? '')}:${meta.localPort ?? this.#ports.hbone}`,
      'dst.hbone_addr': `${bracket(authority.host)}:${authority.port}`,
      ...(destination
        ? {
            'dst.workload': destination.workloadName || destination.name,
            'dst.namespace': destination.namespace,
            'dst.identity': this.#identity(destination),
          }
        : {}),
    };
    const peers: ConnectionPeers = {
      reporter: 'destination',
      source,
      sourcePrincipal: principal,
      destination,
      destinationPrincipal: destination ? this.#identity(destination) : undefined,
      service: undefined,
      mtls: true,
    };
    if (!destination) {
      tunnel.reject(503);
      this.#countRefused(peers, 'CONNECT');
      this.#logConnection(
        { ...log, direction: 'inbound', error: 'destination pod unknown to the control plane' },
        source,
      );
      return;
    }
    const authz: InboundAuthz = {
      podUid: pod.uid,
      request: principal
        ? {
            sourcePrincipal: principal.startsWith('spiffe://') ? principal.slice(9) : principal,
            sourceIp,
            destinationIp: authority.host,
            destinationPort: authority.port,
          }
        : { sourceIp, destinationIp: authority.host, destinationPort: authority.port },
    };
    const decision = this.#evaluate(authz, destination);
    if (decision.result !== 'allow') {
      tunnel.reject(401);
      this.#countRefused(peers, 'DENY');
      this.#logConnection(
        { ...log, direction: 'inbound', error: `policy rejection: ${explain(decision)}` },
        source,
      );
      return;
    }
    const upstream = this.#options.network.connect(pod, { ip: authority.host, port: authority.port });
    const onConnectError = (error: Error): void => {
      if (!upstream.remoteAddress) {
        tunnel.reject(503);
        this.#countRefused(peers, 'CONNECT');
        this.#logConnection(
          { ...log, direction: 'inbound', error: `connect to the pod failed: ${error.message}` },
          source,
        );
      }
    };
    upstream.once('error', onConnectError);
    upstream.once('connect', () => {
      // From here the relay owns the socket's errors; dropping this listener frees the request it holds.
      upstream.off('error', onConnectError);
      const stream = tunnel.accept();
      this.#track({
        direction: 'inbound',
        pod,
        downstream: stream,
        upstream,
        peers,
        protocol: 'hbone',
        started,
        log,
        authz,
      });
    });
  }

  #inboundPlaintext(pod: LocalPod, socket: net.Socket): void {
    const store = this.#options.store;
    const destination = store.workload(pod.uid);
    const started = Date.now();
    const original = this.#options.network.originalDestination(socket);
    const sourceIp = stripMapped(socket.remoteAddress ?? '');
    const source = this.#sourceWorkload(sourceIp, undefined);
    const log: ConnectionLogFields = {
      'src.addr': `${sourceIp}:${socket.remotePort}`,
      'dst.addr': `${bracket(original.ip)}:${original.port}`,
      ...(destination
        ? {
            'dst.workload': destination.workloadName || destination.name,
            'dst.namespace': destination.namespace,
          }
        : {}),
    };
    const peers: ConnectionPeers = {
      reporter: 'destination',
      source,
      sourcePrincipal: undefined,
      destination,
      destinationPrincipal: destination ? this.#identity(destination) : undefined,
      service: undefined,
      mtls: false,
    };
    if (!destination) {
      socket.destroy();
      this.#logConnection(
        { ...log, direction: 'inbound', error: 'destination pod unknown to the control plane' },
        source,
      );
      return;
    }
    const authz: InboundAuthz = {
      podUid: pod.uid,
      request: { sourceIp, destinationIp: original.ip, destinationPort: original.port },
    };
    const decision = this.#evaluate(authz, destination);
    if (decision.result !== 'allow') {
      socket.destroy();
      this.#countRefused(peers, 'DENY');
      this.#logConnection(
        { ...log, direction: 'inbound', error: `policy rejection: ${explain(decision)}` },
        source,
      );
      return;
    }
    const upstream = this.#options.network.connect(pod, original);
    const onConnectError = (error: Error): void => {
      if (!upstream.remoteAddress) {
        socket.destroy();
        this.#countRefused(peers, 'CONNECT');
        this.#logConnection(
          { ...log, direction: 'inbound', error: `connect to the pod failed: ${error.message}` },
          source,
        );
      }
    };
    upstream.once('error', onConnectError);
    upstream.once('connect', () => {
      // From here the relay owns the socket's errors.
      upstream.off('error', onConnectError);
      this.#track({
        direction: 'inbound',
        pod,
        downstream: socket,
        upstream,
        peers,
        protocol: 'tcp',
        started,
        log,
        authz,
      });
    });
  }

  #sourceWorkload(ip: string, principal: string | undefined): Workload | undefined {
    const w = this.#options.store.workloadByIp(ip);
    if (!w) return undefined;
    // Trust the IP lookup only when it agrees with the authenticated identity.
    if (principal && this.#identity(w) !== principal) return undefined;
    return w;
  }

  #identity(workload: Workload): string {
    let identity = this.#identities.get(workload);
    if (identity === undefined) {
      identity = this.#options.store.identityOf(workload);
      this.#identities.set(workload, identity);
    }
    return identity;
  }

  #evaluate(authz: InboundAuthz, destination: Workload): Decision {
    return this.#authz.evaluate({
      ...authz.request,
      destination: { namespace: destination.namespace, policies: destination.authorizationPolicies },
    });
  }

  // --- tracking, telemetry ------------------------------------------------------------------

  #track(init: {
    direction: 'inbound' | 'outbound';
    pod: LocalPod;
    downstream: import('node:stream').Duplex;
    upstream: import('node:stream').Duplex;
    peers: ConnectionPeers;
    protocol: 'hbone' | 'tcp';
    started: number;
    log: ConnectionLogFields;
    authz: InboundAuthz | undefined;
  }): void {
    const labels = this.#labels.get(init.peers);
    this.#tcp.opened.inc(labels);
    const r = relay(init.downstream, init.upstream);
    const id = randomUUID();
    const tracked: Tracked = {
      id,
      direction: init.direction,
      pod: init.pod.uid,
      source: init.log['src.addr'] ?? '',
      destination: init.log['dst.addr'] ?? '',
      sourceIdentity: init.peers.sourcePrincipal,
      destinationIdentity: init.peers.destinationPrincipal,
      protocol: init.protocol,
      startedAt: init.started,
      bytes: trackedBytes,
      relay: r,
      authz: init.authz,
    };
    let open = this.#byPod.get(tracked.pod);
    if (!open) {
      open = new Set();
      this.#byPod.set(tracked.pod, open);
    }
    open.add(tracked);
    void r.done.then((result) => {
      const set = this.#byPod.get(tracked.pod);
      if (set?.delete(tracked) && set.size === 0) this.#byPod.delete(tracked.pod);
      // received: from the client; for the destination reporter the client is the peer ztunnel.
      this.#tcp.received.inc(labels, result.received);
      this.#tcp.sent.inc(labels, result.sent);
      this.#tcp.closed.inc(labels);
      if (!this.#options.log) return;
      this.#logConnection(
        {
          ...init.log,
          direction: init.direction,
          bytes_sent: result.sent,
          bytes_recv: result.received,
          duration: Date.now() - init.started,
          ...(result.error ? { error: result.error.message } : {}),
        },
        init.peers.source,
      );
    });
  }

  #countRefused(peers: ConnectionPeers, flag: string): void {
    const labels = this.#labels.get({ ...peers, responseFlags: flag });
    this.#tcp.opened.inc(labels);
    this.#tcp.closed.inc(labels);
  }

  #logConnection(fields: ConnectionLogFields, source: Workload | undefined): void {
    if (!this.#options.log) return;
    const withSource: ConnectionLogFields = {
      ...(source && !fields['src.workload']
        ? { 'src.workload': source.workloadName || source.name, 'src.namespace': source.namespace }
        : {}),
      ...fields,
    };
    this.#log(formatConnectionLog(withSource, new Date()));
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }

  /**
   * Re-checks open inbound connections against what a change can affect: a
   * workload change, the connections of that pod (its policy list or
   * namespace may have changed, or it is gone); a policy change, the
   * connections of the pods the old or the new version applies to (its
   * namespace's pods, the pods that list it, or every pod for a mesh-wide
   * policy). Everything else keeps its earlier decision.
   */
  #onStateChange(change: StateChange): void {
    if (change.kind === 'workload') {
      const open = this.#byPod.get(change.name);
      if (open) this.#reevaluate(change.name, open);
      return;
    }
    if (change.kind !== 'authorization') return;
    const previous = this.#policies.get(change.name);
    if (change.policy) {
      this.#authz.upsert(change.policy);
      this.#policies.set(change.name, change.policy);
    } else {
      this.#authz.remove(change.name);
      this.#policies.delete(change.name);
    }
    for (const [uid, open] of this.#byPod) {
      const workload = this.#options.store.workload(uid);
      const destination = workload && {
        namespace: workload.namespace,
        policies: workload.authorizationPolicies,
      };
      if (
        !destination ||
        (previous !== undefined && this.#authz.appliesTo(previous, destination)) ||
        (change.policy !== undefined && this.#authz.appliesTo(change.policy, destination))
      ) {
        this.#reevaluate(uid, open);
      }
    }
  }

  #reevaluate(uid: string, open: ReadonlySet<Tracked>): void {
    const destination = this.#options.store.workload(uid);
    for (const c of [...open]) {
      if (!c.authz) continue;
      const decision = destination ? this.#evaluate(c.authz, destination) : undefined;
      if (decision?.result !== 'allow') {
        c.relay.abort(
          new Error(`policy rejection: ${decision ? explain(decision) : 'destination workload was removed'}`),
        );
      }
    }
  }
}

function canonical(ip: string): string {
  const bytes = parseIp(ip);
  return bytes ? formatIp(bytes) : ip;
}

function stripMapped(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

function bracket(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

function splitHostPort(hostPort: string): [string, number] {
  const colon = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, colon).replace(/^\[|\]$/g, '');
  return [host, Number(hostPort.slice(colon + 1))];
}
