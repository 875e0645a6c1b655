import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { HboneClientConnection, HboneServer } from '@amesh/hbone-codec/node';
import {
  handleSink,
  type Listening,
  listen,
  payloadChunk,
  selfSignedCertificate,
  sendAll,
} from '../loopback.js';
import { startHaproxyChain } from '../peers/haproxy-chain.js';
import { cpuSeconds, stop } from '../peers/processes.js';
import type { Contender, Sample, Scenario } from '../runner.js';

const TOTAL = Number(process.env.AMESH_BENCH_BYTES ?? 256 * 1024 * 1024);

/**
 * L4-bulk: one long TCP stream through a tunnel of two proxies,
 * client → entry proxy → TLS 1.3 → exit proxy → sink, on loopback. The
 * proxies of every contender run in their own process with one thread (like
 * a ztunnel, and like HAProxy with nbthread 1); the bench process is only
 * the client and the sink. The contenders differ only in the tunnel: amesh
 * HBONE (HTTP/2 CONNECT over TLS, sans-IO codec), a node:http2 CONNECT
 * tunnel, a plain Node TLS tunnel (no HTTP/2), and HAProxy TLS-to-TLS.
 */
export default function hboneL4Bulk(): Scenario {
  const { key, cert } = selfSignedCertificate();
  const chunk = payloadChunk();

  /** Throughput, and the proxy process's CPU (user + system, all its threads) per GiB moved. */
  const measured = async (connect: () => net.Socket, proxyPid: number | undefined): Promise<Sample> => {
    const cpu = cpuSeconds(proxyPid);
    const start = process.hrtime.bigint();
    const answer = await sendAll(connect(), chunk, TOTAL);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return {
      values: {
        throughput: (TOTAL * 8) / seconds / 1e9,
        cpu: (cpuSeconds(proxyPid) - cpu) / (TOTAL / 2 ** 30),
      },
      fingerprint: answer,
    };
  };
  const sinkServer = () => listen(net.createServer({ allowHalfOpen: true }, handleSink));

  const nodeChild = (name: string, kind: ChildKind): Contender => ({
    name,
    async start() {
      const sink = await sinkServer();
      const dir = mkdtempSync(join(tmpdir(), 'amesh-bench-hbone-'));
      writeFileSync(join(dir, 'key.pem'), key);
      writeFileSync(join(dir, 'cert.pem'), cert);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url), CHILD_FLAG, kind, String(sink.port), dir],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const entryPort = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (d: string) => {
          out += d;
          const line = /^(\d+)\n/.exec(out);
          if (line) resolve(Number(line[1]));
        });
        child.once('exit', (code) => reject(new Error(`${name} proxy exited with ${code}`)));
      }).catch(async (error: unknown) => {
        rmSync(dir, { recursive: true, force: true });
        await sink.close();
        throw error;
      });
      return {
        round: () =>
          measured(() => net.connect({ port: entryPort, host: '127.0.0.1', allowHalfOpen: true }), child.pid),
        close: async () => {
          await stop(child);
          rmSync(dir, { recursive: true, force: true });
          await sink.close();
        },
      };
    },
  });

  const haproxy: Contender = {
    name: 'haproxy',
    async start() {
      const sink = await sinkServer();
      const chain = await startHaproxyChain({ cert, key, sinkHost: '127.0.0.1', sinkPort: sink.port }).catch(
        async (error: unknown) => {
          await sink.close();
          throw error;
        },
      );
      return {
        round: () =>
          measured(
            () => net.connect({ port: chain.entryPort, host: '127.0.0.1', allowHalfOpen: true }),
            chain.pid,
          ),
        close: async () => {
          await chain.close();
          await sink.close();
        },
      };
    },
  };

  return {
    name: 'hbone-l4-bulk',
    description: `one ${TOTAL / 2 ** 20} MiB TCP stream, client → entry proxy → TLS 1.3 → exit proxy → sink; proxies in one single-threaded process per contender`,
    metrics: [
      { name: 'throughput', unit: 'Gbit/s', better: 'higher' },
      { name: 'cpu', unit: 'proxy CPU s/GiB', better: 'lower' },
    ],
    contenders: [
      nodeChild('amesh-hbone', 'amesh'),
      nodeChild('node-http2', 'http2'),
      nodeChild('node-tls', 'tls'),
      haproxy,
    ],
    defaultRounds: 5,
  };
}

