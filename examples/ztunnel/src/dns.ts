import { closeSync, readFileSync } from 'node:fs';
import { bindUdpInNetns, listenInNetns } from '@amesh/cni-redirect/node';
import { type DnsNameEntry, type DnsNameTable, DnsType, readResolvConf } from '@amesh/dns-proxy';
import { DnsProxy, type DnsQueryEvent } from '@amesh/dns-proxy/node';
import { type IstioDnsMetrics, UNKNOWN } from '@amesh/telemetry';
import { formatIp, type WorkloadStore } from '@amesh/workload-state';
import type { Service, Workload } from '@amesh/xds-types';

/** ztunnel's DNS proxy port inside each pod (the pod's rules redirect DNS there when capture is on). */
export const DNS_PROXY_PORT = 15053;

/**
 * The DNS names of the mesh, kept equal to the store: every service's
 * hostname with its VIPs, or, for a headless service (no VIP), its
 * endpoints' IPs. Returns the stop function.
 */
export function syncDnsTable(store: WorkloadStore, table: DnsNameTable): () => void {
  /** The services in the table by xDS resource name (a removal names only the resource). */
  const services = new Map<string, Service>();
  /** Resource names of the headless ones, whose addresses follow their endpoints. */
  const headless = new Set<string>();
  const entryOf = (service: Service): DnsNameEntry => ({
    hostname: service.hostname,
    namespace: service.namespace,
    addresses:
      service.addresses.length > 0
        ? service.addresses.map((a) => formatIp(a.address))
        : store.endpointsOf(service).flatMap((w) => w.addresses.map((ip) => formatIp(ip))),
  });
  const remove = (name: string): void => {
    const old = services.get(name);
    if (old === undefined) return;
    services.delete(name);
    headless.delete(name);
    table.remove(old.hostname);
  };
  const put = (name: string, service: Service): void => {
    if (services.get(name)?.hostname !== service.hostname) remove(name);
    services.set(name, service);
    if (service.addresses.length === 0) headless.add(name);
    else headless.delete(name);
    table.upsert(entryOf(service));
  };
  for (const [name, service] of store.services()) put(name, service);
  return store.onChange((change) => {
    if (change.kind === 'service') {
      if (change.service) put(change.name, change.service);
      else remove(change.name);
    } else if (change.kind === 'workload') {
      // A headless service answers with its endpoints' IPs: refresh them when a workload changes.
      for (const name of headless) table.upsert(entryOf(services.get(name)!));
    }
  });
}

/** The upstream resolvers for names outside the mesh: given, or the nameservers of `/etc/resolv.conf`. */
export function dnsUpstreams(configured: readonly string[] | undefined): string[] {
  if (configured && configured.length > 0) return [...configured];
  try {
    return [...readResolvConf(readFileSync('/etc/resolv.conf', 'utf8')).upstreams];
  } catch {
    return [];
  }
}

/** What {@link startPodDnsProxy} needs for one pod. */
export interface PodDnsProxyOptions {
  readonly uid: string;
  /** The pod's network namespace (a path, or `/proc/self/fd/<n>` of the fd the node agent passed). */
  readonly netns: string;
  readonly table: DnsNameTable;
  readonly upstreams: readonly string[];
  /** The pod's workload as xDS has it now (its namespace for bare names, its canonical labels for metrics). */
  readonly workload: () => Workload | undefined;
  readonly metrics: IstioDnsMetrics;
  /** SO_MARK of ztunnel's sockets, which the pod's rules let pass. */
  readonly mark: number;
  readonly log: (line: string) => void;
}

/** A pod's running DNS proxy (one per loopback family). */
export interface PodDnsProxy {
  close(): Promise<void>;
}

/**
 * Starts the DNS proxy of one pod on {@link DNS_PROXY_PORT}, UDP and TCP, on
 * sockets made inside the pod's network namespace and marked (so the pod's
 * rules let them pass): one on 127.0.0.1 and, where the pod has IPv6, one on
 * ::1, the addresses the pod's redirect rules send DNS to. Each binds its
 * loopback address rather than a wildcard so that UDP replies leave from the
 * address the query was redirected to, which is what lets conntrack turn
 * them back into replies from the server the pod asked.
 */
export async function startPodDnsProxy(options: PodDnsProxyOptions): Promise<PodDnsProxy> {
  const proxies: DnsProxy[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  };
  try {
    proxies.push(await listenOn('127.0.0.1', options));
  } catch (error) {
    await close();
    throw error;
  }
  try {
    proxies.push(await listenOn('::1', options));
  } catch (error) {
    // A pod without IPv6 (no ::1): IPv4 DNS only.
    options.log(`dns ${options.uid}: no IPv6 DNS proxy (${(error as Error).message})`);
  }
  return { close };
}

async function listenOn(host: '127.0.0.1' | '::1', options: PodDnsProxyOptions): Promise<DnsProxy> {
  const socket = { port: DNS_PROXY_PORT, host, mark: options.mark } as const;
  const udpFd = bindUdpInNetns(options.netns, socket);
  let tcpFd: number;
  try {
    tcpFd = listenInNetns(options.netns, socket);
  } catch (error) {
    closeSync(udpFd);
    throw error;
  }
  const proxy = new DnsProxy({
    table: options.table,
    upstreams: options.upstreams,
    clientNamespace: () => options.workload()?.namespace,
    log: (event) => options.log(`dns ${options.uid}: ${event.event}: ${event.message}`),
    onQuery: (event) => recordDnsQuery(options.metrics, event, options.workload()),
  });
  await proxy.listen({ udpFd, udpFdType: host === '::1' ? 'udp6' : 'udp4', tcpFd });
  return proxy;
}

/** Lower-case names of the query types, as ztunnel labels them (`a`, `aaaa`, ...). */
const QUERY_TYPE_NAMES = new Map<number, string>(
  Object.entries(DnsType).map(([name, value]) => [value, name.toLowerCase()]),
);

/** Records one query in Istio's DNS families, labelled as ztunnel labels them. */
function recordDnsQuery(metrics: IstioDnsMetrics, event: DnsQueryEvent, source: Workload | undefined): void {
  const labels = {
    request_query_type: QUERY_TYPE_NAMES.get(event.type) ?? `type${event.type}`,
    request_protocol: event.remote.transport,
    source_canonical_service: source?.canonicalName || UNKNOWN,
    source_canonical_revision: source?.canonicalRevision || UNKNOWN,
  };
  metrics.requests.inc(labels);
  if (event.upstreamMs !== undefined) {
    metrics.upstreamRequests.inc(labels);
    metrics.upstreamDuration.observe(labels, event.upstreamMs / 1000);
  }
  if (event.outcome === 'failed') metrics.upstreamFailures.inc(labels);
}
