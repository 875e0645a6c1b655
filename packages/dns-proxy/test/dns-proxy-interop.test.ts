/**
 * Interop with an independent client: Node's dns.promises.Resolver (c-ares)
 * resolves through DnsProxy over UDP and TCP; unknown names go to a test
 * upstream and come back.
 */
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DnsMessage } from '../src/index.js';
import {
  DnsNameTable,
  DnsRcode,
  DnsTcpFrameDecoder,
  DnsType,
  encodeDnsMessage,
  frameDnsTcpMessage,
  parseDnsMessage,
} from '../src/index.js';
import type { DnsProxyLogEvent, DnsProxyOptions, DnsQueryEvent } from '../src/node/index.js';
import { DnsProxy } from '../src/node/index.js';
import type { FakeUpstream } from './fake-upstream.js';
import { startFakeUpstream } from './fake-upstream.js';
import { query } from './helpers.js';

const MANY = Array.from({ length: 300 }, (_, i) => `10.200.${i >> 8}.${i & 0xff}`);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  proxy: DnsProxy;
  port: number;
  upstream: FakeUpstream;
  logs: DnsProxyLogEvent[];
  resolver: Resolver;
}

async function setup(options: Partial<DnsProxyOptions> = {}): Promise<Setup> {
  const upstream = await startFakeUpstream({
    'upstream.example': { addresses: ['192.0.2.1', '2001:db8::1'] },
    'missing.example': 'nxdomain',
    'silent.example': 'silent',
    'big.example': { addresses: MANY, truncateUdp: true },
  });
  cleanups.push(() => upstream.close());
  const table = new DnsNameTable([
    { hostname: 'echo.demo.svc.cluster.local', namespace: 'demo', addresses: ['10.96.0.10', 'fd00::a'] },
    { hostname: 'many.demo.svc.cluster.local', namespace: 'demo', addresses: MANY },
    { hostname: 'mid.demo.svc.cluster.local', namespace: 'demo', addresses: MANY.slice(0, 100) },
  ]);
  const logs: DnsProxyLogEvent[] = [];
  const proxy = new DnsProxy({
    table,
    upstreams: [`127.0.0.1:${upstream.port}`],
    clientNamespace: 'demo',
    // Generous for loaded CI: a spurious timeout would send a second upstream query.
    upstreamTimeoutMs: 1500,
    log: (e) => logs.push(e),
    ...options,
  });
  cleanups.push(() => proxy.close());
  const { udp, tcp } = await proxy.listen({ host: '127.0.0.1', port: 0 });
  expect(udp?.port).toBe(tcp?.port);
  const port = udp?.port as number;
  const resolver = new Resolver({ timeout: 5000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  cleanups.push(() => resolver.cancel());
  return { proxy, port, upstream, logs, resolver };
}

/** One UDP exchange with the proxy; resolves to the reply bytes. */
async function udpExchange(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const socket = dgram.createSocket('udp4');
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return new Promise((resolve) => {
    socket.once('message', (msg) => resolve(msg));
    socket.send(bytes, port, '127.0.0.1');
  });
}

/** A raw DNS-over-TCP client: send frames, collect `count` replies. */
async function tcpExchange(port: number, frames: Uint8Array[], count: number): Promise<DnsMessage[]> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => void socket.destroy());
  const decoder = new DnsTcpFrameDecoder();
  const replies: DnsMessage[] = [];
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      for (const m of decoder.push(chunk)) replies.push(parseDnsMessage(m));
      if (replies.length >= count) resolve(replies);
    });
    socket.write(Buffer.concat(frames.map((f) => frameDnsTcpMessage(f))));
  });
}

