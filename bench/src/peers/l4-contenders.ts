import net from 'node:net';
import { connectViaSocks5 } from '@amesh/l4-proxy/node';
import { selfSignedCertificate } from '../loopback.js';
import type { Contender, Sample } from '../runner.js';
import { startHaproxyChain } from './haproxy-chain.js';
import { rssKiB } from './processes.js';
import { MESH, MESH_BASELINE, type MeshAddresses, startZtunnelPair } from './ztunnel-pair.js';
import { BASELINE_DIR } from './baseline.js';

/** Opens one client connection to the server pod through a contender's path. */
export type Connect = () => Promise<net.Socket>;

/** The proxy process(es) of a contender, for CPU and memory readings. */
export interface ProxyProcess {
  readonly pid: number | undefined;
  /** Memory in KiB: live memory after a GC for a Node process, RSS for a native one; 0 for the direct path. */
  memoryKiB(): Promise<number>;
}

/** A server on the server pod's IP. */
export interface PodServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The three L4 contenders on the same topology (client pod 127.0.77.10 →
 * server pod 127.0.77.20): `direct` (the ceiling), `haproxy-chain` (HAProxy
 * TLS-to-TLS, one process, one thread) and `amesh-ztunnels` (SOCKS5 into
 * node1's ztunnel → HBONE → node2's ztunnel, one child process). `round`
 * gets a way to connect and the pid whose CPU counts as proxy CPU.
 */
export function l4Contenders(
  server: (host: string) => Promise<PodServer>,
  round: (connect: Connect, proxyPid: number | undefined, proxy: ProxyProcess) => Promise<Sample>,
): Contender[] {
  const { key, cert } = selfSignedCertificate();
  const amesh = (name: string, mesh: MeshAddresses, baseline: string | undefined): Contender => ({
    name,
    async start() {
      const s = await server(mesh.server);
      const pair = await startZtunnelPair(baseline ? { baseline, mesh } : { mesh });
      const connect: Connect = () =>
        connectViaSocks5(
          { host: mesh.server, port: s.port },
          { proxyHost: mesh.socks, proxyPort: pair.socksPort, localAddress: mesh.client },
        );
      return {
        round: () => round(connect, pair.pid, pair),
        close: async () => {
          await pair.close();
          await s.close();
        },
      };
    },
  });
  return [
    {
      name: 'direct',
      async start() {
        const s = await server(MESH.server);
        const connect: Connect = async () =>
          net.connect({ host: MESH.server, port: s.port, localAddress: MESH.client, allowHalfOpen: true });
        const none: ProxyProcess = { pid: undefined, memoryKiB: async () => 0 };
        return { round: () => round(connect, undefined, none), close: s.close };
      },
    },
    {
      name: 'haproxy-chain',
      async start() {
        const s = await server(MESH.server);
        const chain = await startHaproxyChain({ cert, key, sinkHost: MESH.server, sinkPort: s.port });
        const connect: Connect = async () =>
          net.connect({ host: '127.0.0.1', port: chain.entryPort, allowHalfOpen: true });
        return {
          round: () =>
            round(connect, chain.pid, { pid: chain.pid, memoryKiB: async () => rssKiB(chain.pid) }),
          close: async () => {
            await chain.close();
            await s.close();
          },
        };
      },
    },
    // With AMESH_BENCH_BASELINE, an earlier build of the engine runs side by side.
    ...(BASELINE_DIR ? [amesh('amesh-baseline', MESH_BASELINE, BASELINE_DIR)] : []),
    amesh('amesh-ztunnels', MESH, undefined),
  ];
}
