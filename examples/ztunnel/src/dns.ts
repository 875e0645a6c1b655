import { closeSync, readFileSync } from 'node:fs';
import { bindUdpInNetns, listenInNetns } from '@amesh/cni-redirect/node';
import { type DnsNameEntry, DnsNameTable, readResolvConf } from '@amesh/dns-proxy';
import { DnsProxy } from '@amesh/dns-proxy/node';
import { formatIp, type WorkloadStore } from '@amesh/workload-state';
import type { Service } from '@amesh/xds-types';

/** ztunnel's DNS proxy port inside each pod (the pod's rules redirect DNS there when capture is on). */
export const DNS_PROXY_PORT = 15053;

/**
 * The DNS names of the mesh, kept equal to the store: every service's
 * hostname with its VIPs, or, for a headless service (no VIP), its
 * endpoints' IPs. Returns the stop function.
 */
export function syncDnsTable(store: WorkloadStore, table: DnsNameTable): () => void {
  /** Hostname of each service key (`ns/hostname`) in the table, and which of them are headless. */
  const headless = new Map<string, Service>();
  const entryOf = (service: Service): DnsNameEntry => ({
    hostname: service.hostname,
    namespace: service.namespace,
    addresses:
      service.addresses.length > 0
        ? service.addresses.map((a) => formatIp(a.address))
        : store.endpointsOf(service).flatMap((w) => w.addresses.map((ip) => formatIp(ip))),
  });
  const put = (key: string, service: Service): void => {
    if (service.addresses.length === 0) headless.set(key, service);
    else headless.delete(key);
    table.upsert(entryOf(service));
  };
  for (const service of store.dump().services) put(`${service.namespace}/${service.hostname}`, service);
  return store.onChange((change) => {
    if (change.kind === 'service') {
      const previous = headless.get(change.name);
      if (change.service) put(change.name, change.service);
      else {
        headless.delete(change.name);
        const hostname = previous?.hostname ?? change.name.slice(change.name.indexOf('/') + 1);
        table.remove(hostname);
      }
    } else if (change.kind === 'workload' && headless.size > 0) {
      // A headless service answers with its endpoints' IPs: refresh them when a workload changes.
      for (const service of headless.values()) table.upsert(entryOf(service));
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

/**
 * Starts the DNS proxy of one pod on {@link DNS_PROXY_PORT}, UDP and TCP, on
 * sockets made inside the pod's network namespace and marked (so the pod's
 * rules let them pass): one on 127.0.0.1 and, where the pod has IPv6, one on
 * ::1, the addresses the pod's redirect rules send DNS to. Each binds its
 * loopback address rather than a wildcard so that UDP replies leave from the
 * address the query was redirected to, which is what lets conntrack turn
 * them back into replies from the server the pod asked.
 */
export async function startPodDnsProxy(options: {
  readonly netns: string;
  readonly table: DnsNameTable;
  readonly upstreams: readonly string[];
  readonly namespace: () => string | undefined;
  readonly mark: number;
  readonly log: (line: string) => void;
  readonly uid: string;
}): Promise<{ close(): Promise<void> }> {
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

async function listenOn(
  host: '127.0.0.1' | '::1',
  options: Parameters<typeof startPodDnsProxy>[0],
): Promise<DnsProxy> {
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
    clientNamespace: () => options.namespace(),
    log: (event) => options.log(`dns ${options.uid}: ${event.event}: ${event.message}`),
  });
  await proxy.listen({ udpFd, udpFdType: host === '::1' ? 'udp6' : 'udp4', tcpFd });
  return proxy;
}

export { DnsNameTable };
