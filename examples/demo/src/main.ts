#!/usr/bin/env node
/**
 * The one-command amesh demo (`npm start`): a control plane reading
 * `config/`, two ztunnels (node1, node2) in local mode, sample apps on pod
 * IPs of the loopback network, traffic through the mesh, and a summary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectViaSocks5 } from '@amesh/l4-proxy/node';
import { type App, httpEcho, tcpGreeter } from './apps.js';

const here = dirname(fileURLToPath(import.meta.url));
const examples = join(here, '..', '..');
const configDir = process.env.AMESH_DEMO_CONFIG ?? join(here, '..', 'config');

const CONTROL_PLANE = { host: '127.0.5.1', grpc: 15010, http: 15014 };
const NODES = [
  { name: 'node1', host: '127.0.10.1', token: 'demo-token-node1' },
  { name: 'node2', host: '127.0.20.1', token: 'demo-token-node2' },
] as const;
const PODS = {
  sleep: { ip: '127.0.10.10', node: 0, identity: 'spiffe://cluster.local/ns/demo/sa/sleep' },
  echoNode2: { ip: '127.0.20.10', node: 1 },
  echoNode1: { ip: '127.0.10.11', node: 0, identity: 'spiffe://cluster.local/ns/demo/sa/echo' },
  greeter: { ip: '127.0.20.11', node: 1 },
  intruder: { ip: '127.0.10.12', node: 0, identity: 'spiffe://cluster.local/ns/outside/sa/intruder' },
} as const;

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[];
}

const procs: Proc[] = [];
const apps: App[] = [];
const verbose = process.argv.includes('--verbose');

function start(name: string, script: string, args: string[]): Proc {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = { name, child, lines: [] };
  const onText = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (line === '') continue;
      proc.lines.push(line);
      if (verbose) console.log(`  [${name}] ${line}`);
    }
  };
  child.stdout?.on('data', onText);
  child.stderr?.on('data', onText);
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM' && !stopping) {
      console.error(`${name} exited (${code ?? signal}):\n${proc.lines.slice(-20).join('\n')}`);
    }
  });
  procs.push(proc);
  return proc;
}

async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

function httpText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

function viaMesh(fromIp: string, node: number, host: string, port: number): Promise<net.Socket> {
  return connectViaSocks5(
    { host, port },
    { proxyHost: NODES[node]!.host, proxyPort: 15080, localAddress: fromIp },
  );
}

/** An HTTP GET through the mesh, from a pod. */
async function meshGet(from: { ip: string; node: number }, host: string, path: string): Promise<string> {
  const socket = await viaMesh(from.ip, from.node, host, 80);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, path, createConnection: () => socket, headers: { connection: 'close' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve(text));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A server-speaks-first exchange through the mesh: read the greeting, send a line, read it back. */
async function meshGreet(from: { ip: string; node: number }, host: string): Promise<string> {
  const socket = await viaMesh(from.ip, from.node, host, 9000);
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      if (text.includes('\n') && !text.includes('PING')) socket.write('ping\n');
      if (text.includes('PING\n')) socket.end();
    });
    socket.on('end', () => resolve(text.trim().replace(/\n/g, ' | ')));
    socket.on('error', reject);
  });
}

interface Outcome {
  readonly scenario: string;
  readonly expect: 'allowed' | 'denied';
  readonly got: 'allowed' | 'denied';
  readonly detail: string;
}

async function attempt(
  scenario: string,
  expected: 'allowed' | 'denied',
  run: () => Promise<string>,
): Promise<Outcome> {
  try {
    const detail = await run();
    return { scenario, expect: expected, got: 'allowed', detail };
  } catch (error) {
    return { scenario, expect: expected, got: 'denied', detail: (error as Error).message };
  }
}

let stopping = false;
async function shutdown(): Promise<void> {
  stopping = true;
  await Promise.allSettled(apps.map((a) => a.close()));
  for (const p of procs) p.child.kill('SIGTERM');
  await Promise.all(
    procs.map(
      (p) =>
        new Promise((resolve) => (p.child.exitCode !== null ? resolve(null) : p.child.once('exit', resolve))),
    ),
  );
}

