import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { LoopbackPodNetwork, Ztunnel } from '@amesh/l4-proxy/node';
import { CertificateManager, createTestCa } from '@amesh/mtls-identity';
import { nodeEcdsaP256 } from '@amesh/mtls-identity/node';
import { parseIp, WorkloadStore } from '@amesh/workload-state';
import type { Workload } from '@amesh/xds-types';
import { stop } from './processes.js';

/** The pod IPs of the benchmark mesh: a client pod on node1, a server pod on node2. */
export const MESH = { client: '127.0.77.10', server: '127.0.77.20', socks: '127.0.77.1' } as const;

/** Two real ztunnels (the `@amesh/l4-proxy` engine) in one single-threaded child process. */
export interface ZtunnelPair {
  /** SOCKS5 port of node1's ztunnel on {@link MESH.socks}. */
  readonly socksPort: number;
  readonly pid: number | undefined;
  /**
   * Live memory of the process after a full garbage collection, in KiB:
   * V8 heap used plus memory held outside the heap (buffers). RSS lags GC
   * by seconds and hides per-tunnel costs; this does not.
   */
  memoryKiB(): Promise<number>;
  close(): Promise<void>;
}

const FLAG = '--amesh-bench-ztunnel-pair';

/** Starts the pair; resolves once both pods are served and their certificates are issued. */
export async function startZtunnelPair(): Promise<ZtunnelPair> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), FLAG],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  const socksPort = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      const line = /^(\d+)\n/.exec(out);
      if (line) resolve(Number(line[1]));
    });
    child.once('exit', (code) => reject(new Error(`ztunnel pair exited with ${code}`)));
  });
  const memoryKiB = () =>
    new Promise<number>((resolve) => {
      child.once('message', (m) => resolve(Number((m as { liveKiB: number }).liveKiB)));
      child.send({ type: 'memory' });
    });
  return { socksPort, pid: child.pid, memoryKiB, close: () => stop(child) };
}

function workload(uid: string, ip: string, node: string): Workload {
  return {
    uid,
    name: uid,
    namespace: 'bench',
    addresses: [parseIp(ip)!],
    hostname: '',
    network: '',
    tunnelProtocol: 'HBONE',
    trustDomain: '',
    serviceAccount: uid,
    waypoint: null,
    networkGateway: null,
    node,
    canonicalName: uid,
    canonicalRevision: 'v1',
    workloadType: 'POD',
    workloadName: uid,
    nativeTunnel: false,
    services: {},
    authorizationPolicies: [],
    status: 'HEALTHY',
    clusterId: 'Kubernetes',
    applicationTunnel: null,
    locality: null,
    networkMode: 'STANDARD',
  };
}

async function runPair(): Promise<void> {
  const ca = createTestCa({ ecdsa: nodeEcdsaP256 });
  const pods = [workload('client', MESH.client, 'node1'), workload('server', MESH.server, 'node2')];
  const ztunnels = [0, 1].map(() => {
    const store = new WorkloadStore();
    for (const w of pods) store.applyAddress(w.uid, { type: 'workload', workload: w });
    const certificates = new CertificateManager({
      caClient: ca.client,
      roots: ca.roots,
      ecdsa: nodeEcdsaP256,
    });
    return {
      store,
      certificates,
      ztunnel: new Ztunnel({ store, certificates, network: new LoopbackPodNetwork(), capture: 'explicit' }),
    };
  });
  await ztunnels[0]!.ztunnel.addPod({ uid: 'client', ips: [MESH.client] });
  await ztunnels[1]!.ztunnel.addPod({ uid: 'server', ips: [MESH.server] });
  await ztunnels[0]!.certificates.fetch('spiffe://cluster.local/ns/bench/sa/client');
  await ztunnels[1]!.certificates.fetch('spiffe://cluster.local/ns/bench/sa/server');
  const socks = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => socks.listen(0, MESH.socks, resolve));
  ztunnels[0]!.ztunnel.serveSocks5(socks);
  process.stdout.write(`${(socks.address() as net.AddressInfo).port}\n`);
  process.on('SIGTERM', () => process.exit(0));
  // The benchmark asks for memory after a full GC, so V8's lazy collection does not hide or inflate tunnels.
  process.on('message', () => {
    (globalThis as { gc?: () => void }).gc?.();
    const usage = process.memoryUsage();
    process.send?.({ liveKiB: (usage.heapUsed + usage.external) / 1024 });
  });
}

if (process.argv[2] === FLAG) await runPair();
