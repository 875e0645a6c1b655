/** A small upstream DNS server for tests, on UDP and TCP of one loopback port, answering with the codec. */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import type { DnsMessage, DnsRecord } from '../src/index.js';
import {
  DnsRcode,
  DnsTcpFrameDecoder,
  encodeDnsMessage,
  frameDnsTcpMessage,
  parseDnsMessage,
} from '../src/index.js';

export interface FakeUpstream {
  readonly port: number;
  /** Queries seen, by transport. */
  readonly seen: { udp: DnsMessage[]; tcp: DnsMessage[] };
  close(): Promise<void>;
}

/** How the upstream answers a name: addresses, NXDOMAIN, silence, or TC over UDP (full over TCP). */
export type UpstreamBehaviour = { addresses: string[]; truncateUdp?: boolean } | 'nxdomain' | 'silent';

export async function startFakeUpstream(zone: Record<string, UpstreamBehaviour>): Promise<FakeUpstream> {
  const seen = { udp: [] as DnsMessage[], tcp: [] as DnsMessage[] };
  const reply = (q: DnsMessage, transport: 'udp' | 'tcp'): Uint8Array | undefined => {
    seen[transport].push(q);
    const question = q.questions[0];
    const behaviour = question ? zone[question.name.toLowerCase()] : undefined;
    if (behaviour === 'silent') return undefined;
    const flags = {
      ...q.flags,
      qr: true,
      ra: true,
      rcode: behaviour === undefined || behaviour === 'nxdomain' ? DnsRcode.NXDOMAIN : 0,
    };
    let answers: DnsRecord[] = [];
    let tc = false;
    if (behaviour !== undefined && behaviour !== 'nxdomain' && question) {
      if (behaviour.truncateUdp && transport === 'udp') tc = true;
      else
        answers = behaviour.addresses.map((address) =>
          address.includes(':')
            ? { kind: 'AAAA' as const, name: question.name, class: 1, ttl: 60, address }
            : { kind: 'A' as const, name: question.name, class: 1, ttl: 60, address },
        );
      answers = answers.filter((r) => (question.type === 28 ? r.kind === 'AAAA' : r.kind === 'A'));
    }
    return encodeDnsMessage({ ...q, flags: { ...flags, tc }, answers, authorities: [], additionals: [] });
  };
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const port = udp.address().port;
    const sockets = new Set<net.Socket>();
    const tcp = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      const decoder = new DnsTcpFrameDecoder();
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        for (const m of decoder.push(chunk)) {
          const out = reply(parseDnsMessage(m), 'tcp');
          if (out) socket.write(frameDnsTcpMessage(out));
        }
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) {
      udp.close();
      if (attempt > 5) throw new Error('no free port pair');
      continue;
    }
    udp.on('message', (msg, rinfo) => {
      const out = reply(parseDnsMessage(msg), 'udp');
      if (out) udp.send(out, rinfo.port, rinfo.address);
    });
    return {
      port: (tcp.address() as AddressInfo).port,
      seen,
      close: async () => {
        await Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          new Promise<void>((resolve) => {
            tcp.close(() => resolve());
            for (const s of sockets) s.destroy();
          }),
        ]);
      },
    };
  }
}
