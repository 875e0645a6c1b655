import net from 'node:net';
import { isAmeshError } from '@amesh/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPodRules } from '../src/index.js';
import {
  applyPodRules,
  createSocketInNetns,
  getMark,
  inspectPodRules,
  listenServerInNetns,
  originalDestination,
  type OriginalDestination,
  removePodRules,
} from '../src/node/index.js';
import { CniTopology, type TestPod } from './helpers/cni-topology.js';
import { sh } from './helpers/netns.js';
import { cniSkipReason } from './helpers/privileges.js';

/** A ztunnel-like listener in a netns that records each connection's original destination. */
async function recordingListener(netnsPath: string, port: number, mark?: number) {
  const seen: OriginalDestination[] = [];
  const waiters: ((d: OriginalDestination) => void)[] = [];
  const server = net.createServer((socket) => {
    const destination = originalDestination(socket);
    seen.push(destination);
    socket.end(`${port}`);
    waiters.shift()?.(destination);
  });
  await listenServerInNetns(server, netnsPath, { port, ...(mark === undefined ? {} : { mark }) });
  return {
    server,
    seen,
    next: () => new Promise<OriginalDestination>((resolve) => waiters.push(resolve)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Connects from inside a netns and resolves with what the server answered (its port). */
function connectFrom(
  netnsPath: string,
  host: string,
  port: number,
  options: { mark?: number } = {},
): Promise<string> {
  const family = net.isIP(host) === 6 ? 6 : 4;
  const socket = createSocketInNetns(netnsPath, { family, ...options });
  return new Promise((resolve, reject) => {
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      answer += d;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.connect({ host, port });
  });
}

describe.skipIf(cniSkipReason !== undefined)(
  `redirection inside a pod netns wired by bridge/host-local ${cniSkipReason ? `(skipped: ${cniSkipReason})` : ''}`,
  () => {
    let topology: CniTopology;
    let pod: TestPod;
    const closers: (() => Promise<void>)[] = [];
    const listeners = new Map<number, Awaited<ReturnType<typeof recordingListener>>>();

    beforeAll(async () => {
      topology = new CniTopology();
      pod = await topology.addPod('a');
      await applyPodRules(pod.netnsPath);
      // ztunnel's in-pod listeners, marked like ztunnel's own sockets.
      for (const port of [15001, 15006, 15008]) {
        const listener = await recordingListener(pod.netnsPath, port, 0x539);
        listeners.set(port, listener);
        closers.push(listener.close);
      }
    });

    afterAll(async () => {
      for (const close of closers.splice(0)) await close().catch(() => {});
      await topology?.cleanup();
    });

    it('installs the rendered table (nft accepts it) and reports it present', async () => {
      expect(await inspectPodRules(pod.netnsPath)).toBe('present');
      const listed = sh('nsenter', [`--net=${pod.netnsPath}`, 'nft', 'list', 'table', 'inet', 'amesh']);
      expect(listed).toContain('redirect to :15001');
      expect(listed).toContain('meta mark & 0x00000fff == 0x00000539 return');
    });

    it('applying again is idempotent (one table, same rules)', async () => {
      await applyPodRules(pod.netnsPath);
      const tables = sh('nsenter', [`--net=${pod.netnsPath}`, 'nft', 'list', 'tables']);
      expect(tables.trim().split('\n')).toEqual(['table inet amesh']);
    });

    it('redirects an outbound IPv4 connection to any address to 15001 with the right original destination', async () => {
      const answer = await connectFrom(pod.netnsPath, '192.0.2.10', 8080);
      expect(answer).toBe('15001');
      const answer2 = await connectFrom(pod.netnsPath, topology.gateway4, 443);
      expect(answer2).toBe('15001');
    });

    it('reads SO_ORIGINAL_DST for IPv4 and IP6T_SO_ORIGINAL_DST for IPv6', async () => {
      const outbound = listeners.get(15001)!;
      const v4 = outbound.next();
      await connectFrom(pod.netnsPath, '198.51.100.7', 9000);
      expect(await v4).toEqual({ address: '198.51.100.7', port: 9000, family: 4, redirected: true });
      const v6 = outbound.next();
      await connectFrom(pod.netnsPath, '2001:db8::7', 9001);
      expect(await v6).toEqual({ address: '2001:db8::7', port: 9001, family: 6, redirected: true });
    });

    it('reads the original destination of inbound connections (the pod address and app port)', async () => {
      const inbound = listeners.get(15006)!;
      const v4 = inbound.next();
      await connectFrom(topology.nodeNetnsPath, pod.ipv4, 8443);
      expect(await v4).toEqual({ address: pod.ipv4, port: 8443, family: 4, redirected: true });
      const hbone = listeners.get(15008)!;
      const direct = hbone.next();
      await connectFrom(topology.nodeNetnsPath, pod.ipv6, 15008);
      expect(await direct).toEqual({ address: pod.ipv6, port: 15008, family: 6, redirected: false });
    });

    it('redirects inbound TCP to the pod (any port but 15008) to 15006', async () => {
      expect(await connectFrom(topology.nodeNetnsPath, pod.ipv4, 8080)).toBe('15006');
      expect(await connectFrom(topology.nodeNetnsPath, pod.ipv6, 9090)).toBe('15006');
    });

    it('lets inbound HBONE (15008) through untouched', async () => {
      expect(await connectFrom(topology.nodeNetnsPath, pod.ipv4, 15008)).toBe('15008');
      expect(await connectFrom(topology.nodeNetnsPath, pod.ipv6, 15008)).toBe('15008');
    });

    it('never redirects connections marked 0x539 (ztunnel’s own sockets)', async () => {
      const upstream = await recordingListener(topology.nodeNetnsPath, 18080);
      closers.push(upstream.close);
      const socketMark = createSocketInNetns(pod.netnsPath, { family: 4, mark: 0x539 });
      expect(getMark(socketMark)).toBe(0x539);
      socketMark.destroy();
      // Marked: reaches the real server in the node netns.
      expect(await connectFrom(pod.netnsPath, topology.gateway4, 18080, { mark: 0x539 })).toBe('18080');
      // Only the low 12 bits count (mask 0xfff).
      expect(await connectFrom(pod.netnsPath, topology.gateway4, 18080, { mark: 0x7539 })).toBe('18080');
      // Unmarked: captured.
      expect(await connectFrom(pod.netnsPath, topology.gateway4, 18080)).toBe('15001');
      const seen = upstream.seen.at(-1)!;
      expect(seen.redirected).toBe(false);
      expect(seen.port).toBe(18080);
    });

    it('lets the kubelet probe source (169.254.7.127) reach the app port untouched', async () => {
      const app = await recordingListener(pod.netnsPath, 8081);
      closers.push(app.close);
      const bridgeDev = topology.bridge;
      sh('ip', ['-n', topology.nodeName, 'addr', 'add', '169.254.7.127/32', 'dev', bridgeDev]);
      sh('ip', ['-n', pod.netnsName, 'route', 'add', '169.254.7.127/32', 'dev', 'eth0']);
      try {
        const socket = createSocketInNetns(topology.nodeNetnsPath, { family: 4 });
        const answer = await new Promise<string>((resolve, reject) => {
          let text = '';
          socket.setEncoding('utf8');
          socket.on('data', (d: string) => {
            text += d;
          });
          socket.on('end', () => resolve(text));
          socket.on('error', reject);
          socket.connect({ host: pod.ipv4, port: 8081, localAddress: '169.254.7.127' });
        });
        expect(answer).toBe('8081');
        // Any other source to the same port is captured.
        expect(await connectFrom(topology.nodeNetnsPath, pod.ipv4, 8081)).toBe('15006');
      } finally {
        sh('ip', ['-n', topology.nodeName, 'addr', 'del', '169.254.7.127/32', 'dev', bridgeDev]);
      }
    });

    it('does not redirect connections to the pod itself or to loopback', async () => {
      const app = await recordingListener(pod.netnsPath, 8082);
      closers.push(app.close);
      expect(await connectFrom(pod.netnsPath, pod.ipv4, 8082)).toBe('8082');
      expect(await connectFrom(pod.netnsPath, '127.0.0.1', 8082)).toBe('8082');
      expect(await connectFrom(pod.netnsPath, '::1', 8082)).toBe('8082');
    });

    it('removing the rules stops the redirection, and removing twice is fine', async () => {
      expect(await removePodRules(pod.netnsPath)).toBe('removed');
      expect(await removePodRules(pod.netnsPath)).toBe('removed');
      expect(await inspectPodRules(pod.netnsPath)).toBe('absent');
      const upstream = await recordingListener(topology.nodeNetnsPath, 18081);
      closers.push(upstream.close);
      expect(await connectFrom(pod.netnsPath, topology.gateway4, 18081)).toBe('18081');
      await applyPodRules(pod.netnsPath);
      expect(await connectFrom(pod.netnsPath, topology.gateway4, 18081)).toBe('15001');
    });

    it('fails with CNI_ERR_NETNS_NOT_FOUND for a missing namespace', async () => {
      const error = await applyPodRules('/var/run/netns/amesh-does-not-exist').catch((e: unknown) => e);
      expect(isAmeshError(error, 'CNI_ERR_NETNS_NOT_FOUND')).toBe(true);
      expect(await removePodRules('/var/run/netns/amesh-does-not-exist')).toBe('netns-gone');
      let thrown: unknown;
      try {
        createSocketInNetns('/var/run/netns/amesh-does-not-exist', { family: 4 });
      } catch (e) {
        thrown = e;
      }
      expect(isAmeshError(thrown, 'CNI_ERR_NETNS_NOT_FOUND')).toBe(true);
    });

    it('fails with CNI_ERR_NFT_UNAVAILABLE when nft is missing', async () => {
      const error = await applyPodRules(pod.netnsPath, { nftPath: '/nonexistent/nft' }).catch(
        (e: unknown) => e,
      );
      expect(isAmeshError(error, 'CNI_ERR_NFT_UNAVAILABLE')).toBe(true);
      const error2 = await applyPodRules(pod.netnsPath, { nsenterPath: '/nonexistent/nsenter' }).catch(
        (e: unknown) => e,
      );
      expect(isAmeshError(error2, 'CNI_ERR_NFT_UNAVAILABLE')).toBe(true);
    });

    it('fails with CNI_ERR_NFT_FAILED when nft rejects the ruleset', async () => {
      // The renderer validates every option, so a ruleset real nft rejects cannot be
      // produced; an "nft" that exits 1 stands in for the rejection.
      const error = await applyPodRules(pod.netnsPath, { nftPath: '/bin/false' }).catch((e: unknown) => e);
      expect(isAmeshError(error, 'CNI_ERR_NFT_FAILED')).toBe(true);
      expect(renderPodRules()).toContain('table inet amesh {');
    });
  },
);
