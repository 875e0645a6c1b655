#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startNodeAgent } from './run-node-agent.js';

const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    config: { type: 'string', default: './mesh' },
    socket: { type: 'string', default: '/var/run/amesh/cni.sock' },
    'zds-socket': { type: 'string', default: '/var/run/amesh/ztunnel.sock' },
    'state-file': { type: 'string', default: '/var/run/amesh/node-agent-state.json' },
    'control-plane': { type: 'string' },
    token: { type: 'string' },
    'status-resync-ms': { type: 'string', default: '30000' },
    'cluster-id': { type: 'string', default: 'Kubernetes' },
    'dns-capture': { type: 'boolean', default: false },
    'uninstall-on-exit': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help || !values.node || (values['control-plane'] !== undefined && !values.token)) {
  console.error(`usage: amesh-cni-agent --node NAME [--config DIR] [--socket PATH] [--zds-socket PATH] [--state-file PATH]
  [--control-plane http://HOST:PORT --token TOKEN] [--status-resync-ms 30000] [--cluster-id Kubernetes] [--dns-capture]
  [--uninstall-on-exit]   on SIGTERM/SIGINT remove every pod's rules (default: keep them for a restart)`);
  process.exit(values.help ? 0 : 2);
}

const running = await startNodeAgent({
  node: values.node,
  configDir: values.config,
  cniSocket: values.socket,
  zdsSocket: values['zds-socket'],
  stateFile: values['state-file'],
  ...(values['control-plane'] ? { controlPlane: values['control-plane'] } : {}),
  ...(values.token ? { token: values.token } : {}),
  statusResyncMs: Number(values['status-resync-ms']),
  clusterId: values['cluster-id'],
  dnsCapture: values['dns-capture'],
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    const uninstall = values['uninstall-on-exit'];
    console.log(
      `${signal}: ${uninstall ? 'uninstalling (removing every pod rule)' : 'stopping (rules kept)'}`,
    );
    (uninstall ? running.uninstall() : running.close()).then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`stop failed: ${error.message}`);
        process.exit(1);
      },
    );
  });
}
