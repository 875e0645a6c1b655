import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CertificateManager, createTestCa } from '@amesh/mtls-identity';
import { nodeEcdsaP256 } from '@amesh/mtls-identity/node';
import { WorkloadStore } from '@amesh/workload-state';
import { benchWorkload as workload } from './bench-workload.js';
import { stop } from './processes.js';

/** The pod IPs of the benchmark mesh: a client pod on node1, a server pod on node2. */
export const MESH = { client: '127.0.77.10', server: '127.0.77.20', socks: '127.0.77.1' } as const;

/** The pod IPs of a second pair running side by side (the baseline build of an A/B run). */
export const MESH_BASELINE = { client: '127.0.78.10', server: '127.0.78.20', socks: '127.0.78.1' } as const;

/** The three addresses of a pair's mesh. */
export type MeshAddresses = { readonly client: string; readonly server: string; readonly socks: string };

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
  /**
   * Applies `count` control-plane updates that concern no open connection
   * (a workload on a third node, or a policy of another namespace) to both
   * ztunnels' stores; resolves with the CPU microseconds the process spent.
   */
  churn(kind: 'workload' | 'policy', count: number): Promise<number>;
  close(): Promise<void>;
}

const FLAG = '--amesh-bench-ztunnel-pair';

/**
 * Starts the pair; resolves once both pods are served and their certificates
 * are issued. `baseline`: load the engine from that directory instead (see
 * `BASELINE_DIR` in `baseline.ts`), for a side-by-side A/B run.
 */
export async function startZtunnelPair(
  options: { readonly baseline?: string; readonly mesh?: MeshAddresses } = {},
): Promise<ZtunnelPair> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      FLAG,
      JSON.stringify(options.mesh ?? MESH),
      ...(options.baseline ? [options.baseline] : []),
    ],
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
  const churn = (kind: 'workload' | 'policy', count: number) =>
    new Promise<number>((resolve) => {
      child.once('message', (m) => resolve(Number((m as { cpuMicros: number }).cpuMicros)));
      child.send({ type: 'churn', kind, count });
    });
  return { socksPort, pid: child.pid, memoryKiB, churn, close: () => stop(child) };
}

async function runPair(mesh: MeshAddresses, baseline: string | undefined): Promise<void> {
  const { LoopbackPodNetwork, Ztunnel } = (
    baseline
      ? await import(pathToFileURL(join(baseline, 'node_modules/@amesh/l4-proxy/dist/node/index.js')).href)
      : await import('@amesh/l4-proxy/node')
  ) as typeof import('@amesh/l4-proxy/node');
  const ca = createTestCa({ ecdsa: nodeEcdsaP256 });
  const pods = [workload('client', mesh.client, 'node1'), workload('server', mesh.server, 'node2')];
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
  await ztunnels[0]!.ztunnel.addPod({ uid: 'client', ips: [mesh.client] });
  await ztunnels[1]!.ztunnel.addPod({ uid: 'server', ips: [mesh.server] });
  await ztunnels[0]!.certificates.fetch('spiffe://cluster.local/ns/bench/sa/client');
  await ztunnels[1]!.certificates.fetch('spiffe://cluster.local/ns/bench/sa/server');
  const socks = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => socks.listen(0, mesh.socks, resolve));
  ztunnels[0]!.ztunnel.serveSocks5(socks);
  process.stdout.write(`${(socks.address() as net.AddressInfo).port}\n`);
  process.on('SIGTERM', () => process.exit(0));
  // The benchmark asks for memory after a full GC, so V8's lazy collection does not hide or inflate tunnels.
  process.on('message', (message: { type: string; kind?: string; count?: number }) => {
    if (message.type === 'churn') {
      const cpu = process.cpuUsage();
      const bystander = workload('bystander', '127.0.79.30', 'node3');
      for (let i = 0; i < (message.count ?? 0); i++) {
        for (const { store } of ztunnels) {
          if (message.kind === 'policy') {
            store.applyAuthorization('other/allow-some', {
              name: 'allow-some',
              namespace: 'other',
              scope: 'NAMESPACE',
              action: 'ALLOW',
              rules: [],
              dryRun: i % 2 === 0,
            });
          } else {
            store.applyAddress('bystander', {
              type: 'workload',
              workload: { ...bystander, canonicalRevision: `v${i}` },
            });
          }
        }
      }
      const used = process.cpuUsage(cpu);
      process.send?.({ cpuMicros: used.user + used.system });
      return;
    }
    (globalThis as { gc?: () => void }).gc?.();
    const usage = process.memoryUsage();
    process.send?.({ liveKiB: (usage.heapUsed + usage.external) / 1024 });
  });
}

if (process.argv[2] === FLAG) await runPair(JSON.parse(process.argv[3]!) as MeshAddresses, process.argv[4]);