async function main(): Promise<number> {
  console.log(
    'amesh demo: a control plane, two ztunnels (local mode, no root) and sample apps on loopback\n',
  );
  start('control-plane', join(examples, 'control-plane', 'dist', 'main.js'), [
    '--config',
    configDir,
    '--grpc',
    `${CONTROL_PLANE.host}:${CONTROL_PLANE.grpc}`,
    '--http-host',
    CONTROL_PLANE.host,
    '--http-port',
    String(CONTROL_PLANE.http),
    ...NODES.flatMap((n) => ['--node-token', `${n.token}=${n.name}`]),
  ]);
  await waitFor(
    'the control plane',
    async () => (await httpStatus(`http://${CONTROL_PLANE.host}:${CONTROL_PLANE.http}/ready`)) === 200,
  );
  console.log(
    `✓ control plane ready: xDS + CA on ${CONTROL_PLANE.host}:${CONTROL_PLANE.grpc}, config from ${configDir}`,
  );

  for (const node of NODES) {
    start(`ztunnel-${node.name}`, join(examples, 'ztunnel', 'dist', 'main.js'), [
      '--node',
      node.name,
      '--token',
      node.token,
      '--xds',
      `${CONTROL_PLANE.host}:${CONTROL_PLANE.grpc}`,
      '--admin-host',
      node.host,
    ]);
  }
  for (const node of NODES) {
    await waitFor(
      `ztunnel ${node.name}`,
      async () => (await httpStatus(`http://${node.host}:15021/healthz/ready`)) === 200,
    );
  }
  console.log(
    `✓ ztunnels ready: ${NODES.map((n) => `${n.name} (SOCKS5 ${n.host}:15080, metrics :15020, admin :15000)`).join(', ')}`,
  );

  apps.push(await httpEcho('echo-node2', PODS.echoNode2.ip, 8080));
  apps.push(await httpEcho('echo-node1', PODS.echoNode1.ip, 8080));
  apps.push(await tcpGreeter('greeter', PODS.greeter.ip, 9000));
  console.log(`✓ apps up: ${apps.map((a) => `${a.name} ${a.address}`).join(', ')}`);
  // Wait until each ztunnel serves its pods' HBONE listeners (certificates fetched from the CA).
  await waitFor('pods served', async () => {
    const dumps = await Promise.all(NODES.map((n) => httpText(`http://${n.host}:15000/config_dump`)));
    return dumps.every((d) => (JSON.parse(d) as { pods: unknown[] }).pods.length >= 2);
  });
  console.log('');

  const outcomes: Outcome[] = [];
  for (let i = 0; i < 4; i++) {
    outcomes.push(
      await attempt('sleep → echo (HTTP, service VIP)', 'allowed', async () => {
        const reply = JSON.parse(await meshGet(PODS.sleep, 'echo.demo.svc.cluster.local', `/hello/${i}`)) as {
          pod: string;
        };
        return `answered by ${reply.pod}`;
      }),
    );
  }
  outcomes.push(
    await attempt('sleep → greeter (TCP, server speaks first)', 'allowed', () =>
      meshGreet(PODS.sleep, 'greeter.demo.svc.cluster.local'),
    ),
  );
  outcomes.push(
    await attempt('intruder → echo (DENY policy deny-outside)', 'denied', () =>
      meshGet(PODS.intruder, 'echo.demo.svc.cluster.local', '/steal'),
    ),
  );
  outcomes.push(
    await attempt('intruder → greeter (DENY policy deny-outside)', 'denied', () =>
      meshGreet(PODS.intruder, 'greeter.demo.svc.cluster.local'),
    ),
  );
  outcomes.push(
    await attempt('echo → greeter (ALLOW policy admits only sleep)', 'denied', () =>
      meshGreet(PODS.echoNode1, 'greeter.demo.svc.cluster.local'),
    ),
  );

  console.log('What happened:');
  for (const o of outcomes) {
    const mark = o.got === o.expect ? '✓' : '✗';
    console.log(`  ${mark} ${o.scenario.padEnd(50)} ${o.got.padEnd(8)} ${o.detail}`);
  }

  // The destination ztunnels' connection logs: who talked to whom, with which identities, how many bytes.
  await new Promise((r) => setTimeout(r, 300));
  console.log('\nConnection log at the destinations (identities are from the mTLS certificates):');
  for (const p of procs.filter((p) => p.name.startsWith('ztunnel'))) {
    for (const line of p.lines.filter((l) => l.includes('direction="inbound"'))) {
      const field = (name: string): string =>
        new RegExp(`${name.replace('.', '\\.')}="?([^" ]+)"?`).exec(line)?.[1] ?? '-';
      const error = /error="([^"]+)"/.exec(line)?.[1];
      console.log(
        `  ${p.name.replace('ztunnel-', '')}: ${field('src.identity')} → ${field('dst.identity')} ${
          error
            ? `DENIED (${error.replace(/^policy rejection: /, '')})`
            : `allowed, ${field('bytes_recv')} B in, ${field('bytes_sent')} B out`
        }`,
      );
    }
  }

  console.log('\nMetrics (istio_tcp_connections_opened_total, reporter="destination"):');
  for (const node of NODES) {
    const text = await httpText(`http://${node.host}:15020/metrics`);
    for (const line of text.split('\n')) {
      if (!line.startsWith('istio_tcp_connections_opened_total{reporter="destination"')) continue;
      const label = (name: string): string => new RegExp(`${name}="([^"]*)"`).exec(line)?.[1] ?? '';
      console.log(
        `  ${node.name}: ${label('source_workload')} → ${label('destination_workload')} flags=${label('response_flags')} security=${label('connection_security_policy')} count=${line.split(' ').pop()}`,
      );
    }
  }
  const failures = outcomes.filter((o) => o.got !== o.expect);
  console.log(
    failures.length === 0
      ? '\nAll traffic behaved as the policies say. Try it yourself while the demo runs with --keep.'
      : `\n${failures.length} outcome(s) differ from what the policies say.`,
  );
  return failures.length === 0 ? 0 : 1;
}

const keep = process.argv.includes('--keep');
main()
  .then(async (code) => {
    if (keep) {
      console.log(
        `\nKeeping the mesh up (Ctrl-C to stop). For example:\n  curl --interface ${PODS.sleep.ip} --socks5-hostname ${NODES[0].host}:15080 http://echo.demo.svc.cluster.local/\n  curl http://${NODES[1].host}:15020/metrics\n  curl http://${NODES[0].host}:15000/config_dump`,
      );
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    await shutdown();
    process.exit(code);
  })
  .catch(async (error: Error) => {
    console.error(`demo failed: ${error.message}`);
    for (const p of procs) console.error(`--- ${p.name} (last lines)\n${p.lines.slice(-10).join('\n')}`);
    await shutdown();
    process.exit(1);
  });