describe('DnsProxy with c-ares (node:dns Resolver) over UDP', () => {
  it('resolves A and AAAA of a service and of its search-domain aliases', async () => {
    const { resolver, proxy, upstream } = await setup();
    expect(await resolver.resolve4('echo.demo.svc.cluster.local')).toEqual(['10.96.0.10']);
    expect(await resolver.resolve6('echo.demo.svc.cluster.local')).toEqual(['fd00::a']);
    for (const alias of ['echo.demo', 'echo.demo.svc', 'echo', 'ECHO.Demo']) {
      expect(await resolver.resolve4(alias), alias).toEqual(['10.96.0.10']);
    }
    expect(await resolver.resolve4('echo.demo', { ttl: true })).toEqual([{ address: '10.96.0.10', ttl: 30 }]);
    expect(upstream.seen.udp).toEqual([]);
    expect(proxy.metrics).toMatchObject({ queries: 7, answered: 7, forwarded: 0 });
  });

  it('forwards an unknown name to the upstream and returns its answer', async () => {
    const { resolver, proxy, upstream } = await setup();
    expect(await resolver.resolve4('upstream.example')).toEqual(['192.0.2.1']);
    expect(await resolver.resolve6('upstream.example')).toEqual(['2001:db8::1']);
    expect(upstream.seen.udp.map((q) => q.questions[0]?.name)).toEqual([
      'upstream.example',
      'upstream.example',
    ]);
    expect(proxy.metrics).toMatchObject({ forwarded: 2, failed: 0 });
  });

  it('reports each query to onQuery: answered, forwarded with its upstream time, failed', async () => {
    const events: DnsQueryEvent[] = [];
    const { resolver } = await setup({ upstreamTimeoutMs: 300, onQuery: (e) => events.push(e) });
    await resolver.resolve4('echo.demo.svc.cluster.local');
    await resolver.resolve6('upstream.example');
    await expect(resolver.resolve4('silent.example')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    expect(events.map((e) => [e.type, e.outcome, e.remote.transport])).toEqual([
      [DnsType.A, 'answered', 'udp'],
      [DnsType.AAAA, 'forwarded', 'udp'],
      [DnsType.A, 'failed', 'udp'],
    ]);
    expect(events[0]?.upstreamMs).toBeUndefined();
    expect(events[1]?.upstreamMs).toBeGreaterThanOrEqual(0);
    expect(events[2]?.upstreamMs).toBeGreaterThanOrEqual(300);
  });

  it('passes NXDOMAIN from the upstream through', async () => {
    const { resolver } = await setup();
    await expect(resolver.resolve4('missing.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('answers SERVFAIL when the upstream never answers (one retry)', async () => {
    const { resolver, proxy, upstream, logs } = await setup({ upstreamTimeoutMs: 300 });
    await expect(resolver.resolve4('silent.example')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    expect(upstream.seen.udp).toHaveLength(2);
    expect(proxy.metrics).toMatchObject({ forwarded: 1, failed: 1 });
    expect(logs.some((l) => l.event === 'upstream-failed')).toBe(true);
  });

  it('retries on the next upstream when the first one is silent', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    const got: Uint8Array[] = [];
    silent.on('message', (m) => got.push(m));
    const first = await setup();
    const upstreams = [`127.0.0.1:${silent.address().port}`, `127.0.0.1:${first.upstream.port}`];
    const { resolver } = await setup({ upstreams, upstreamTimeoutMs: 500 });
    expect(await resolver.resolve4('upstream.example')).toEqual(['192.0.2.1']);
    expect(got).toHaveLength(1); // the first attempt went to the silent upstream
  });
});

describe('DnsProxy upstream socket factories (netns mode)', () => {
  it('makes every upstream UDP socket and TCP connection through the given factories', async () => {
    const made: string[] = [];
    const { resolver, port } = await setup({
      createUpstreamUdpSocket: (upstream) => {
        made.push(`udp ${upstream.address}:${upstream.port}`);
        return dgram.createSocket('udp4');
      },
      connectUpstreamTcp: (upstream) => {
        made.push(`tcp ${upstream.address}:${upstream.port}`);
        return net.connect(upstream.port, upstream.address);
      },
    });
    expect(await resolver.resolve4('upstream.example')).toEqual(['192.0.2.1']);
    const [reply] = await tcpExchange(port, [encodeDnsMessage(query('upstream.example', DnsType.AAAA))], 1);
    expect(reply?.answers).toEqual([expect.objectContaining({ address: '2001:db8::1' })]);
    expect(made.map((m) => m.split(' ')[0])).toEqual(['udp', 'tcp']);
  });

  it('answers SERVFAIL when the factory throws', async () => {
    const { resolver, proxy } = await setup({
      createUpstreamUdpSocket: () => {
        throw new Error('netns gone');
      },
    });
    await expect(resolver.resolve4('upstream.example')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    expect(proxy.metrics.failed).toBe(1);
  });
});

describe('DnsProxy over TCP (RFC 1035 §4.2.2, RFC 7766)', () => {
  it('c-ares retries a truncated table answer over TCP and gets every address', async () => {
    const { resolver, proxy } = await setup();
    const addresses = await resolver.resolve4('many.demo.svc.cluster.local');
    expect(addresses.sort()).toEqual([...MANY].sort());
    expect(proxy.metrics.queries).toBe(2); // UDP (TC) then TCP
  });

  it('passes a truncated upstream UDP reply on, and c-ares gets the full answer over TCP via the proxy', async () => {
    const { resolver, upstream } = await setup();
    const addresses = await resolver.resolve4('big.example');
    expect(addresses).toHaveLength(MANY.length);
    expect(upstream.seen.udp).toHaveLength(1);
    expect(upstream.seen.tcp).toHaveLength(1);
  });

  it('answers several pipelined queries on one connection, from the table and from upstream over TCP', async () => {
    const { port, upstream } = await setup();
    const a = encodeDnsMessage({ ...query('echo.demo', DnsType.A), id: 1 });
    const b = encodeDnsMessage({ ...query('upstream.example', DnsType.A), id: 2 });
    const c = encodeDnsMessage({ ...query('echo', DnsType.AAAA), id: 3 });
    const replies = await tcpExchange(port, [a, b, c], 3);
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect(byId.get(1)?.answers).toEqual([expect.objectContaining({ address: '10.96.0.10' })]);
    expect(byId.get(2)?.answers).toEqual([expect.objectContaining({ address: '192.0.2.1' })]);
    expect(byId.get(3)?.answers).toEqual([expect.objectContaining({ address: 'fd00::a' })]);
    expect(upstream.seen.tcp).toHaveLength(1);
    expect(upstream.seen.udp).toHaveLength(0);
  });
});

describe('DnsProxy size limits and connection bounds', () => {
  const opt = (size: number) => ({
    kind: 'OPT' as const,
    udpPayloadSize: size,
    extendedRcode: 0,
    version: 0,
    dnssecOk: false,
    z: 0,
    options: new Uint8Array(0),
  });

  it('UDP answers fit 512 octets without EDNS(0) and the client size with it (RFC 6891 §6.2.3)', async () => {
    const { port } = await setup();
    const plain = await udpExchange(port, encodeDnsMessage(query('mid.demo', DnsType.A)));
    expect(plain.length).toBeLessThanOrEqual(512);
    expect(parseDnsMessage(plain)).toMatchObject({ flags: { tc: true }, answers: [] });
    const edns = await udpExchange(
      port,
      encodeDnsMessage({ ...query('mid.demo', DnsType.A), additionals: [opt(4096)] }),
    );
    expect(edns.length).toBeGreaterThan(1232);
    expect(parseDnsMessage(edns)).toMatchObject({ flags: { tc: false } });
    expect(parseDnsMessage(edns).answers).toHaveLength(100);
    const small = await udpExchange(
      port,
      encodeDnsMessage({ ...query('mid.demo', DnsType.A), additionals: [opt(1232)] }),
    );
    expect(small.length).toBeLessThanOrEqual(1232);
    expect(parseDnsMessage(small).flags.tc).toBe(true);
  });

  it('closes an idle TCP connection', async () => {
    const { port } = await setup({ tcpIdleTimeoutMs: 200 });
    const socket = net.connect(port, '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
  });

  it('closes TCP connections beyond maxTcpConnections', async () => {
    const { port } = await setup({ maxTcpConnections: 1 });
    const first = net.connect(port, '127.0.0.1');
    cleanups.push(() => void first.destroy());
    const decoder = new DnsTcpFrameDecoder();
    await new Promise<void>((resolve) => {
      first.on('data', (chunk) => decoder.push(chunk).length > 0 && resolve());
      first.write(frameDnsTcpMessage(encodeDnsMessage(query('echo.demo', DnsType.A))));
    });
    const second = net.connect(port, '127.0.0.1');
    cleanups.push(() => void second.destroy());
    second.on('error', () => {});
    await new Promise<void>((resolve) => second.on('close', () => resolve()));
    expect(first.destroyed).toBe(false);
  });
});

describe('DnsProxy and malformed input', () => {
  it('UDP: answers FORMERR to a bad query with a readable header, drops short garbage, keeps serving', async () => {
    const { port, proxy, logs } = await setup();
    const bad = Uint8Array.from([0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]);
    const reply = parseDnsMessage(await udpExchange(port, bad));
    expect(reply).toMatchObject({ id: 0xbeef, flags: { qr: true, rcode: DnsRcode.FORMERR } });
    const sender = dgram.createSocket('udp4');
    cleanups.push(() => new Promise<void>((resolve) => sender.close(() => resolve())));
    sender.send(Uint8Array.from([1, 2, 3]), port, '127.0.0.1');
    const ok = parseDnsMessage(await udpExchange(port, encodeDnsMessage(query('echo.demo', DnsType.A))));
    expect(ok.answers).toHaveLength(1);
    expect(proxy.metrics.malformed).toBeGreaterThanOrEqual(1);
    expect(
      logs.filter((l) => l.event === 'malformed').map((l) => (l.error as { code?: string }).code),
    ).toContain('DNS_ERR_MALFORMED');
  });

  it('TCP: a garbage frame gets FORMERR and the connection keeps serving', async () => {
    const { port, proxy } = await setup();
    const garbage = Uint8Array.from([0, 7, 0x01, 0x00, 0, 5, 0, 0, 0, 0, 0, 0, 9, 9]);
    const good = encodeDnsMessage({ ...query('echo.demo', DnsType.A), id: 8 });
    const replies = await tcpExchange(port, [garbage, Uint8Array.from([1]), good], 2);
    expect(replies.find((r) => r.id === 7)?.flags.rcode).toBe(DnsRcode.FORMERR);
    expect(replies.find((r) => r.id === 8)?.answers).toHaveLength(1);
    expect(proxy.metrics.malformed).toBe(2);
  });

  it('answers SERVFAIL beyond maxConcurrentForwards', async () => {
    const { port, proxy } = await setup({ maxConcurrentForwards: 1, upstreamTimeoutMs: 2000 });
    const sender = dgram.createSocket('udp4');
    cleanups.push(() => new Promise<void>((resolve) => sender.close(() => resolve())));
    sender.send(encodeDnsMessage({ ...query('silent.example', DnsType.A), id: 1 }), port, '127.0.0.1');
    const second = parseDnsMessage(
      await udpExchange(port, encodeDnsMessage({ ...query('upstream.example', DnsType.A), id: 2 })),
    );
    expect(second).toMatchObject({ id: 2, flags: { rcode: DnsRcode.SERVFAIL } });
    expect(proxy.metrics).toMatchObject({ forwarded: 1, failed: 1 });
  });
});

describe('DnsProxy.listen with sockets created by the caller', () => {
  it('serves on a given dgram socket and net.Server (what the netns path uses)', async () => {
    const udpSocket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udpSocket.bind(0, '127.0.0.1', resolve));
    const tcpServer = net.createServer();
    await new Promise<void>((resolve) => tcpServer.listen(0, '127.0.0.1', resolve));
    const proxy = new DnsProxy({
      table: new DnsNameTable([
        { hostname: 'a.b.svc.cluster.local', namespace: 'b', addresses: ['10.1.1.1'] },
      ]),
      upstreams: [],
    });
    cleanups.push(() => proxy.close());
    const { udp, tcp } = await proxy.listen({ udpSocket, tcpServer });
    expect(udp?.port).toBe(udpSocket.address().port);
    const viaUdp = parseDnsMessage(
      await udpExchange(udp?.port as number, encodeDnsMessage(query('a.b', DnsType.A))),
    );
    expect(viaUdp.answers).toHaveLength(1);
    const [viaTcp] = await tcpExchange(tcp?.port as number, [encodeDnsMessage(query('a.b', DnsType.A))], 1);
    expect(viaTcp?.answers).toHaveLength(1);
    // No upstreams: unknown names get SERVFAIL at once.
    const unknown = parseDnsMessage(
      await udpExchange(udp?.port as number, encodeDnsMessage(query('x.example', DnsType.A))),
    );
    expect(unknown.flags.rcode).toBe(DnsRcode.SERVFAIL);
  });

  it('refuses bad upstreams and a second listen', async () => {
    expect(() => new DnsProxy({ table: new DnsNameTable(), upstreams: ['dns.google'] })).toThrow(
      expect.objectContaining({ code: 'DNS_ERR_INVALID_CONFIG' }),
    );
    const { proxy } = await setup();
    await expect(proxy.listen({ port: 0 })).rejects.toMatchObject({ code: 'DNS_ERR_INVALID_CONFIG' });
  });
});
