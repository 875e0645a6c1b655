/**
 * A two-node L4 mesh built from Linux network namespaces, for the netns
 * end-to-end test: node namespaces joined by a veth link, pods wired by the
 * real CNI reference plugins (run inside the node namespace with the CNI
 * environment a container runtime passes) with `amesh-cni` chained after
 * them, and the control plane, node agents and ztunnels as child processes
 * inside the node namespaces. Everything it creates carries a per-run prefix
 * and is removed by {@link Mesh.destroy}.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSocketInNetns, isAddonAvailable, listenServerInNetns } from '@amesh/cni-redirect/node';

export const CNI_DIR = '/usr/lib/cni';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = {
  controlPlane: join(ROOT, 'examples/control-plane/dist/main.js'),
  ztunnel: join(ROOT, 'examples/ztunnel/dist/main.js'),
  nodeAgent: join(ROOT, 'examples/cni/dist/main.js'),
  cniPlugin: join(ROOT, 'packages/cni-redirect/bin/amesh-cni.js'),
};
/** Names of everything this harness creates start with this (then the pid in base 36, `x`, random hex). */
export const PREFIX = 'ae2e';

function has(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/** Why the netns end-to-end test cannot run here, or undefined when it can. */
export function e2eSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nftables)';
  if (!has('ip', ['-V'])) return 'needs iproute2 (ip)';
  if (!has('nft', ['--version'])) return 'needs nftables (nft)';
  if (!has('nsenter', ['--version'])) return 'needs util-linux (nsenter)';
  for (const plugin of ['bridge', 'host-local', 'loopback'])
    if (!existsSync(join(CNI_DIR, plugin))) return `needs ${CNI_DIR}/${plugin} (containernetworking-plugins)`;
  if (!isAddonAvailable()) return 'needs the @amesh/cni-redirect native addon (npm run build)';
  for (const [what, path] of Object.entries(BIN))
    if (!existsSync(path)) return `needs the built ${what} (${path}; npm run build)`;
  return undefined;
}

/** Runs a command synchronously; throws with its stderr when it fails. */
export function sh(command: string, args: readonly string[], input = ''): string {
  const run = spawnSync(command, args, { input, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${run.status}): ${run.stderr}`);
  return run.stdout;
}

/** Runs a command; resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Network namespace names (from `ip netns list`). */
export function netnsNames(): string[] {
  return sh('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Interface names of the machine's own namespace. */
export function rootLinkNames(): string[] {
  return sh('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '')
    .filter(Boolean);
}

/** nftables tables of a namespace (`null`: the machine's own), as `family name`. */
export function nftTables(netns: string | null): string[] {
  const args = netns ? ['netns', 'exec', netns, 'nft', 'list', 'tables'] : ['list', 'tables'];
  return sh(netns ? 'ip' : 'nft', args)
    .split('\n')
    .map((line) => line.replace(/^table /, '').trim())
    .filter(Boolean);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes namespaces left by earlier runs of this harness whose process is
 * gone (their names carry its pid), so a crashed run does not leak.
 */
export function removeLeftovers(): string[] {
  const removed: string[] = [];
  for (const name of netnsNames()) {
    const match = new RegExp(`^${PREFIX}([0-9a-z]+)x`).exec(name);
    if (!match) continue;
    const pid = Number.parseInt(match[1]!, 36);
    if (pid === process.pid || pidAlive(pid)) continue;
    // Processes that run became orphans inside its namespaces (a killed run cannot stop them).
    const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '';
    for (const orphan of pids.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(orphan), 'SIGKILL');
      } catch {}
    }
    spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    removed.push(name);
  }
  return removed;
}

/** A child process inside a node namespace, with its output lines. */
export class NodeProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;

  constructor(
    readonly name: string,
    netns: string,
    args: readonly string[],
  ) {
    // `ip netns exec` enters the namespace and execs node: the pid is node's own.
    this.#child = spawn('ip', ['netns', 'exec', netns, process.execPath, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    const onData = (chunk: string): void => {
      const text = partial + chunk;
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts);
    };
    this.#child.stdout!.setEncoding('utf8').on('data', onData);
    this.#child.stderr!.setEncoding('utf8').on('data', onData);
    this.exited = new Promise((resolve) => this.#child.on('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Resolves with the first line matching, or rejects when the process exits or the time is up. */
  async waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((l) => pattern.test(l));
      if (line) return line;
      if (!this.running) throw new Error(`${this.name} exited before logging ${pattern}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not log ${pattern}:\n${this.tail()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends SIGTERM and waits for the exit (SIGKILL after `graceMs`). */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (!this.running) return this.#child.exitCode;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Kills the process without letting it clean up (a crash), and waits for the exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.#child.kill('SIGKILL');
    await this.exited;
  }

  tail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }
}

