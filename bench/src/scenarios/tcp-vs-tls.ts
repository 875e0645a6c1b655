import net from 'node:net';
import tls from 'node:tls';
import {
  handleSink,
  type Listening,
  listen,
  payloadChunk,
  selfSignedCertificate,
  sendAll,
} from '../loopback.js';
import type { Contender, ContenderInstance, Sample, Scenario } from '../runner.js';

const TOTAL = Number(process.env.AMESH_BENCH_BYTES ?? 256 * 1024 * 1024);

/**
 * One bulk TCP stream over loopback, direct, over TLS 1.3, and through a
 * plain → TLS → plain tunnel of two Node proxies (the shape of an mTLS
 * overlay without HTTP/2). Proves the runner; the ceiling for later tunnels.
 */
export default function tcpVsTls(): Scenario {
  const { key, cert } = selfSignedCertificate();
  const tlsServerOptions: tls.TlsOptions = {
    allowHalfOpen: true,
    key,
    cert,
    minVersion: 'TLSv1.3',
    ciphers: 'TLS_AES_128_GCM_SHA256',
  };
  const tlsClientOptions = {
    allowHalfOpen: true,
    ca: cert,
    servername: 'amesh-bench',
    minVersion: 'TLSv1.3' as const,
  };
  const chunk = payloadChunk();

  const measured = async (connect: () => net.Socket): Promise<Sample> => {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    const answer = await sendAll(connect(), chunk, TOTAL);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const used = process.cpuUsage(cpu);
    return {
      values: {
        throughput: (TOTAL * 8) / seconds / 1e9,
        cpu: (used.user + used.system) / 1e6 / (TOTAL / 2 ** 30),
      },
      fingerprint: answer,
    };
  };

  const instance = (servers: Listening[], connect: () => net.Socket): ContenderInstance => ({
    round: () => measured(connect),
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
    },
  });

  const direct: Contender = {
    name: 'tcp',
    async start() {
      const sink = await listen(net.createServer({ allowHalfOpen: true }, handleSink));
      return instance([sink], () => net.connect({ port: sink.port, host: '127.0.0.1', allowHalfOpen: true }));
    },
  };

  const directTls: Contender = {
    name: 'tls',
    async start() {
      const sink = await listen(tls.createServer(tlsServerOptions, handleSink));
      return instance([sink], () => tls.connect({ ...tlsClientOptions, port: sink.port, host: '127.0.0.1' }));
    },
  };

  const tunnel: Contender = {
    name: 'tls-tunnel',
    async start() {
      const sink = await listen(net.createServer({ allowHalfOpen: true }, handleSink));
      const exit = await listen(
        tls.createServer(tlsServerOptions, (inbound) => {
          const upstream = net.connect({ port: sink.port, host: '127.0.0.1', allowHalfOpen: true });
          pipeBoth(inbound, upstream);
        }),
      );
      const entry = await listen(
        net.createServer({ allowHalfOpen: true }, (inbound) => {
          const upstream = tls.connect({ ...tlsClientOptions, port: exit.port, host: '127.0.0.1' });
          pipeBoth(inbound, upstream);
        }),
      );
      return instance([entry, exit, sink], () =>
        net.connect({ port: entry.port, host: '127.0.0.1', allowHalfOpen: true }),
      );
    },
  };

  return {
    name: 'tcp-vs-tls',
    description: `one ${TOTAL / 2 ** 20} MiB TCP stream over loopback: direct, TLS 1.3, and a plain→TLS→plain Node tunnel`,
    metrics: [
      { name: 'throughput', unit: 'Gbit/s', better: 'higher' },
      { name: 'cpu', unit: 'CPU s/GiB', better: 'lower' },
    ],
    contenders: [direct, directTls, tunnel],
    defaultRounds: 5,
  };
}

function pipeBoth(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
}