type ChildKind = 'amesh' | 'http2' | 'tls';
const CHILD_FLAG = '--amesh-hbone-bench-proxy';

/** The proxy process: entry (plain TCP) and exit (TLS) of one contender; prints the entry port. */
async function runProxy(kind: ChildKind, sinkPort: number, dir: string): Promise<void> {
  const key = readFileSync(join(dir, 'key.pem'));
  const cert = readFileSync(join(dir, 'cert.pem'));
  const tlsServer: tls.TlsOptions = {
    allowHalfOpen: true,
    key,
    cert,
    minVersion: 'TLSv1.3',
    ciphers: 'TLS_AES_128_GCM_SHA256',
    ALPNProtocols: kind === 'tls' ? [] : ['h2'],
  };
  const tlsClient: tls.ConnectionOptions = {
    ca: cert,
    servername: 'amesh-bench',
    minVersion: 'TLSv1.3',
    ...(kind === 'tls' ? {} : { ALPNProtocols: ['h2'] }),
  };
  let entry: Listening;
  if (kind === 'amesh') {
    const hbone = new HboneServer({
      checkAuthorityIp: false,
      handler: (t) => {
        const upstream = net.connect({
          port: t.request.authority.port,
          host: t.request.authority.host,
          allowHalfOpen: true,
        });
        upstream.once('connect', () => pipeBoth(t.accept(), upstream));
        upstream.once('error', () => t.reject(503));
      },
    });
    const exit = await listen(tls.createServer(tlsServer, (s) => hbone.handle(s)));
    const client = new HboneClientConnection(await secureConnect(exit.port, tlsClient));
    entry = await listen(
      net.createServer({ allowHalfOpen: true }, (inbound) => {
        inbound.pause();
        client.open({ authority: `127.0.0.1:${sinkPort}` }).then(
          (tunnel) => {
            pipeBoth(inbound, tunnel);
            inbound.resume();
          },
          () => inbound.destroy(),
        );
      }),
    );
  } else if (kind === 'http2') {
    const server = http2.createSecureServer({ ...tlsServer });
    // TCP_NODELAY on every tunnel socket, as amesh sets it: the same socket options for all.
    server.on('secureConnection', (s: tls.TLSSocket) => s.setNoDelay(true));
    server.on('stream', (stream, headers) => {
      const [host, port] = String(headers[':authority']).split(':');
      const upstream = net.connect({ port: Number(port), host, allowHalfOpen: true }, () => {
        stream.respond({ ':status': 200 });
        pipeBoth(stream, upstream);
      });
      upstream.on('error', () => stream.close());
    });
    const exit = await listen(server);
    // Same windows as ztunnel, so the comparison is about the implementation, not the settings.
    const session = http2.connect(`https://127.0.0.1:${exit.port}`, {
      ...tlsClient,
      settings: { initialWindowSize: 4 * 1024 * 1024, maxFrameSize: 1024 * 1024 },
    });
    await new Promise((resolve, reject) => {
      session.once('connect', (_s, socket) => {
        (socket as net.Socket).setNoDelay(true);
        resolve(undefined);
      });
      session.once('error', reject);
    });
    session.setLocalWindowSize(16 * 1024 * 1024);
    entry = await listen(
      net.createServer({ allowHalfOpen: true }, (inbound) => {
        const stream = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${sinkPort}` });
        pipeBoth(inbound, stream);
      }),
    );
  } else {
    const exit = await listen(
      tls.createServer(tlsServer, (inbound) => {
        inbound.setNoDelay(true);
        pipeBoth(inbound, net.connect({ port: sinkPort, host: '127.0.0.1', allowHalfOpen: true }));
      }),
    );
    entry = await listen(
      net.createServer({ allowHalfOpen: true }, (inbound) => {
        const upstream = tls.connect({
          ...tlsClient,
          port: exit.port,
          host: '127.0.0.1',
          allowHalfOpen: true,
        } as tls.ConnectionOptions);
        upstream.setNoDelay(true);
        pipeBoth(inbound, upstream);
      }),
    );
  }
  process.stdout.write(`${entry.port}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[2] === CHILD_FLAG) {
  await runProxy(process.argv[3] as ChildKind, Number(process.argv[4]), process.argv[5]!);
}

function pipeBoth(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
}

function secureConnect(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...options, port, host: '127.0.0.1' });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}
