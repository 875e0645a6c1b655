import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyPodRules,
  createSocketInNetns,
  inspectPodRules,
  isAddonAvailable,
  listenServerInNetns,
} from '@amesh/cni-redirect/node';
import { selfSignedCertificate } from '../loopback.js';
import { HAPROXY, haproxyChainConfig } from '../peers/haproxy-chain.js';
import { cpuSeconds, stop } from '../peers/processes.js';
import { SIZE } from '../peers/responder.js';
import { BASELINE_DIR } from '../peers/baseline.js';
import { startRedirectZtunnelPair } from '../peers/ztunnel-pair-redirect.js';
import type { Contender, ContenderInstance, Sample, Scenario } from '../runner.js';

const CONNECTIONS = Number(process.env.AMESH_BENCH_CONNECTIONS ?? 2000);
const CONCURRENCY = Number(process.env.AMESH_BENCH_CONCURRENCY ?? 16);
const APP_PORT = 8080;
/** Names of the namespaces this scenario creates start with this, then the pid in base 36 and `x`. */
const PREFIX = 'amcn';

/** Two pod namespaces (client, server) joined by a veth pair, on one /24. */
interface Pods {
  readonly client: { readonly name: string; readonly netns: string; readonly ip: string };
  readonly server: { readonly name: string; readonly netns: string; readonly ip: string };
  close(): void;
}

const created = new Set<string>();

function deleteNetns(name: string): void {
  // Processes still inside (none normally) would keep it alive; deleting the name is what counts.
  spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  created.delete(name);
}

/** Removes the namespaces of earlier runs whose process is gone (a crashed run cannot clean up). */
function removeLeftovers(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const name of list.split('\n').map((l) => l.split(' ')[0] ?? '')) {
    const match = new RegExp(`^${PREFIX}([0-9a-z]+)x`).exec(name);
    if (!match) continue;
    const pid = Number.parseInt(match[1]!, 36);
    if (pid === process.pid || existsSync(`/proc/${pid}`)) continue;
    deleteNetns(name);
  }
}

let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  // The runner closes contenders in `finally`; this covers a crash or Ctrl-C in between.
  process.on('exit', () => {
    for (const name of [...created]) deleteNetns(name);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
}

function pods(tag: string, subnet: number): Pods {
  const id = `${PREFIX}${process.pid.toString(36)}x${randomBytes(2).toString('hex')}${tag}`;
  const client = { name: `${id}c`, netns: `/var/run/netns/${id}c`, ip: `10.252.${subnet}.10` };
  const server = { name: `${id}s`, netns: `/var/run/netns/${id}s`, ip: `10.252.${subnet}.20` };
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'ignore' });
  const close = () => {
    deleteNetns(client.name);
    deleteNetns(server.name);
  };
  try {
    for (const pod of [client, server]) {
      ip('netns', 'add', pod.name);
      created.add(pod.name);
      ip('-n', pod.name, 'link', 'set', 'lo', 'up');
    }
    ip(
      '-n',
      client.name,
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      'peer0',
      'netns',
      server.name,
    );
    ip('-n', server.name, 'link', 'set', 'peer0', 'name', 'eth0');
    for (const pod of [client, server]) {
      ip('-n', pod.name, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0');
      ip('-n', pod.name, 'link', 'set', 'eth0', 'up');
    }
  } catch (error) {
    close();
    throw error;
  }
  return { client, server, close };
}

/** The app in the server pod: answers 1 KiB with 1 KiB, then closes first (it keeps the TIME_WAIT). */
async function serverApp(p: Pods): Promise<net.Server> {
  const reply = Buffer.alloc(SIZE, 0x62);
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.setNoDelay(true);
    let pending = 0;
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.length;
      if (pending >= SIZE) {
        pending = 0;
        socket.end(reply);
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  await listenServerInNetns(server, p.server.netns, { port: APP_PORT, host: p.server.ip });
  return server;
}

const closeServer = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** One short connection as the client pod's app opens it: connect, 1 KiB each way, the server closes. */
function exchange(clientNetns: string, host: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const socket = createSocketInNetns(clientNetns, { family: 4 });
    socket.setNoDelay(true);
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.on('end', () => socket.end());
    socket.on('close', () =>
      received >= SIZE ? resolve(received) : reject(new Error(`short answer: ${received} B`)),
    );
    socket.on('error', reject);
    socket.connect({ host, port }, () => socket.write(Buffer.alloc(SIZE, 0x61)));
  });
}

/** CONNECTIONS connections, CONCURRENCY at a time; proxy CPU from `/proc/<pid>/stat` of `pids`. */
async function storm(
  clientNetns: string,
  host: string,
  port: number,
  pids: readonly (number | undefined)[],
): Promise<Sample> {
  const cpu = (): number => pids.reduce<number>((sum, pid) => sum + cpuSeconds(pid), 0);
  const cpuBefore = cpu();
  const start = process.hrtime.bigint();
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CONNECTIONS) {
        next++;
        await exchange(clientNetns, host, port);
        done++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    values: { rate: done / seconds, 'proxy-cpu': ((cpu() - cpuBefore) / done) * 1000 },
    fingerprint: `${done} connections`,
  };
}

/** Waits until something accepts on host:port inside a namespace. */
async function waitForPortInNetns(netns: string, host: string, port: number, child: ChildProcess) {
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`peer exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createSocketInNetns(netns, { family: 4 });
      s.on('error', () => resolve(false));
      s.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on ${host}:${port} in ${netns}`);
}

