import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  encodeReply,
  parseConnectRequest,
  parseGreeting,
  type ProxyError,
  Socks5Reply,
} from '../src/index.js';
import { acceptSocks5 } from '../src/node/index.js';

const hasCurl = spawnSync('curl', ['--version']).status === 0;

describe('SOCKS5 codec (RFC 1928)', () => {
  const request = Uint8Array.of(5, 1, 0, 3, 11, ...new TextEncoder().encode('example.com'), 0x01, 0xbb);

  it('parses a greeting and a domain CONNECT at every split point', () => {
    const greeting = Uint8Array.of(5, 2, 0x02, 0x00);
    for (let cut = 0; cut < greeting.length; cut++)
      expect(parseGreeting(greeting.subarray(0, cut)).kind).toBe('incomplete');
    expect(parseGreeting(greeting)).toEqual({ kind: 'done', value: { noAuthOffered: true }, consumed: 4 });
    for (let cut = 0; cut < request.length; cut++)
      expect(parseConnectRequest(request.subarray(0, cut)).kind).toBe('incomplete');
    expect(parseConnectRequest(request)).toEqual({
      kind: 'done',
      value: { kind: 'domain', host: 'example.com', port: 443 },
      consumed: request.length,
    });
  });

  it('parses IPv4 and IPv6 destinations', () => {
    expect(parseConnectRequest(Uint8Array.of(5, 1, 0, 1, 10, 0, 0, 7, 0, 80, 99))).toEqual({
      kind: 'done',
      value: { kind: 'ip', host: '10.0.0.7', port: 80 },
      consumed: 10,
    });
    const v6 = Uint8Array.of(5, 1, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1f, 0x90);
    expect(parseConnectRequest(v6)).toMatchObject({
      value: { kind: 'ip', host: 'fd00:0:0:0:0:0:0:1', port: 8080 },
    });
  });

  it('refuses other versions, commands and address types with typed errors', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as ProxyError).code;
      }
      return 'no error';
    };
    expect(codeOf(() => parseGreeting(Uint8Array.of(4, 1, 0)))).toBe('PROXY_ERR_SOCKS_VERSION');
    expect(codeOf(() => parseConnectRequest(Uint8Array.of(5, 2, 0, 1, 1, 2, 3, 4, 0, 80)))).toBe(
      'PROXY_ERR_SOCKS_COMMAND',
    );
    expect(codeOf(() => parseConnectRequest(Uint8Array.of(5, 1, 0, 9, 0, 0)))).toBe(
      'PROXY_ERR_SOCKS_ADDRESS',
    );
    expect(codeOf(() => parseConnectRequest(Uint8Array.of(5, 1, 0, 3, 0, 0, 80)))).toBe(
      'PROXY_ERR_SOCKS_ADDRESS',
    );
    expect(encodeReply(Socks5Reply.CONNECTION_REFUSED)).toEqual(Uint8Array.of(5, 5, 0, 1, 0, 0, 0, 0, 0, 0));
  });
});

describe('acceptSocks5 with real clients', () => {
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  async function socksProxy(
    onRequest: (req: Awaited<ReturnType<typeof acceptSocks5>>, socket: net.Socket) => void,
  ) {
    const errors: Error[] = [];
    const server = net.createServer((socket) => {
      acceptSocks5(socket).then(
        (req) => onRequest(req, socket),
        (e: Error) => errors.push(e),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => server.close());
    return { port: (server.address() as net.AddressInfo).port, errors };
  }

  it.skipIf(!hasCurl)(
    'lets curl --socks5-hostname reach an HTTP server through a CONNECT tunnel',
    async () => {
      const origin = net.createServer((s) => {
        s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello'));
      });
      await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
      closers.push(() => origin.close());
      const originPort = (origin.address() as net.AddressInfo).port;
      const seen: string[] = [];
      const { port } = await socksProxy((req, socket) => {
        seen.push(`${req.destination.kind}:${req.destination.host}:${req.destination.port}`);
        const upstream = net.connect(originPort, '127.0.0.1', () => {
          req.reply(Socks5Reply.SUCCEEDED);
          upstream.write(req.head);
          socket.pipe(upstream).pipe(socket);
        });
      });
      const curl = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const child = spawn('curl', [
          '-sS',
          '--max-time',
          '10',
          '--socks5-hostname',
          `127.0.0.1:${port}`,
          `http://echo.default.svc.cluster.local:${originPort}/`,
        ]);
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d));
        child.on('close', (status: number | null) => resolve({ status, stdout }));
      });
      expect(curl).toEqual({ status: 0, stdout: 'hello' });
      expect(seen).toEqual([`domain:echo.default.svc.cluster.local:${originPort}`]);
    },
  );

  it('answers a refused destination with a SOCKS5 error reply that the client sees', async () => {
    const { port } = await socksProxy((req) => req.reply(Socks5Reply.NOT_ALLOWED));
    const client = net.connect(port, '127.0.0.1');
    client.write(Uint8Array.of(5, 1, 0));
    client.write(Uint8Array.of(5, 1, 0, 1, 10, 0, 0, 7, 0, 80));
    const received: Buffer[] = [];
    await new Promise<void>((resolve) => {
      client.on('data', (d) => received.push(d));
      client.on('end', resolve);
    });
    expect(Buffer.concat(received)).toEqual(Buffer.from([5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0]));
  });

  it('rejects a client that offers only username/password authentication', async () => {
    const { port, errors } = await socksProxy(() => {});
    const client = net.connect(port, '127.0.0.1');
    client.write(Uint8Array.of(5, 1, 2));
    const reply = await new Promise<Buffer>((resolve) => client.once('data', resolve));
    expect(reply).toEqual(Buffer.from([5, 0xff]));
    await new Promise((r) => client.on('close', r));
    expect((errors[0] as ProxyError).code).toBe('PROXY_ERR_SOCKS_METHOD');
  });
});

describe('connectViaSocks5 against our server', () => {
  it('tunnels bytes both ways, with a domain destination and early server data', async () => {
    const seen: string[] = [];
    const server = net.createServer((socket) => {
      acceptSocks5(socket).then((req) => {
        seen.push(`${req.destination.host}:${req.destination.port}`);
        req.reply(Socks5Reply.SUCCEEDED);
        socket.write('greeting\n');
        socket.on('data', (d) => socket.write(d.toString().toUpperCase()));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { connectViaSocks5 } = await import('../src/node/index.js');
      const socket = await connectViaSocks5(
        { host: 'tcp-echo.default.svc.cluster.local', port: 9000 },
        {
          proxyHost: '127.0.0.1',
          proxyPort: (server.address() as net.AddressInfo).port,
          localAddress: '127.0.0.1',
        },
      );
      socket.write('ping');
      let text = '';
      await new Promise<void>((resolve) => {
        socket.on('data', (d) => {
          text += d;
          if (text === 'greeting\nPING') resolve();
        });
      });
      socket.destroy();
      expect(seen).toEqual(['tcp-echo.default.svc.cluster.local:9000']);
    } finally {
      server.close();
    }
  });
});
