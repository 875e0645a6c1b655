import http2 from 'node:http2';
import { Duplex } from 'node:stream';
import { crc32 } from 'node:zlib';
import { HboneClientConnection, HboneServer, type HboneTunnel } from '@amesh/hbone-codec/node';
import { payloadChunk } from '../loopback.js';
import type { Contender, Sample, Scenario } from '../runner.js';

const TOTAL = Number(process.env.AMESH_BENCH_BYTES ?? 256 * 1024 * 1024);

/**
 * The HTTP/2 stack alone, without TLS or sockets: one CONNECT tunnel moves
 * the payload between a client and a server session joined by an in-memory
 * Duplex pair, with the same windows (4 MiB stream, 16 MiB connection, 1 MiB
 * frames). amesh (sans-IO codec + Node glue) against node:http2 (nghttp2).
 */
export default function hboneCodec(): Scenario {
  const chunk = payloadChunk();

  const measure = async (
    send: () => Promise<{
      sink: Promise<string>;
      write: (b: Buffer) => boolean;
      end: () => void;
      once: (e: 'drain', f: () => void) => void;
    }>,
  ): Promise<Sample> => {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    const t = await send();
    await new Promise<void>((resolve) => {
      let sent = 0;
      const pump = (): void => {
        while (sent < TOTAL) {
          const n = Math.min(chunk.length, TOTAL - sent);
          sent += n;
          if (!t.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            t.once('drain', pump);
            return;
          }
        }
        t.end();
        resolve();
      };
      pump();
    });
    const fingerprint = await t.sink;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const used = process.cpuUsage(cpu);
    return {
      values: {
        throughput: (TOTAL * 8) / seconds / 1e9,
        cpu: (used.user + used.system) / 1e6 / (TOTAL / 2 ** 30),
      },
      fingerprint,
    };
  };

  const sinkOf = (readable: NodeJS.ReadableStream): Promise<string> =>
    new Promise((resolve, reject) => {
      let bytes = 0;
      let crc = 0;
      readable.on('data', (c: Buffer) => {
        bytes += c.length;
        crc = crc32(c, crc);
      });
      readable.on('end', () => resolve(`${bytes} ${crc.toString(16)}`));
      readable.on('error', reject);
    });

  const amesh: Contender = {
    name: 'amesh-hbone',
    async start() {
      const [a, b] = memoryPair();
      let sink: Promise<string> = Promise.resolve('');
      const server = new HboneServer({
        checkAuthorityIp: false,
        handler: (t) => {
          const tunnel = t.accept();
          sink = sinkOf(tunnel);
          tunnel.resume();
        },
      });
      server.handle(b);
      const client = new HboneClientConnection(a);
      return {
        round: () =>
          measure(async () => {
            const tunnel: HboneTunnel = await client.open({ authority: '127.0.0.1:80' });
            return {
              get sink() {
                return sink;
              },
              write: (x) => tunnel.write(x),
              end: () => tunnel.end(),
              once: (e, f) => tunnel.once(e, f),
            };
          }),
        close: async () => {
          client.destroy();
          server.destroy();
        },
      };
    },
  };

  const node: Contender = {
    name: 'node-http2',
    async start() {
      const [a, b] = memoryPair();
      let sink: Promise<string> = Promise.resolve('');
      const server = http2.createServer({
        settings: { initialWindowSize: 4 * 1024 * 1024, maxFrameSize: 1024 * 1024 },
      });
      server.on('session', (s) => s.setLocalWindowSize(16 * 1024 * 1024));
      server.on('stream', (stream) => {
        stream.respond({ ':status': 200 });
        sink = sinkOf(stream);
      });
      server.emit('connection', b);
      const session = http2.connect('http://memory', {
        createConnection: () => a as never,
        settings: { initialWindowSize: 4 * 1024 * 1024, maxFrameSize: 1024 * 1024 },
      });
      session.on('connect', () => session.setLocalWindowSize(16 * 1024 * 1024));
      return {
        round: () =>
          measure(async () => {
            const stream = session.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:80' });
            await new Promise((r) => stream.once('response', r));
            return {
              get sink() {
                return sink;
              },
              write: (x) => stream.write(x),
              end: () => stream.end(),
              once: (e, f) => stream.once(e, f),
            };
          }),
        close: async () => {
          session.destroy();
          server.close();
        },
      };
    },
  };

  return {
    name: 'hbone-codec',
    description: `one CONNECT tunnel moving ${TOTAL / 2 ** 20} MiB over an in-memory Duplex pair (no TLS, no sockets): the HTTP/2 stack alone`,
    metrics: [
      { name: 'throughput', unit: 'Gbit/s', better: 'higher' },
      { name: 'cpu', unit: 'CPU s/GiB', better: 'lower' },
    ],
    contenders: [amesh, node],
    defaultRounds: 5,
  };
}

/** Two Duplex ends: what one writes, the other reads (asynchronously, with backpressure). */
function memoryPair(): [Duplex, Duplex] {
  const make = (): Duplex & { peer?: Duplex; pending?: (() => void) | undefined } => {
    const d: Duplex & { peer?: Duplex; pending?: (() => void) | undefined } = new Duplex({
      allowHalfOpen: true,
      highWaterMark: 256 * 1024,
      read() {
        const cb = d.pending;
        d.pending = undefined;
        cb?.();
      },
      write(chunk: Buffer, _enc, callback) {
        const peer = d.peer as Duplex & { pending?: (() => void) | undefined };
        if (peer.push(chunk)) setImmediate(callback);
        else peer.pending = () => callback();
      },
      final(callback) {
        d.peer!.push(null);
        callback();
      },
    });
    return d;
  };
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
