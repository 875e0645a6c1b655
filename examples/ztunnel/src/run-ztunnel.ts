import { createServer } from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ZtunnelAgentClient } from '@amesh/cni-redirect/node';
import { DnsNameTable } from '@amesh/dns-proxy';
import { type LocalPod, LoopbackPodNetwork, Ztunnel } from '@amesh/l4-proxy/node';
import { CertificateManager, parseSpiffeId } from '@amesh/mtls-identity';
import { CaGrpcClient, nodeEcdsaP256, spiffeServerIdentityCheck } from '@amesh/mtls-identity/node';
import { createIstioDnsMetrics } from '@amesh/telemetry';
import { metricsRequestListener } from '@amesh/telemetry/node';
import { formatIp, WorkloadStore } from '@amesh/workload-state';
import {
  addressResourceType,
  authorizationResourceType,
  ResourceTypeRegistry,
  WILDCARD,
} from '@amesh/xds-client';
import { XdsClient } from '@amesh/xds-client/node';
import type { Address, Authorization } from '@amesh/xds-types';
import { structFromJson, TypeUrl } from '@amesh/xds-types';
import { serveRoutes } from './admin.js';
import { dnsUpstreams, type PodDnsProxy, startPodDnsProxy, syncDnsTable } from './dns.js';
import { NetnsPodNetwork, ZTUNNEL_MARK } from './netns-network.js';

/** How a ztunnel is run (the CLI flags in `main.ts`). */
export interface ZtunnelConfig {
  /** This node's name: pods with `spec.nodeName` equal to it are served here. */
  readonly node: string;
  /** `local`: loopback pods, SOCKS5 entry, no root. `netns`: pods handed over by the CNI node agent. */
  readonly mode: 'local' | 'netns';
  /** Control plane xDS address (host:port). */
  readonly xds: string;
  /** Control plane CA address (host:port); defaults to the xDS address. */
  readonly ca?: string;
  /** Bearer token this ztunnel presents to the CA. */
  readonly token: string;
  /**
   * Root bundle (PEM) of the mesh CA: with it, xDS and the CA are reached
   * over TLS and the control plane must present `spiffe://<td>/ns/istio-system/sa/istiod`;
   * without it, plaintext (local mode's default).
   */
  readonly controlPlaneRoots?: string;
  readonly trustDomain?: string;
  readonly clusterId?: string;
  /** Address of the admin (15000), metrics (15020) and readiness (15021) endpoints. */
  readonly adminHost: string;
  readonly adminPort?: number;
  readonly metricsPort?: number;
  readonly readyPort?: number;
  /** Local mode: where SOCKS5 listens (default adminHost:15080). */
  readonly socks5?: { readonly host: string; readonly port: number };
  /** Netns mode: the node agent's unix socket. */
  readonly cniSocket?: string;
  /**
   * Netns mode: serve the DNS proxy on 15053 (UDP and TCP) inside each pod,
   * answering the mesh's service hostnames and forwarding other names (run
   * the node agent with DNS capture so the pods' DNS is redirected to it).
   */
  readonly dnsProxy?: boolean;
  /** Upstream resolvers of the DNS proxy (`ip[:port]`); default the nameservers of `/etc/resolv.conf`. */
  readonly dnsUpstreams?: readonly string[];
  readonly log?: (line: string) => void;
}

/** A running ztunnel, with the pieces a test or the demo may look at. */
export interface RunningZtunnel {
  readonly ztunnel: Ztunnel;
  readonly store: WorkloadStore;
  readonly xds: XdsClient;
  readonly certificates: CertificateManager;
  ready(): boolean;
  close(drainMs?: number): Promise<void>;
}