function directContender(subnet: number): Contender {
  return {
    name: 'direct',
    async start(): Promise<ContenderInstance> {
      const p = pods('d', subnet);
      try {
        const app = await serverApp(p);
        return {
          round: () => storm(p.client.netns, p.server.ip, APP_PORT, []),
          close: async () => {
            await closeServer(app);
            p.close();
          },
        };
      } catch (error) {
        p.close();
        throw error;
      }
    },
  };
}

/**
 * HAProxy TLS-to-TLS across the two pods, one process, one thread: the
 * entry listens on the client pod's loopback, the TLS hop crosses the veth
 * to the exit in the server pod, which connects to the app (HAProxy's
 * `namespace` keyword places each socket). A TLS handshake per connection.
 */
function haproxyContender(subnet: number): Contender {
  return {
    name: 'haproxy-chain',
    async start(): Promise<ContenderInstance> {
      const p = pods('h', subnet);
      const dir = mkdtempSync(join(tmpdir(), 'amesh-bench-haproxy-netns-'));
      let child: ChildProcess | undefined;
      let app: net.Server | undefined;
      const close = async () => {
        if (child) await stop(child);
        if (app) await closeServer(app);
        rmSync(dir, { recursive: true, force: true });
        p.close();
      };
      try {
        app = await serverApp(p);
        const { key, cert } = selfSignedCertificate();
        writeFileSync(join(dir, 'combined.pem'), Buffer.concat([cert, key]));
        writeFileSync(join(dir, 'ca.pem'), cert);
        const entryPort = 15080;
        const exitPort = 15443;
        writeFileSync(
          join(dir, 'haproxy.cfg'),
          haproxyChainConfig(dir, {
            entry: { host: '127.0.0.1', port: entryPort, namespace: p.client.name },
            exit: { host: p.server.ip, port: exitPort, namespace: p.server.name },
            sink: { host: p.server.ip, port: APP_PORT },
          }),
        );
        child = spawn(HAPROXY, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
        await waitForPortInNetns(p.client.netns, '127.0.0.1', entryPort, child);
        const pid = child.pid;
        return { round: () => storm(p.client.netns, '127.0.0.1', entryPort, [pid]), close };
      } catch (error) {
        await close();
        throw error;
      }
    },
  };
}

/**
 * Two ztunnels in redirect mode: the client pod's app connects to the
 * server pod's IP; amesh's nftables rules (rendered and applied by
 * `@amesh/cni-redirect`) redirect it to node1's ztunnel on 15001 in the
 * client pod; HBONE (mTLS, HTTP/2 CONNECT) to node2's ztunnel on 15008 in
 * the server pod, which connects to the app. No SOCKS5.
 */
function ameshContender(name: string, subnet: number, baseline?: string): Contender {
  return {
    name,
    async start(): Promise<ContenderInstance> {
      const p = pods(baseline ? 'b' : 'a', subnet);
      let app: net.Server | undefined;
      let pair: Awaited<ReturnType<typeof startRedirectZtunnelPair>> | undefined;
      const close = async () => {
        await pair?.close();
        if (app) await closeServer(app);
        p.close();
      };
      try {
        for (const pod of [p.client, p.server]) {
          await applyPodRules(pod.netns);
          if ((await inspectPodRules(pod.netns)) !== 'present') throw new Error(`no rules in ${pod.name}`);
        }
        app = await serverApp(p);
        pair = await startRedirectZtunnelPair(
          { ip: p.client.ip, netns: p.client.netns },
          { ip: p.server.ip, netns: p.server.netns },
          baseline ? { baseline } : {},
        );
        const pid = pair.pid;
        return { round: () => storm(p.client.netns, p.server.ip, APP_PORT, [pid]), close };
      } catch (error) {
        await close();
        throw error;
      }
    },
  };
}

/**
 * L4-conn on the real data path: client and server pods as network
 * namespaces, amesh's in-pod nftables capture, two ztunnels in redirect
 * mode (as `examples/ztunnel --mode netns` runs them), against direct
 * (same namespaces, no capture) and an HAProxy TLS chain across the same
 * pods. With `AMESH_BENCH_BASELINE` set, an earlier build of the engine
 * runs side by side as `amesh-baseline`. Needs root, the cni-redirect
 * addon, nft and haproxy.
 */
export default function l4MeshConnNetns(): Scenario {
  if (process.getuid?.() !== 0)
    throw new Error('l4-mesh-conn-netns needs root (network namespaces, nftables)');
  if (!isAddonAvailable()) throw new Error('l4-mesh-conn-netns needs the @amesh/cni-redirect native addon');
  removeLeftovers();
  hookExit();
  const contenders: Contender[] = [directContender(1)];
  if (existsSync(HAPROXY) && process.env.AMESH_BENCH_NO_HAPROXY === undefined) {
    contenders.push(haproxyContender(2));
  }
  if (BASELINE_DIR) contenders.push(ameshContender('amesh-baseline', 4, BASELINE_DIR));
  contenders.push(ameshContender('amesh-ztunnels', 3));
  // AMESH_BENCH_CONTENDERS=a,b: run only these (for profiling one of them).
  const only = process.env.AMESH_BENCH_CONTENDERS?.split(',');
  return {
    name: 'l4-mesh-conn-netns',
    description: `L4-conn in redirect mode: ${CONNECTIONS} connections (1 KiB each way), ${CONCURRENCY} at a time, client pod netns → server pod netns`,
    metrics: [
      { name: 'rate', unit: 'conn/s', better: 'higher' },
      { name: 'proxy-cpu', unit: 'proxy CPU s per 1000 conn', better: 'lower' },
    ],
    contenders: only ? contenders.filter((c) => only.includes(c.name)) : contenders,
    defaultRounds: 5,
  };
}
