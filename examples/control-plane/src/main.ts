#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { ConfigSource } from '@amesh/mesh-config';
import { analyzeDirectory } from './analyze-directory.js';
import type { PodAnnotationWriter } from './redirection-status.js';
import { startControlPlane } from './run-control-plane.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    source: { type: 'string', default: 'directory' },
    config: { type: 'string', default: './mesh' },
    kubeconfig: { type: 'string' },
    'ca-dir': { type: 'string' },
    'state-dir': { type: 'string' },
    grpc: { type: 'string', default: '127.0.0.1:15010' },
    'grpc-tls': { type: 'string' },
    'root-cert-out': { type: 'string' },
    'http-host': { type: 'string', default: '127.0.0.1' },
    'http-port': { type: 'string', default: '15014' },
    'trust-domain': { type: 'string', default: 'cluster.local' },
    'cluster-id': { type: 'string', default: 'Kubernetes' },
    'node-token': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
});

const command = positionals[0] ?? 'serve';
if (
  values.help ||
  (command !== 'serve' && command !== 'analyze') ||
  (values.source !== 'directory' && values.source !== 'kubernetes')
) {
  console.error(`usage: amesh-control-plane [serve] [--source directory] --config DIR
       amesh-control-plane [serve] --source kubernetes [--kubeconfig FILE]   (default: $KUBECONFIG, then in-cluster)
         [--ca-dir DIR] [--state-dir DIR] [--grpc HOST:PORT] [--grpc-tls HOST:PORT --root-cert-out FILE]
         [--http-host IP] [--http-port 15014] [--node-token TOKEN=NODE ...] [--trust-domain cluster.local]
       amesh-control-plane analyze --config DIR`);
  process.exit(values.help ? 0 : 2);
}

if (command === 'analyze') {
  if (values.source !== 'directory') {
    console.error('amesh-control-plane analyze reads a config directory only (--config DIR)');
    process.exit(2);
  }
  const lines = await analyzeDirectory(values.config);
  for (const line of lines) console.log(line);
  console.log(lines.length === 0 ? 'no findings' : `${lines.length} findings`);
  process.exit(lines.some((l) => l.startsWith('error')) ? 1 : 0);
}

const nodeTokens: Record<string, string> = {};
for (const pair of values['node-token']) {
  const eq = pair.indexOf('=');
  if (eq <= 0) {
    console.error(`--node-token wants TOKEN=NODE, got ${JSON.stringify(pair)}`);
    process.exit(2);
  }
  nodeTokens[pair.slice(0, eq)] = pair.slice(eq + 1);
}
let source: (ConfigSource & PodAnnotationWriter) | undefined;
if (values.source === 'kubernetes') {
  const { KubernetesSource, loadKubeConfig } = await import('@amesh/mesh-config/node');
  try {
    const kubeConfig = await loadKubeConfig(values.kubeconfig ? { path: values.kubeconfig } : {});
    source = new KubernetesSource({ kubeConfig });
  } catch (error) {
    console.error(`amesh-control-plane: ${(error as Error).message}`);
    process.exit(2);
  }
}
const starting = startControlPlane({
  configDir: values.config,
  // Kubernetes: reports become the pod annotation, as Istio's CNI agent writes it.
  ...(source ? { source, podAnnotations: source } : {}),
  ...(values['ca-dir'] ? { caDir: values['ca-dir'] } : {}),
  ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
  grpcAddress: values.grpc,
  ...(values['grpc-tls'] ? { tlsGrpcAddress: values['grpc-tls'] } : {}),
  ...(values['root-cert-out'] ? { rootCertOut: values['root-cert-out'] } : {}),
  httpHost: values['http-host'],
  httpPort: Number(values['http-port']),
  trustDomain: values['trust-domain'],
  clusterId: values['cluster-id'],
  nodeTokens,
});
const running = await starting.catch((error: Error & { code?: string }) => {
  console.error(`amesh-control-plane: ${error.code ? `${error.code}: ` : ''}${error.message}`);
  return process.exit(1);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    running.close().then(() => process.exit(0));
  });
}