/** Starts a ztunnel: xDS, certificates, pods, listeners and the admin endpoints. */
export async function startZtunnel(config: ZtunnelConfig): Promise<RunningZtunnel> {
  const log = config.log ?? ((line: string) => console.log(line));
  const trustDomain = config.trustDomain ?? 'cluster.local';
  const clusterId = config.clusterId ?? 'Kubernetes';
  const ownIdentity = parseSpiffeId(`spiffe://${trustDomain}/ns/istio-system/sa/ztunnel`);
  const store = new WorkloadStore({ defaultTrustDomain: trustDomain });

  const channelCredentials = (): grpc.ChannelCredentials =>
    config.controlPlaneRoots
      ? grpc.credentials.createSsl(Buffer.from(config.controlPlaneRoots), null, null, {
          checkServerIdentity: spiffeServerIdentityCheck([
            `spiffe://${trustDomain}/ns/istio-system/sa/istiod`,
          ]),
        })
      : grpc.credentials.createInsecure();
  const caClient = new CaGrpcClient({
    address: config.ca ?? config.xds,
    credentials: channelCredentials(),
    token: config.token,
    clusterId,
    ownIdentity,
  });
  // OpenSSL-backed ECDSA: key generation and CSR signing several times faster than pure JS.
  const certificates = new CertificateManager({ caClient, ecdsa: nodeEcdsaP256 });
  certificates.on('rotated', (event) => log(`certificate rotated for ${event.identity.uri}`));

  const network = config.mode === 'local' ? new LoopbackPodNetwork() : new NetnsPodNetwork();
  const ztunnel = new Ztunnel({
    store,
    certificates,
    network,
    capture: config.mode === 'local' ? 'explicit' : 'redirect',
    trustDomain,
    log,
    clusterName: clusterId,
  });

  const registry = new ResourceTypeRegistry();
  registry.register(addressResourceType);
  registry.register(authorizationResourceType);
  const xds = new XdsClient({
    target: config.xds,
    credentials: channelCredentials(),
    node: {
      id: `ztunnel~${config.adminHost}~ztunnel-${config.node}.istio-system~istio-system.svc.cluster.local`,
      metadata: structFromJson({ NODE_NAME: config.node, CLUSTER_ID: clusterId }),
    },
    mode: 'delta',
    registry,
    log: (record) => {
      if (record.level !== 'debug')
        log(`xds ${record.level}: ${record.msg}${record.error ? `: ${record.error.message}` : ''}`);
    },
  });
  const synced = { address: false, authorization: false };
  xds.watch(TypeUrl.address, WILDCARD, {
    onChanged: (name: string, value: unknown) => {
      synced.address = true;
      store.applyAddress(name, value as Address);
    },
    onRemoved: (name: string) => store.applyAddress(name, undefined),
  });
  xds.watch(TypeUrl.authorization, WILDCARD, {
    onChanged: (name: string, value: unknown) => {
      synced.authorization = true;
      store.applyAuthorization(name, value as Authorization);
    },
    onRemoved: (name: string) => store.applyAuthorization(name, undefined),
  });
  xds.start();

  // --- DNS proxy (netns mode) ---------------------------------------------------------------
  const dns =
    config.mode === 'netns' && config.dnsProxy
      ? {
          table: new DnsNameTable(),
          upstreams: dnsUpstreams(config.dnsUpstreams),
          metrics: createIstioDnsMetrics(ztunnel.metrics),
        }
      : undefined;
  if (dns) {
    log(
      dns.upstreams.length > 0
        ? `dns proxy: mesh names from xDS, other names to ${dns.upstreams.join(', ')}`
        : 'dns proxy: no upstream resolver (none given, none in /etc/resolv.conf): names outside the mesh get SERVFAIL',
    );
  }
  const stopDnsSync = dns ? syncDnsTable(store, dns.table) : undefined;
  /** Each served pod's DNS proxy and the namespace path its sockets live in. */
  const dnsProxies = new Map<string, { netns: string; proxy: PodDnsProxy }>();
  const serveDns = async (pod: LocalPod): Promise<void> => {
    if (!dns || !pod.netns || dnsProxies.get(pod.uid)?.netns === pod.netns) return;
    await stopDns(pod.uid);
    const proxy = await startPodDnsProxy({
      netns: pod.netns,
      table: dns.table,
      upstreams: dns.upstreams,
      workload: () => store.workload(pod.uid),
      metrics: dns.metrics,
      mark: ZTUNNEL_MARK,
      log,
      uid: pod.uid,
    });
    dnsProxies.set(pod.uid, { netns: pod.netns, proxy });
  };
  const stopDns = async (uid: string): Promise<void> => {
    const running = dnsProxies.get(uid);
    dnsProxies.delete(uid);
    await running?.proxy.close();
  };

  // --- pods ---------------------------------------------------------------------------------
  const served = new Map<string, LocalPod>();
  const pending = new Map<string, Promise<void>>();
  const serve = (pod: LocalPod): Promise<void> => {
    const previous = pending.get(pod.uid) ?? Promise.resolve();
    const next = previous.then(async () => {
      await ztunnel.addPod(pod);
      await serveDns(pod);
      served.set(pod.uid, pod);
      log(
        `serving pod ${pod.uid} (${pod.ips.join(', ') || 'no IP yet'})${pod.netns ? ` in ${pod.netns}` : ''}`,
      );
    });
    pending.set(
      pod.uid,
      next.catch(() => {}),
    );
    return next;
  };
  const unserve = async (uid: string): Promise<void> => {
    if (!served.delete(uid)) return;
    await stopDns(uid);
    await ztunnel.removePod(uid);
    log(`stopped serving pod ${uid}`);
  };
  const ipsOf = (uid: string): string[] => store.workload(uid)?.addresses.map((a) => formatIp(a)) ?? [];

  let agent: ZtunnelAgentClient | undefined;
  if (config.mode === 'local') {
    // Local mode: the pods of this node are the HBONE workloads the control plane places on it.
    // What was last asked for each pod (its IPs), so repeated updates do not reopen listeners.
    const requested = new Map<string, string>();
    const sync = (): void => {
      const wanted = new Set<string>();
      for (const w of store.dump().workloads) {
        if (w.node !== config.node || w.tunnelProtocol !== 'HBONE' || w.addresses.length === 0) continue;
        wanted.add(w.uid);
        const ips = w.addresses.map((a) => formatIp(a));
        if (requested.get(w.uid) === ips.join()) continue;
        requested.set(w.uid, ips.join());
        serve({ uid: w.uid, ips }).catch((error: Error) =>
          log(`cannot serve pod ${w.uid}: ${error.message}`),
        );
      }
      for (const uid of [...requested.keys()]) {
        if (wanted.has(uid)) continue;
        requested.delete(uid);
        void unserve(uid);
      }
    };
    store.onChange((change) => {
      if (change.kind === 'workload') sync();
    });
  } else {
    if (!config.cniSocket) throw new Error('netns mode needs the node agent socket (--cni-socket)');
    // The node agent hands a pod over at CNI ADD, usually before the control plane knows its IP
    // (the runtime reports it after the CNI chain). Follow the workload's addresses: a pod served
    // without its IPs would dial HBONE from the node's namespace and could not be named as a source.
    const netnsOf = new Map<string, string>();
    const requestedIps = new Map<string, string>();
    const serveNetns = (uid: string, netns: string): Promise<void> => {
      const ips = ipsOf(uid);
      netnsOf.set(uid, netns);
      requestedIps.set(uid, ips.join());
      return serve({ uid, ips, netns });
    };
    store.onChange((change) => {
      if (change.kind !== 'workload') return;
      for (const [uid, netns] of netnsOf) {
        const ips = ipsOf(uid);
        if (ips.length === 0 || requestedIps.get(uid) === ips.join()) continue;
        serveNetns(uid, netns).catch((error: Error) => log(`cannot serve pod ${uid}: ${error.message}`));
      }
    });
    // The node agent may start after ztunnel or restart under it: the client keeps reconnecting
    // while the pods it handed over stay served, and replays are idempotent (see @amesh/cni-redirect).
    agent = new ZtunnelAgentClient({
      socketPath: config.cniSocket,
      handler: {
        serve: (pod) => serveNetns(pod.uid, pod.netnsPath),
        stop: async (uid) => {
          netnsOf.delete(uid);
          requestedIps.delete(uid);
          await unserve(uid);
        },
      },
    });
    agent.on('state', (s) => {
      if (s.state === 'synced') log(`node agent: synced (${agent?.pods().length ?? 0} pods)`);
      else if (s.state === 'backoff')
        log(
          `node agent: not connected${s.error ? ` (${s.error.message})` : ''}, retrying in ${s.delayMs} ms`,
        );
      else if (s.state === 'syncing') log('node agent: connected, receiving snapshot');
    });
    agent.on('pod', (event) => {
      if (event.change === 'unchanged') log(`node agent: pod ${event.uid} already served (unchanged)`);
      else if (event.change === 'stale') log(`node agent: pod ${event.uid} not in the snapshot, dropped`);
      else if (event.change === 'failed')
        log(`node agent: pod ${event.uid} failed: ${event.error?.message ?? 'unknown error'}`);
    });
    agent.start();
  }

  // --- endpoints ----------------------------------------------------------------------------
  const ready = (): boolean => synced.address && xds.connectionState().state !== 'idle';
  const servers: net.Server[] = [];
  servers.push(
    await serveRoutes(config.adminHost, config.adminPort ?? 15000, {
      '/config_dump': () => ({
        body: {
          node: config.node,
          mode: config.mode,
          ...store.dump(),
          pods: ztunnel.pods(),
          certificates: certificates.identities().map((id) => {
            const cert = certificates.get(id);
            return {
              identity: id.uri,
              state: certificates.state(id)?.status ?? 'unknown',
              ...(cert ? { notBefore: cert.notBefore, notAfter: cert.notAfter } : {}),
            };
          }),
          connections: ztunnel.connections().map((c) => ({ ...c, bytes: c.bytes() })),
          xds: { state: xds.connectionState(), metrics: xds.metrics() },
        },
      }),
      '/healthz/ready': () => (ready() ? { body: 'ready\n' } : { status: 503, body: 'not ready\n' }),
    }),
  );
  servers.push(
    await serveRoutes(config.adminHost, config.readyPort ?? 15021, {
      '/healthz/ready': () => (ready() ? { body: 'ready\n' } : { status: 503, body: 'not ready\n' }),
    }),
  );
  const http = createServer(metricsRequestListener(ztunnel.metrics));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.metricsPort ?? 15020, config.adminHost, () => resolve());
  });
  servers.push(http);
  if (config.mode === 'local') {
    const socks = net.createServer({ allowHalfOpen: true });
    const at = config.socks5 ?? { host: config.adminHost, port: 15080 };
    await new Promise<void>((resolve, reject) => {
      socks.once('error', reject);
      socks.listen(at.port, at.host, () => resolve());
    });
    ztunnel.serveSocks5(socks);
  }
  log(
    `ztunnel for ${config.node} started (${config.mode} mode), admin on ${config.adminHost}:${config.adminPort ?? 15000}`,
  );

  return {
    ztunnel,
    store,
    xds,
    certificates,
    ready,
    async close(drainMs = 5_000) {
      for (const s of servers) s.close();
      await agent?.close();
      await ztunnel.close(drainMs);
      stopDnsSync?.();
      await Promise.all([...dnsProxies.keys()].map((uid) => stopDns(uid)));
      agent?.releasePods();
      xds.close();
      caClient.close();
      certificates.close();
    },
  };
}
