import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CNI_DIR } from './privileges.js';
import { NetnsSet, runCommand, sh, uniqueSuffix } from './netns.js';

/** A pod wired by the reference plugins. */
export interface TestPod {
  readonly name: string;
  readonly containerId: string;
  readonly netnsName: string;
  readonly netnsPath: string;
  /** The bridge plugin's result (CNI 1.0.0). */
  readonly result: Record<string, unknown>;
  readonly ipv4: string;
  readonly ipv6: string;
}

/** Environment a container runtime passes to a CNI plugin. */
export function cniEnv(
  command: string,
  pod: { containerId: string; netnsPath?: string; name?: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.containerId,
    ...(pod.netnsPath ? { CNI_NETNS: pod.netnsPath } : {}),
    CNI_IFNAME: 'eth0',
    CNI_PATH: CNI_DIR,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name ?? 'pod'};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
    ...extra,
  };
}

/**
 * A node network namespace with a bridge, and pods wired to it by the real
 * `bridge` + `host-local` (+ `loopback`) plugins, run inside the node
 * namespace exactly as a runtime would (env + config on stdin).
 */
export class CniTopology {
  readonly suffix = uniqueSuffix();
  readonly netns = new NetnsSet();
  readonly nodeName = `amn${this.suffix}`;
  readonly nodeNetnsPath: string;
  readonly bridge = `amb${this.suffix}`.slice(0, 15);
  readonly dataDir = mkdtempSync(join(tmpdir(), 'amesh-cni-ipam-'));
  readonly subnet4: string;
  readonly gateway4: string;
  readonly gateway6: string;
  readonly subnet6: string;
  readonly pods: TestPod[] = [];

  constructor() {
    const octet = 16 + (Number.parseInt(this.suffix.slice(-2), 16) % 200);
    this.subnet4 = `10.${octet}.${(process.pid % 250) + 1}.0/24`;
    this.gateway4 = this.subnet4.replace(/0\/24$/, '1');
    this.subnet6 = `fd00:a3e5:${this.suffix.slice(-4)}::/64`;
    this.gateway6 = `fd00:a3e5:${this.suffix.slice(-4)}::1`;
    this.nodeNetnsPath = this.netns.add(this.nodeName);
    sh('ip', ['netns', 'exec', this.nodeName, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0']);
    sh('ip', ['netns', 'exec', this.nodeName, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0']);
  }

  /** The network configuration of the bridge plugin. */
  bridgeConfig(): Record<string, unknown> {
    return {
      cniVersion: '1.0.0',
      name: 'amesh-test',
      type: 'bridge',
      bridge: this.bridge,
      isGateway: true,
      isDefaultGateway: true,
      ipMasq: false,
      ipam: {
        type: 'host-local',
        dataDir: this.dataDir,
        ranges: [
          [{ subnet: this.subnet4, gateway: this.gateway4 }],
          [{ subnet: this.subnet6, gateway: this.gateway6 }],
        ],
      },
    };
  }

  /** Runs a plugin inside the node namespace, as a runtime would. */
  runPlugin(
    plugin: string[],
    env: Record<string, string>,
    config: unknown,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return runCommand('ip', ['netns', 'exec', this.nodeName, ...plugin], {
      env,
      input: typeof config === 'string' ? config : JSON.stringify(config),
    });
  }

  /** Creates a pod netns and wires it with loopback + bridge/host-local. */
  async addPod(name: string): Promise<TestPod> {
    const netnsName = `amp${this.suffix}${name}`;
    const netnsPath = this.netns.add(netnsName);
    sh('ip', ['netns', 'exec', netnsName, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0']);
    sh('ip', ['netns', 'exec', netnsName, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0']);
    const containerId = `c${this.suffix}${name}`;
    const loopback = await this.runPlugin(
      [`${CNI_DIR}/loopback`],
      { ...cniEnv('ADD', { containerId, netnsPath, name }), CNI_IFNAME: 'lo' },
      { cniVersion: '1.0.0', name: 'lo', type: 'loopback' },
    );
    if (loopback.code !== 0) throw new Error(`loopback ADD failed: ${loopback.stdout}${loopback.stderr}`);
    const bridge = await this.runPlugin(
      [`${CNI_DIR}/bridge`],
      cniEnv('ADD', { containerId, netnsPath, name }),
      this.bridgeConfig(),
    );
    if (bridge.code !== 0) throw new Error(`bridge ADD failed: ${bridge.stdout}${bridge.stderr}`);
    const result = JSON.parse(bridge.stdout) as Record<string, unknown>;
    const ips = (result.ips as { address: string }[]).map((ip) => ip.address.split('/')[0]!);
    const pod: TestPod = {
      name,
      containerId,
      netnsName,
      netnsPath,
      result,
      ipv4: ips.find((ip) => ip.includes('.'))!,
      ipv6: ips.find((ip) => ip.includes(':'))!,
    };
    this.pods.push(pod);
    return pod;
  }

  /** bridge DEL for a pod, as a runtime would before deleting the netns. */
  async delPod(pod: TestPod): Promise<void> {
    await this.runPlugin([`${CNI_DIR}/bridge`], cniEnv('DEL', pod), this.bridgeConfig());
  }

  /** Deletes every namespace (veths and the bridge go with them) and the IPAM dir; never throws. */
  async cleanup(): Promise<void> {
    for (const pod of this.pods.splice(0)) {
      await this.delPod(pod).catch(() => {});
    }
    this.netns.cleanup();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
