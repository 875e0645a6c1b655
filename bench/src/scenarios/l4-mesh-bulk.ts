import net from 'node:net';
import { connectViaSocks5 } from '@amesh/l4-proxy/node';
import { handleSink, payloadChunk, selfSignedCertificate, sendAll } from '../loopback.js';
import { startHaproxyChain } from '../peers/haproxy-chain.js';
import { cpuSeconds } from '../peers/processes.js';
import { MESH, startZtunnelPair } from '../peers/ztunnel-pair.js';
import type { Contender, Sample, Scenario } from '../runner.js';

const TOTAL = Number(process.env.AMESH_BENCH_BYTES ?? 256 * 1024 * 1024);

/**
 * L4-bulk through two real ztunnels: one long TCP stream from a client pod
 * to a server pod — direct (the ceiling), through an HAProxy TLS-to-TLS
 * chain, and through amesh (SOCKS5 into node1's ztunnel → HBONE mTLS →
 * node2's ztunnel → pod). Proxies run in their own single-threaded process;
 * their CPU is read from /proc.
 */
export default function l4MeshBulk(): Scenario {
  const { key, cert } = selfSignedCertificate();
  const chunk = payloadChunk();
  const sinkServer = async () => {
    const server = net.createServer({ allowHalfOpen: true }, handleSink);
    await new Promise<void>((resolve) => server.listen(0, MESH.server, resolve));
    return {
      port: (server.address() as net.AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  };
  const measured = async (connect: () => Promise<net.Socket>, pid: number | undefined): Promise<Sample> => {
    const cpu = cpuSeconds(pid);
    const start = process.hrtime.bigint();
    const answer = await sendAll(await connect(), chunk, TOTAL);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return {
      values: {
        throughput: (TOTAL * 8) / seconds / 1e9,
        'proxy-cpu': (cpuSeconds(pid) - cpu) / (TOTAL / 2 ** 30),
      },
      fingerprint: answer,
    };
  };
  const direct: Contender = {
    name: 'direct',
    async start() {
      const sink = await sinkServer();
      return {
        round: () =>
          measured(
            async () =>
              net.connect({
                host: MESH.server,
                port: sink.port,
                localAddress: MESH.client,
                allowHalfOpen: true,
              }),
            undefined,
          ),
        close: sink.close,
      };
    },
  };
  const haproxy: Contender = {
    name: 'haproxy-chain',
    async start() {
      const sink = await sinkServer();
      const chain = await startHaproxyChain({ cert, key, sinkHost: MESH.server, sinkPort: sink.port });
      return {
        round: () =>
          measured(
            async () => net.connect({ host: '127.0.0.1', port: chain.entryPort, allowHalfOpen: true }),
            chain.pid,
          ),
        close: async () => {
          await chain.close();
          await sink.close();
        },
      };
    },
  };
  const amesh: Contender = {
    name: 'amesh-ztunnels',
    async start() {
      const sink = await sinkServer();
      const pair = await startZtunnelPair();
      return {
        round: () =>
          measured(
            () =>
              connectViaSocks5(
                { host: MESH.server, port: sink.port },
                { proxyHost: MESH.socks, proxyPort: pair.socksPort, localAddress: MESH.client },
              ),
            pair.pid,
          ),
        close: async () => {
          await pair.close();
          await sink.close();
        },
      };
    },
  };
  return {
    name: 'l4-mesh-bulk',
    description: `L4-bulk: one ${TOTAL / 2 ** 20} MiB stream pod → pod, direct / HAProxy TLS chain / two amesh ztunnels (HBONE)`,
    metrics: [
      { name: 'throughput', unit: 'Gbit/s', better: 'higher' },
      { name: 'proxy-cpu', unit: 'proxy CPU s/GiB', better: 'lower' },
    ],
    contenders: [direct, haproxy, amesh],
    defaultRounds: 5,
  };
}
