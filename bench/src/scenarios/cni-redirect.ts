import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import {
  applyPodRules,
  createSocketInNetns,
  listenServerInNetns,
  originalDestination,
} from '@amesh/cni-redirect/node';
import type { Contender, ContenderInstance, Sample, Scenario } from '../runner.js';

const CONNECTIONS = Number(process.env.AMESH_BENCH_CONNECTIONS ?? 2000);
const CONCURRENCY = 16;
const ANSWER = 'x'.repeat(64);

/** A node netns and a pod netns joined by a veth pair; the pod routes everything to the node. */
function topology(tag: string, octet: number): { node: string; pod: string; gateway: string; close(): void } {
  const id = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}${tag}`;
  const node = `ambn${id}`;
  const pod = `ambp${id}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'ignore' });
  ip('netns', 'add', node);
  ip('netns', 'add', pod);
  const close = () => {
    spawnSync('ip', ['netns', 'delete', pod], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'delete', node], { stdio: 'ignore' });
  };
  try {
    ip('-n', node, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod);
    ip('-n', node, 'addr', 'add', `10.250.${octet}.1/30`, 'dev', 'veth0');
    ip('-n', pod, 'addr', 'add', `10.250.${octet}.2/30`, 'dev', 'eth0');
    for (const [ns, dev] of [
      [node, 'veth0'],
      [node, 'lo'],
      [pod, 'eth0'],
      [pod, 'lo'],
    ] as const) {
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    ip('-n', pod, 'route', 'add', 'default', 'via', `10.250.${octet}.1`);
  } catch (error) {
    close();
    throw error;
  }
  return {
    node: `/var/run/netns/${node}`,
    pod: `/var/run/netns/${pod}`,
    gateway: `10.250.${octet}.1`,
    close,
  };
}

function answerServer(onConnection?: (socket: net.Socket) => void): net.Server {
  return net.createServer((socket) => {
    onConnection?.(socket);
    socket.end(ANSWER);
  });
}

/** Opens CONNECTIONS connections from the pod (CONCURRENCY at a time), each reading the answer. */
async function storm(podNetns: string, host: string, port: number): Promise<Sample> {
  let bytes = 0;
  let next = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const socket = createSocketInNetns(podNetns, { family: 4 });
      socket.on('data', (d: Buffer) => {
        bytes += d.length;
      });
      socket.on('end', () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
      socket.connect({ host, port });
    });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CONNECTIONS) {
        next += 1;
        await one();
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return {
    values: {
      rate: CONNECTIONS / seconds,
      cpu: ((used.user + used.system) / 1e3 / CONNECTIONS) * 1000,
    },
    fingerprint: `${CONNECTIONS} connections, ${bytes} bytes`,
  };
}

const closeServer = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/**
 * What in-pod redirection costs per new connection: a pod opening TCP
 * connections to a server on the node, (1) directly without rules, (2)
 * redirected by amesh's nftables rules to an in-pod listener on 15001 that
 * reads SO_ORIGINAL_DST and answers (capture cost alone), and (3) the same
 * listener forwarding to the original destination over a marked socket (a
 * minimal transparent L4 proxy: the shape of ztunnel's outbound path without
 * HBONE). Needs root (network namespaces, nftables).
 */
export default function cniRedirect(): Scenario {
  if (process.getuid?.() !== 0) throw new Error('cni-redirect needs root (network namespaces, nftables)');

  const direct: Contender = {
    name: 'direct',
    async start(): Promise<ContenderInstance> {
      const t = topology('d', 1);
      const server = answerServer();
      await listenServerInNetns(server, t.node, { port: 8080, host: t.gateway });
      return {
        round: () => storm(t.pod, t.gateway, 8080),
        close: async () => {
          await closeServer(server);
          t.close();
        },
      };
    },
  };

  const captured: Contender = {
    name: 'redirected (answer in pod)',
    async start(): Promise<ContenderInstance> {
      const t = topology('c', 2);
      await applyPodRules(t.pod);
      let wrong = 0;
      const capture = answerServer((socket) => {
        const destination = originalDestination(socket);
        if (destination.address !== t.gateway || destination.port !== 8080) wrong += 1;
      });
      await listenServerInNetns(capture, t.pod, { port: 15001, mark: 0x539 });
      return {
        round: async () => {
          const sample = await storm(t.pod, t.gateway, 8080);
          if (wrong > 0) throw new Error(`${wrong} connections had a wrong original destination`);
          return sample;
        },
        close: async () => {
          await closeServer(capture);
          t.close();
        },
      };
    },
  };

  const proxied: Contender = {
    name: 'redirected + forwarded',
    async start(): Promise<ContenderInstance> {
      const t = topology('p', 3);
      await applyPodRules(t.pod);
      const server = answerServer();
      await listenServerInNetns(server, t.node, { port: 8080, host: t.gateway });
      const proxy = net.createServer((inbound) => {
        const { address, port } = originalDestination(inbound);
        const upstream = createSocketInNetns(t.pod, { family: 4, mark: 0x539 });
        upstream.connect({ host: address, port });
        inbound.pipe(upstream);
        upstream.pipe(inbound);
        inbound.on('error', () => upstream.destroy());
        upstream.on('error', () => inbound.destroy());
      });
      await listenServerInNetns(proxy, t.pod, { port: 15001, mark: 0x539 });
      return {
        round: () => storm(t.pod, t.gateway, 8080),
        close: async () => {
          await Promise.all([closeServer(proxy), closeServer(server)]);
          t.close();
        },
      };
    },
  };

  return {
    name: 'cni-redirect',
    description: `${CONNECTIONS} new TCP connections from a pod netns (${CONCURRENCY} at a time), 64-byte answer: direct vs nftables redirect to an in-pod listener`,
    metrics: [
      { name: 'rate', unit: 'conn/s', better: 'higher' },
      { name: 'cpu', unit: 'CPU ms/1000 conn', better: 'lower' },
    ],
    contenders: [direct, captured, proxied],
    defaultRounds: 5,
  };
}
