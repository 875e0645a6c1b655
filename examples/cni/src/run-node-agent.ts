import { NodeAgent, type PodStatusReporter } from '@amesh/cni-redirect/node';
import { formatIssue } from '@amesh/mesh-config';
import { DirectorySource } from '@amesh/mesh-config/node';
import { ConfigPodSource } from './config-pod-source.js';
import { ControlPlaneStatusReporter } from './status-reporter.js';

/** How the node agent runs (the CLI flags in `main.ts`). */
export interface NodeAgentConfig {
  /** This node's name: pods with `spec.nodeName` equal to it are enrolled here. */
  readonly node: string;
  /** The YAML directory the control plane reads (pods and namespaces come from it). */
  readonly configDir: string;
  /** Unix socket the CNI plugin talks to (the plugin config's `agentSocket`). */
  readonly cniSocket: string;
  /** Unix socket ztunnel connects to (ztunnel's `--cni-socket`). */
  readonly zdsSocket: string;
  /** Where the agent keeps each pod's netns (from CNI ADD) across restarts; without it a restarted agent cannot re-adopt pods. */
  readonly stateFile?: string;
  /** Control plane HTTP base URL for redirection status, e.g. `http://10.0.0.1:15014`; without it status is only logged. */
  readonly controlPlane?: string;
  /** How often every captured pod's status is re-sent to the control plane (ms; 0: only after an outage). Default 30 000. */
  readonly statusResyncMs?: number;
  /** This node's bearer token for the control plane. */
  readonly token?: string;
  /** Cluster id, the prefix of workload uids (default `Kubernetes`). */
  readonly clusterId?: string;
  /** Capture DNS (UDP/TCP 53 → 15053) too. Default false (ztunnel has no DNS proxy yet). */
  readonly dnsCapture?: boolean;
  readonly log?: (line: string) => void;
}

/** A running node agent. */
export interface RunningNodeAgent {
  readonly agent: NodeAgent;
  readonly pods: ConfigPodSource;
  readonly reporter: ControlPlaneStatusReporter | undefined;
  /** Stops serving; pods' rules stay in place (a restarted agent re-adopts them). */
  close(): Promise<void>;
  /** Removes every rule table it installed, tells ztunnel, removes its sockets, then stops. */
  uninstall(): Promise<void>;
}

/**
 * Starts the CNI node agent: reads pods and namespaces from the config
 * directory (waiting for the first full read), serves the CNI plugin and
 * ztunnel on their unix sockets, and reports each pod's redirection status
 * to the control plane.
 * @throws when the config directory cannot be read or a socket cannot be created
 */
export async function startNodeAgent(config: NodeAgentConfig): Promise<RunningNodeAgent> {
  const log = config.log ?? ((line: string) => console.log(line));
  if (config.controlPlane !== undefined && config.token === undefined)
    throw new Error('reporting to the control plane needs the node token (--token)');
  const pods = new ConfigPodSource({
    node: config.node,
    ...(config.clusterId ? { clusterId: config.clusterId } : {}),
  });
  const source = new DirectorySource({ directory: config.configDir });
  await source.start((event) => {
    switch (event.type) {
      case 'change':
        pods.apply(event.change);
        return;
      case 'issues':
        for (const issue of event.issues) log(`config error (last good config kept): ${formatIssue(issue)}`);
        return;
      case 'error':
        log(`config source error: ${event.error.message}`);
        return;
      case 'synced':
        return;
    }
  });

  const reporter =
    config.controlPlane !== undefined && config.token !== undefined
      ? new ControlPlaneStatusReporter({
          controlPlane: config.controlPlane,
          token: config.token,
          log,
          ...(config.statusResyncMs === undefined ? {} : { resyncIntervalMs: config.statusResyncMs }),
        })
      : undefined;
  const reportStatus: PodStatusReporter = (pod, status) => {
    log(`pod ${pod.namespace}/${pod.name}: redirection ${status ?? 'removed'}`);
    reporter?.report(pod, status);
  };
  let agent: NodeAgent;
  try {
    agent = await NodeAgent.start({
      podSource: pods,
      cniSocketPath: config.cniSocket,
      zdsSocketPath: config.zdsSocket,
      ...(config.stateFile ? { stateFile: config.stateFile } : {}),
      reportStatus,
      rules: { dnsCapture: config.dnsCapture ?? false },
      onError: (error, context) => log(`error ${context}: ${error.message}`),
    });
  } catch (error) {
    await source.close();
    reporter?.close();
    throw error;
  }
  log(
    `node agent for ${config.node} started: CNI on ${config.cniSocket}, ztunnel on ${config.zdsSocket}, pods from ${config.configDir}`,
  );

  const stop = async (how: 'close' | 'uninstall'): Promise<void> => {
    await source.close();
    if (how === 'uninstall') await agent.uninstall();
    else await agent.close();
    // Let the last reports (the uninstall's removals) reach the control plane, briefly.
    if (reporter) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        reporter.whenIdle(),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, 2_000))),
      ]);
      clearTimeout(timer);
      reporter.close();
    }
  };
  return {
    agent,
    pods,
    reporter,
    close: () => stop('close'),
    uninstall: () => stop('uninstall'),
  };
}
