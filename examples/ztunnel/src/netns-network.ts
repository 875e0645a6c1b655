import net from 'node:net';
import { listenServerInNetns, connectSocketInNetns, originalDestination } from '@amesh/cni-redirect/node';
import type { LocalPod, PodNetwork } from '@amesh/l4-proxy/node';

/** ztunnel's socket mark: the pod's redirect rules let marked packets through (Istio's 0x539). */
export const ZTUNNEL_MARK = 0x539;

/**
 * Netns mode: listeners and outbound sockets are created inside each pod's
 * network namespace (by the `@amesh/cni-redirect` addon) and marked, so the
 * pod's nftables rules skip ztunnel's own traffic.
 */
export class NetnsPodNetwork implements PodNetwork {
  async listen(pod: LocalPod, port: number): Promise<net.Server> {
    if (!pod.netns) throw new Error(`pod ${pod.uid} has no network namespace`);
    const server = net.createServer({ allowHalfOpen: true });
    const host = pod.ips.some((ip) => net.isIPv6(ip)) ? '::' : '0.0.0.0';
    await listenServerInNetns(server, pod.netns, { port, host, mark: ZTUNNEL_MARK });
    return server;
  }

  connect(pod: LocalPod | undefined, target: { ip: string; port: number }): net.Socket {
    // `target.ip` comes from parsed addresses (an IPv6 literal always has a colon): no regex per connection.
    const family = target.ip.includes(':') ? 6 : 4;
    const fd = connectSocketInNetns(pod?.netns ?? null, { family, mark: ZTUNNEL_MARK });
    const socket = new net.Socket({ fd, allowHalfOpen: true, readable: true, writable: true });
    socket.connect({ host: target.ip, port: target.port });
    return socket;
  }

  originalDestination(socket: net.Socket): { ip: string; port: number } {
    const original = originalDestination(socket);
    return { ip: original.address, port: original.port };
  }
}