/** A node: its namespace, addresses and processes. */
export interface MeshNode {
  readonly index: 1 | 2;
  readonly name: string;
  readonly netns: string;
  readonly netnsPath: string;
  readonly linkIp: string;
  readonly podSubnet: string;
  readonly gateway: string;
  readonly bridge: string;
  readonly veth: string;
  readonly cniSocket: string;
  readonly zdsSocket: string;
  readonly token: string;
  agent?: NodeProcess;
  ztunnel?: NodeProcess;
}

/** A pod as the config directory describes it, and its namespace once created. */
export interface MeshPod {
  readonly name: string;
  readonly namespace: string;
  readonly node: MeshNode;
  readonly serviceAccount: string;
  labels: Record<string, string>;
  readonly containerId: string;
  readonly netns: string;
  readonly netnsPath: string;
  ip?: string;
  /** The previous plugin's result (bridge), passed to chained plugins as `prevResult`. */
  result?: Record<string, unknown>;
  created: boolean;
}

/** A Service of the config directory. */
export interface MeshService {
  readonly name: string;
  readonly namespace: string;
  readonly vip: string;
  readonly selector: Record<string, string>;
  readonly ports: readonly { name: string; port: number; targetPort: number }[];
}

/** The whole test mesh. */
export class Mesh {
  readonly id = `${PREFIX}${process.pid.toString(36)}x${randomBytes(2).toString('hex').slice(0, 3)}`;
  readonly octet = 16 + (randomBytes(1)[0]! % 200);
  readonly stateDir = mkdtempSync(join(tmpdir(), 'amesh-e2e-'));
  readonly configDir = join(this.stateDir, 'mesh');
  readonly cniBinDir = join(this.stateDir, 'cni-bin');
  readonly ipamDir = join(this.stateDir, 'ipam');
  readonly nodes: [MeshNode, MeshNode];
  readonly pods = new Map<string, MeshPod>();
  readonly services: MeshService[] = [];
  readonly namespaces = new Map<string, Record<string, string>>();
  controlPlane?: NodeProcess;
  /** Upstream resolver (`ip:port`) the ztunnels' DNS proxies forward names outside the mesh to. */
  dnsUpstream?: string;
  readonly #netns: string[] = [];
  readonly #servers: net.Server[] = [];
  /** Logical config file name → the generation file that holds it now. */
  readonly #files = new Map<string, string>();
  #generation = 0;

  constructor() {
    mkdirSync(this.configDir);
    mkdirSync(this.cniBinDir);
    mkdirSync(this.ipamDir);
    const node = (index: 1 | 2): MeshNode => ({
      index,
      name: `node${index}`,
      netns: `${this.id}n${index}`,
      netnsPath: `/var/run/netns/${this.id}n${index}`,
      linkIp: `10.${this.octet}.255.${index}`,
      podSubnet: `10.${this.octet}.${index}.0/24`,
      gateway: `10.${this.octet}.${index}.1`,
      bridge: `${this.id}b${index}`,
      veth: `${this.id}v${index}`,
      cniSocket: join(this.stateDir, `cni-${index}.sock`),
      zdsSocket: join(this.stateDir, `zds-${index}.sock`),
      token: `token-node${index}-${randomBytes(4).toString('hex')}`,
    });
    this.nodes = [node(1), node(2)];
    // The CNI bin dir a runtime would use: the reference plugins and amesh-cni side by side.
    for (const plugin of ['bridge', 'host-local', 'loopback']) {
      writeFileSync(join(this.cniBinDir, plugin), `#!/bin/sh\nexec ${join(CNI_DIR, plugin)} "$@"\n`);
      chmodSync(join(this.cniBinDir, plugin), 0o755);
    }
    writeFileSync(
      join(this.cniBinDir, 'amesh-cni'),
      `#!/bin/sh\nexec ${process.execPath} ${BIN.cniPlugin} "$@"\n`,
    );
    chmodSync(join(this.cniBinDir, 'amesh-cni'), 0o755);
  }

  /** Where the control plane listens (node1's link address). */
  get controlPlaneIp(): string {
    return this.nodes[0].linkIp;
  }

  vip(host: number): string {
    return `10.${this.octet}.96.${host}`;
  }

