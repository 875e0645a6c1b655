import net from 'node:net';

/** A pod this ztunnel serves, as the node agent handed it over. */
export interface LocalPod {
  /** The workload uid (the xDS resource name). */
  readonly uid: string;
  /** The pod's IPs (local mode binds them; netns mode uses them for lookups). */
  readonly ips: readonly string[];
  /** Path of the pod's network namespace (netns mode only), e.g. `/var/run/netns/pod1`. */
  readonly netns?: string;
}

/** What a listener is for, so a network can set socket options per purpose. */
export type ListenerPurpose = 'outbound' | 'inbound-plaintext' | 'hbone' | 'socks5';

/**
 * How ztunnel reaches the network on behalf of a pod: where it listens and
 * how it dials. In netns mode both happen inside the pod's network
 * namespace with ztunnel's socket mark (so the pod's redirect rules skip
 * them); in local mode they bind the pod's loopback IP.
 */
export interface PodNetwork {
  /** A listening server for `pod` on `port`; connections arrive on the returned server. */
  listen(pod: LocalPod, port: number, purpose: ListenerPurpose): Promise<net.Server>;
  /**
   * A socket connecting to `target` on behalf of `pod` (from its namespace,
   * marked), or from the node itself when `pod` is undefined.
   */
  connect(pod: LocalPod | undefined, target: { ip: string; port: number }): net.Socket;
  /** Where a captured connection was going before it was redirected. */
  originalDestination(socket: net.Socket): { ip: string; port: number };
}

/**
 * Local mode: no root, no namespaces. Each pod is an IP on the loopback
 * network (127.0.0.0/8 or ::1) and ztunnel binds its listeners to that IP;
 * outbound connections are bound to the source pod's IP so the peer sees
 * the pod as the source, as it would in netns mode.
 */
export class LoopbackPodNetwork implements PodNetwork {
  async listen(pod: LocalPod, port: number): Promise<net.Server> {
    const host = pod.ips[0];
    if (!host) throw new Error(`pod ${pod.uid} has no IP to listen on`);
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  connect(pod: LocalPod | undefined, target: { ip: string; port: number }): net.Socket {
    const localAddress = pod?.ips.find((ip) => net.isIPv6(ip) === net.isIPv6(target.ip));
    return net.connect({
      host: target.ip,
      port: target.port,
      allowHalfOpen: true,
      ...(localAddress ? { localAddress } : {}),
    });
  }

  originalDestination(socket: net.Socket): { ip: string; port: number } {
    return { ip: socket.localAddress ?? '', port: socket.localPort ?? 0 };
  }
}
