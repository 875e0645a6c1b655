#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startZtunnel } from './run-ztunnel.js';

const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    mode: { type: 'string', default: 'local' },
    xds: { type: 'string', default: '127.0.0.1:15010' },
    ca: { type: 'string' },
    token: { type: 'string' },
    'control-plane-roots': { type: 'string' },
    'trust-domain': { type: 'string', default: 'cluster.local' },
    'cluster-id': { type: 'string', default: 'Kubernetes' },
    'admin-host': { type: 'string', default: '127.0.0.1' },
    'admin-port': { type: 'string', default: '15000' },
    'metrics-port': { type: 'string', default: '15020' },
    'ready-port': { type: 'string', default: '15021' },
    socks5: { type: 'string' },
    'cni-socket': { type: 'string', default: '/var/run/amesh/cni.sock' },
    'dns-proxy': { type: 'boolean', default: false },
    'dns-upstream': { type: 'string', multiple: true },
    help: { type: 'boolean', default: false },
  },
});

if (values.help || !values.node || !values.token || (values.mode !== 'local' && values.mode !== 'netns')) {
  console.error(`usage: amesh-ztunnel --node NAME --token TOKEN [--mode local|netns] [--xds HOST:PORT] [--ca HOST:PORT] [--control-plane-roots ROOTS.pem (TLS)]
  [--admin-host IP] [--admin-port 15000] [--metrics-port 15020] [--ready-port 15021]
  [--socks5 HOST:PORT] (local mode) [--cni-socket PATH] (netns mode) [--trust-domain cluster.local]
  [--dns-proxy [--dns-upstream IP[:PORT]]...] (netns mode: DNS proxy on 15053 in each pod; upstreams default to /etc/resolv.conf)`);
  process.exit(values.help ? 0 : 2);
}

const socks5 = values.socks5 ? splitHostPort(values.socks5) : undefined;
const running = await startZtunnel({
  node: values.node,
  mode: values.mode,
  xds: values.xds,
  ...(values.ca ? { ca: values.ca } : {}),
  token: values.token,
  ...(values['control-plane-roots']
    ? { controlPlaneRoots: readFileSync(values['control-plane-roots'], 'utf8') }
    : {}),
  trustDomain: values['trust-domain'],
  clusterId: values['cluster-id'],
  adminHost: values['admin-host'],
  adminPort: Number(values['admin-port']),
  metricsPort: Number(values['metrics-port']),
  readyPort: Number(values['ready-port']),
  ...(socks5 ? { socks5 } : {}),
  ...(values.mode === 'netns' ? { cniSocket: values['cni-socket'] } : {}),
  dnsProxy: values['dns-proxy'],
  ...(values['dns-upstream'] ? { dnsUpstreams: values['dns-upstream'] } : {}),
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`${signal}: draining connections`);
    running.close(5_000).then(() => process.exit(0));
  });
}

function splitHostPort(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  return { host: text.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(text.slice(colon + 1)) };
}
