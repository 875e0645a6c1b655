import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CertificateManager, createTestCa } from '@amesh/mtls-identity';
import { nodeEcdsaP256 } from '@amesh/mtls-identity/node';
import { WorkloadStore } from '@amesh/workload-state';
// The ztunnel binary's own pod network (sockets made inside the pod's netns, marked 0x539).
import { NetnsPodNetwork } from '@amesh/example-ztunnel';
import { benchWorkload as workload } from './bench-workload.js';
import { stop } from './processes.js';

/** A pod of the redirect-mode mesh: its IP and the path of its network namespace. */
export interface NetnsPod {
  readonly ip: string;
  readonly netns: string;
}

/** Two ztunnels in redirect mode in one single-threaded child process. */
export interface RedirectZtunnelPair {
  readonly pid: number | undefined;
  close(): Promise<void>;
}

const FLAG = '--amesh-bench-ztunnel-pair-redirect';

/**
 * Starts node1's ztunnel serving `client` and node2's ztunnel serving
 * `server`, both in redirect mode (15001 outbound, 15006 inbound plaintext,
 * 15008 HBONE inside each pod's namespace), wired as `examples/ztunnel`
 * does in netns mode. Resolves once both pods are served and their
 * certificates issued. `baseline`: load the engine from {@link BASELINE_DIR}.
 */
export async function startRedirectZtunnelPair(
  client: NetnsPod,
  server: NetnsPod,
  options: { readonly baseline?: string } = {},
): Promise<RedirectZtunnelPair> {
  const config = JSON.stringify({ client, server, baseline: options.baseline });
  const child: ChildProcess = spawn(
    process.execPath,
    [
      // AMESH_BENCH_CPU_PROF=<dir>: write a V8 CPU profile of the pair (on exit) into <dir>.
      ...(process.env.AMESH_BENCH_CPU_PROF
        ? ['--cpu-prof', '--cpu-prof-dir', process.env.AMESH_BENCH_CPU_PROF]
        : []),
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      FLAG,
      config,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redirect ztunnel pair exited with ${code}`)));
  });
  return { pid: child.pid, close: () => stop(child) };
}

async function runPair(config: { client: NetnsPod; server: NetnsPod; baseline?: string }): Promise<void> {
  const engine = (
    config.baseline
      ? await import(
          pathToFileURL(join(config.baseline, 'node_modules/@amesh/l4-proxy/dist/node/index.js')).href
        )
      : await import('@amesh/l4-proxy/node')
  ) as typeof import('@amesh/l4-proxy/node');
  const ca = createTestCa({ ecdsa: nodeEcdsaP256 });
  const pods = [workload('client', config.client.ip, 'node1'), workload('server', config.server.ip, 'node2')];
  const ztunnels = [0, 1].map(() => {
    const store = new WorkloadStore();
    for (const w of pods) store.applyAddress(w.uid, { type: 'workload', workload: w });
    const certificates = new CertificateManager({
      caClient: ca.client,
      roots: ca.roots,
      ecdsa: nodeEcdsaP256,
    });
    return {
      certificates,
      ztunnel: new engine.Ztunnel({
        store,
        certificates,
        network: new NetnsPodNetwork(),
        capture: 'redirect',
      }),
    };
  });
  // As the ztunnel binary gets pods from the node agent over zds: a netns fd it holds, named
  // /proc/self/fd/<n> (AMESH_BENCH_NETNS_BY_PATH=1: the namespace's path, opened per socket).
  const held = (path: string): string =>
    process.env.AMESH_BENCH_NETNS_BY_PATH ? path : `/proc/self/fd/${openSync(path, 'r')}`;
  await ztunnels[0]!.ztunnel.addPod({
    uid: 'client',
    ips: [config.client.ip],
    netns: held(config.client.netns),
  });
  await ztunnels[1]!.ztunnel.addPod({
    uid: 'server',
    ips: [config.server.ip],
    netns: held(config.server.netns),
  });
  await ztunnels[0]!.certificates.fetch('spiffe://cluster.local/ns/bench/sa/client');
  await ztunnels[1]!.certificates.fetch('spiffe://cluster.local/ns/bench/sa/server');
  process.on('SIGTERM', () => process.exit(0));
  process.stdout.write('ready\n');
}

if (process.argv[2] === FLAG) await runPair(JSON.parse(process.argv[3]!));