  #addNetns(name: string): string {
    sh('ip', ['netns', 'add', name]);
    this.#netns.push(name);
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return `/var/run/netns/${name}`;
  }

  /** Creates both node namespaces, the veth link between them and the cross-node pod routes. */
  createNodes(): void {
    const [n1, n2] = this.nodes;
    for (const n of this.nodes) {
      this.#addNetns(n.netns);
      sh('ip', ['netns', 'exec', n.netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }
    sh('ip', [
      'link',
      'add',
      n1.veth,
      'netns',
      n1.netns,
      'type',
      'veth',
      'peer',
      'name',
      n2.veth,
      'netns',
      n2.netns,
    ]);
    for (const [n, other] of [
      [n1, n2],
      [n2, n1],
    ] as const) {
      sh('ip', ['-n', n.netns, 'addr', 'add', `${n.linkIp}/24`, 'dev', n.veth]);
      sh('ip', ['-n', n.netns, 'link', 'set', n.veth, 'up']);
      sh('ip', ['-n', n.netns, 'route', 'add', other.podSubnet, 'via', other.linkIp, 'dev', n.veth]);
    }
  }

  // --- config directory ---------------------------------------------------------------------

  /** Declares a pod (written to the config directory by {@link Mesh.writeConfig}). */
  declarePod(init: {
    name: string;
    namespace: string;
    node: 1 | 2;
    serviceAccount?: string;
    labels?: Record<string, string>;
  }): MeshPod {
    const netns = `${this.id}p${this.pods.size}`;
    const pod: MeshPod = {
      name: init.name,
      namespace: init.namespace,
      node: this.nodes[init.node - 1]!,
      serviceAccount: init.serviceAccount ?? 'default',
      labels: { app: init.name, ...init.labels },
      containerId: `${this.id}c${init.name}`,
      netns,
      netnsPath: `/var/run/netns/${netns}`,
      created: false,
    };
    this.pods.set(init.name, pod);
    return pod;
  }

  pod(name: string): MeshPod {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`no pod ${name}`);
    return pod;
  }

  /** Writes `mesh.yaml` (namespaces, pods with the IPs known so far, services) atomically. */
  writeConfig(): void {
    const docs: string[] = [];
    for (const [name, labels] of this.namespaces)
      docs.push(
        `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${name}, labels: ${JSON.stringify(labels)} }\n`,
      );
    for (const pod of this.pods.values()) {
      docs.push(`apiVersion: v1
kind: Pod
metadata: { name: ${pod.name}, namespace: ${pod.namespace}, labels: ${JSON.stringify(pod.labels)} }
spec: { nodeName: ${pod.node.name}, serviceAccountName: ${pod.serviceAccount} }
${pod.ip ? `status: { phase: Running, podIP: ${pod.ip} }` : 'status: { phase: Pending }'}
`);
    }
    for (const svc of this.services) {
      docs.push(`apiVersion: v1
kind: Service
metadata: { name: ${svc.name}, namespace: ${svc.namespace} }
spec: { selector: ${JSON.stringify(svc.selector)}, clusterIP: ${svc.vip}, ports: ${JSON.stringify(svc.ports)} }
`);
    }
    this.writeFile('mesh.yaml', docs.join('---\n'));
  }

  /**
   * Writes a config file atomically (write, then rename) under a fresh name
   * (`<name>-<generation>.yaml`), then removes the previous generation.
   * Why not rename over the same name: Node 20's recursive `fs.watch` on
   * Linux (under `DirectorySource`) reports only the first replacement of a
   * file, so later edits of a replaced file would go unseen. While both
   * generations exist the older one wins (path order), so nothing flaps.
   */
  writeFile(name: string, text: string): void {
    const generation = String(++this.#generation).padStart(6, '0');
    const file = `${name.replace(/\.yaml$/, '')}-${generation}.yaml`;
    writeFileSync(join(this.stateDir, `${file}.tmp`), text);
    renameSync(join(this.stateDir, `${file}.tmp`), join(this.configDir, file));
    const previous = this.#files.get(name);
    if (previous) rmSync(join(this.configDir, previous), { force: true });
    this.#files.set(name, file);
  }

  /** Removes a config file written by {@link Mesh.writeFile}. */
  removeFile(name: string): void {
    const current = this.#files.get(name);
    if (current) rmSync(join(this.configDir, current), { force: true });
    this.#files.delete(name);
  }

  // --- processes ----------------------------------------------------------------------------

  /** Starts the control plane inside node1's namespace, on node1's link address. */
  async startControlPlane(): Promise<void> {
    const tokens = this.nodes.flatMap((n) => ['--node-token', `${n.token}=${n.name}`]);
    this.controlPlane = new NodeProcess('control-plane', this.nodes[0].netns, [
      BIN.controlPlane,
      'serve',
      '--config',
      this.configDir,
      '--grpc',
      `${this.controlPlaneIp}:15010`,
      '--http-host',
      this.controlPlaneIp,
      '--http-port',
      '15014',
      ...tokens,
    ]);
    await this.controlPlane.waitForLine(/control plane: xDS and CA on/);
  }

  /** Starts a node's agent (it must be up before ztunnel connects to it). */
  async startNodeAgent(node: MeshNode): Promise<void> {
    node.agent = new NodeProcess(`agent-${node.name}`, node.netns, [
      BIN.nodeAgent,
      '--node',
      node.name,
      '--config',
      this.configDir,
      '--socket',
      node.cniSocket,
      '--zds-socket',
      node.zdsSocket,
      '--state-file',
      join(this.stateDir, `agent-state-${node.index}.json`),
      '--control-plane',
      `http://${this.controlPlaneIp}:15014`,
      '--token',
      node.token,
      '--uninstall-on-exit',
      // Pods' DNS (UDP 53 not on lo, TCP 53) is redirected to ztunnel's proxy on 15053.
      '--dns-capture',
    ]);
    await node.agent.waitForLine(/node agent for \S+ started/);
  }

  /** Starts a node's ztunnel in netns mode, admin endpoints on the node's link address. */
  async startZtunnel(node: MeshNode): Promise<void> {
    node.ztunnel = new NodeProcess(`ztunnel-${node.name}`, node.netns, [
      BIN.ztunnel,
      '--node',
      node.name,
      '--mode',
      'netns',
      '--xds',
      `${this.controlPlaneIp}:15010`,
      '--token',
      node.token,
      '--admin-host',
      node.linkIp,
      '--cni-socket',
      node.zdsSocket,
      '--dns-proxy',
      ...(this.dnsUpstream ? ['--dns-upstream', this.dnsUpstream] : []),
    ]);
    await node.ztunnel.waitForLine(/ztunnel for \S+ started/);
  }

  // --- pods ---------------------------------------------------------------------------------

  #cniEnv(command: string, pod: MeshPod, ifname = 'eth0'): Record<string, string> {
    // What containerd/CRI-O pass, minus K8S_POD_UID: YAML pods have no runtime UID (see examples/cni).
    return {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: pod.containerId,
      CNI_NETNS: pod.netnsPath,
      CNI_IFNAME: ifname,
      CNI_PATH: this.cniBinDir,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
    };
  }

  #networkConfig(node: MeshNode): { bridge: Record<string, unknown>; amesh: Record<string, unknown> } {
    return {
      bridge: {
        type: 'bridge',
        bridge: node.bridge,
        isGateway: true,
        isDefaultGateway: true,
        ipMasq: false,
        ipam: {
          type: 'host-local',
          dataDir: join(this.ipamDir, node.name),
          ranges: [[{ subnet: node.podSubnet, gateway: node.gateway }]],
        },
      },
      amesh: { type: 'amesh-cni', agentSocket: node.cniSocket, agentTimeoutMs: 20_000 },
    };
  }

  /**
   * Runs one plugin of the network config list inside the node namespace,
   * as a runtime does: `$CNI_PATH/<type>` with the CNI environment and the
   * plugin's config (plus `cniVersion`, `name`, and `prevResult` when chained) on stdin.
   */
  async #runPlugin(
    node: MeshNode,
    command: string,
    pod: MeshPod,
    plugin: Record<string, unknown>,
    prevResult?: unknown,
    ifname?: string,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const config = {
      cniVersion: '1.0.0',
      name: ifname === 'lo' ? 'lo' : 'amesh-e2e',
      ...plugin,
      ...(prevResult ? { prevResult } : {}),
    };
    return run('ip', ['netns', 'exec', node.netns, join(this.cniBinDir, plugin.type as string)], {
      env: this.#cniEnv(command, pod, ifname),
      input: JSON.stringify(config),
    });
  }

  /** Creates a pod's namespace and runs CNI ADD: loopback, then bridge + host-local, then amesh-cni. */
  async createPod(pod: MeshPod): Promise<void> {
    this.#addNetns(pod.netns);
    pod.created = true;
    const lo = await this.#runPlugin(pod.node, 'ADD', pod, { type: 'loopback' }, undefined, 'lo');
    if (lo.code !== 0) throw new Error(`loopback ADD for ${pod.name}: ${lo.stdout}${lo.stderr}`);
    const config = this.#networkConfig(pod.node);
    const bridge = await this.#runPlugin(pod.node, 'ADD', pod, config.bridge);
    if (bridge.code !== 0) throw new Error(`bridge ADD for ${pod.name}: ${bridge.stdout}${bridge.stderr}`);
    pod.result = JSON.parse(bridge.stdout) as Record<string, unknown>;
    const amesh = await this.#runPlugin(pod.node, 'ADD', pod, config.amesh, pod.result);
    if (amesh.code !== 0) throw new Error(`amesh-cni ADD for ${pod.name}: ${amesh.stdout}${amesh.stderr}`);
    const result = JSON.parse(amesh.stdout) as { ips: { address: string }[] };
    pod.ip = result.ips[0]!.address.split('/')[0]!;
  }

  /** CNI DEL in reverse chain order (amesh-cni, bridge, loopback), as a runtime does before deleting the netns. */
  async deletePod(pod: MeshPod): Promise<string[]> {
    if (!pod.created) return [];
    const failures: string[] = [];
    const config = this.#networkConfig(pod.node);
    for (const [plugin, ifname] of [
      [config.amesh, 'eth0'],
      [config.bridge, 'eth0'],
      [{ type: 'loopback' }, 'lo'],
    ] as const) {
      const out = await this.#runPlugin(pod.node, 'DEL', pod, plugin, pod.result, ifname);
      if (out.code !== 0) failures.push(`${plugin.type} DEL for ${pod.name}: ${out.stdout}${out.stderr}`);
    }
    spawnSync('ip', ['netns', 'delete', pod.netns], { stdio: 'ignore' });
    pod.created = false;
    return failures;
  }

  // --- apps inside pods ---------------------------------------------------------------------

  /** Serves `handler` on a port inside a pod's namespace (the app, unmarked). */
  async serve(pod: MeshPod, port: number, handler: (socket: net.Socket) => void): Promise<net.Server> {
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => {});
      handler(socket);
    });
    await listenServerInNetns(server, pod.netnsPath, { port, host: '0.0.0.0' });
    this.#servers.push(server);
    return server;
  }

  /** A TCP connection from inside a pod's namespace (as its app would open it: captured by its rules). */
  connectFrom(pod: MeshPod, host: string, port: number): net.Socket {
    const socket = createSocketInNetns(pod.netnsPath, { family: 4 });
    socket.connect({ host, port });
    return socket;
  }

  /** An HTTP GET from inside a namespace (a node's endpoints are only reachable there). */
  httpGet(
    netnsPath: string,
    host: string,
    port: number,
    path: string,
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host,
          port,
          path,
          createConnection: () => {
            const socket = createSocketInNetns(netnsPath, { family: 4 });
            socket.connect({ host, port });
            return socket;
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.setTimeout(10_000, () => req.destroy(new Error(`GET ${host}:${port}${path} timed out`)));
      req.end();
    });
  }

  /** ztunnel's admin dump of a node. */
  async configDump(node: MeshNode): Promise<ZtunnelDump> {
    const res = await this.httpGet(node.netnsPath, node.linkIp, 15000, '/config_dump');
    if (res.status !== 200) throw new Error(`config_dump: ${res.status} ${res.body}`);
    return JSON.parse(res.body) as ZtunnelDump;
  }

  // --- teardown -----------------------------------------------------------------------------

  /**
   * Stops every process (agents uninstall on exit), deletes every pod
   * (CNI DEL) and namespace, and the state directory. Never throws; returns what failed.
   */
  async destroy(): Promise<string[]> {
    const problems: string[] = [];
    for (const server of this.#servers.splice(0)) server.close();
    for (const node of this.nodes) await node.ztunnel?.stop().catch(() => {});
    for (const node of this.nodes) {
      const code = await node.agent?.stop().catch(() => null);
      if (node.agent && code !== 0)
        problems.push(`${node.agent.name} exited with ${code}:\n${node.agent.tail()}`);
    }
    for (const pod of this.pods.values())
      problems.push(...(await this.deletePod(pod).catch((e: Error) => [e.message])));
    await this.controlPlane?.stop().catch(() => {});
    for (const name of this.#netns.splice(0).reverse())
      spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    rmSync(this.stateDir, { recursive: true, force: true });
    return problems;
  }
}

/** The parts of ztunnel's `/config_dump` the test reads. */
export interface ZtunnelDump {
  readonly node: string;
  readonly pods: readonly { uid: string; ips: string[]; netns?: string }[];
  readonly workloads: readonly { uid: string; name: string; tunnelProtocol: string }[];
  readonly certificates: readonly { identity: string; state: string }[];
}
