import { createHash } from 'node:crypto';
import {
  DNS_CLASS_IN,
  type DnsMessage,
  DnsNameTable,
  DnsType,
  encodeDnsMessage,
  respondToDnsQuery,
} from '@amesh/dns-proxy';
import dnsPacket from 'dns-packet';
import type { Contender, Sample, Scenario } from '../runner.js';

const QUERIES = Number(process.env.AMESH_BENCH_DNS_QUERIES ?? 50_000);
const SERVICES = 1_000;

/** The table: SERVICES services in 10 namespaces, one VIP each (plus an IPv6 VIP on every other one). */
function entries(): { hostname: string; namespace: string; addresses: string[] }[] {
  return Array.from({ length: SERVICES }, (_, i) => ({
    hostname: `svc-${i}.ns-${i % 10}.svc.cluster.local`,
    namespace: `ns-${i % 10}`,
    addresses:
      i % 2 === 0
        ? [`10.96.${i >> 8}.${i & 255}`, `fd00::${i.toString(16)}`]
        : [`10.96.${i >> 8}.${i & 255}`],
  }));
}

/** The queries a pod sends: A for the full name, `svc.ns`, or (AAAA) the full name, with an EDNS(0) OPT. */
function queries(): Uint8Array[] {
  return Array.from({ length: QUERIES }, (_, i) => {
    const s = (i * 7919) % SERVICES;
    const name = i % 3 === 1 ? `svc-${s}.ns-${s % 10}` : `svc-${s}.ns-${s % 10}.svc.cluster.local`;
    const query: DnsMessage = {
      id: i & 0xffff,
      flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, z: 0, rcode: 0 },
      questions: [{ name, type: i % 3 === 2 ? DnsType.AAAA : DnsType.A, class: DNS_CLASS_IN }],
      answers: [],
      authorities: [],
      additionals: [
        {
          kind: 'OPT',
          udpPayloadSize: 1232,
          extendedRcode: 0,
          version: 0,
          dnssecOk: false,
          z: 0,
          options: new Uint8Array(0),
        },
      ],
    };
    return encodeDnsMessage(query);
  });
}

/** A digest of every response as the other side decodes it (with dns-packet, the neutral reader). */
function digest(responses: Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const r of responses) {
    const m = dnsPacket.decode(Buffer.from(r));
    hash.update(
      `${m.id}|${m.flags}|${(m.answers ?? [])
        .map((a) => {
          const r = a as { name: string; type: string; ttl?: number; data?: unknown };
          return `${r.name}/${r.type}/${r.ttl}/${String(r.data)}`;
        })
        .join(',')};`,
    );
  }
  return hash.digest('hex');
}

/**
 * The DNS proxy's hot path for mesh names: query bytes in, answer bytes out
 * (parse, table lookup with Kubernetes aliases, build the A/AAAA answer with an
 * OPT, encode). amesh's sans-IO core against the same work done with
 * dns-packet and a Map of precomputed names and aliases.
 */
export default function dnsAnswer(): Scenario {
  const input = queries();
  const sample = (run: () => Uint8Array[]): Sample => {
    const start = process.hrtime.bigint();
    const out = run();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { values: { rate: input.length / seconds / 1000 }, fingerprint: digest(out) };
  };

  const amesh: Contender = {
    name: 'amesh-dns-proxy',
    async start() {
      const table = new DnsNameTable(entries());
      return {
        round: async () =>
          sample(() =>
            input.map((q) => {
              const decision = respondToDnsQuery(table, q, { namespace: 'ns-0' });
              if (decision.kind !== 'answer')
                throw new Error(`expected a table answer, got ${decision.kind}`);
              return encodeDnsMessage(decision.response);
            }),
          ),
        close: async () => {},
      };
    },
  };

  // dns-packet's OPT type is not part of its Answer union in @types/dns-packet.
  const OPT = {
    type: 'OPT',
    name: '.',
    udpPayloadSize: 4096,
    extendedRcode: 0,
    ednsVersion: 0,
    flags: 0,
    options: [],
  } as unknown as dnsPacket.Answer;
  const peer: Contender = {
    name: 'dns-packet',
    async start() {
      const byName = new Map<string, string[]>();
      for (const e of entries()) {
        const [svc, ns] = e.hostname.split('.') as [string, string];
        for (const name of [e.hostname, `${svc}.${ns}`, `${svc}.${ns}.svc`]) byName.set(name, e.addresses);
      }
      return {
        round: async () =>
          sample(() =>
            input.map((bytes) => {
              const q = dnsPacket.decode(Buffer.from(bytes));
              const question = q.questions?.[0];
              if (!question) throw new Error('no question');
              const addresses = byName.get(question.name.toLowerCase()) ?? [];
              const v6 = question.type === 'AAAA';
              return dnsPacket.encode({
                type: 'response',
                id: q.id ?? 0,
                flags:
                  dnsPacket.AUTHORITATIVE_ANSWER |
                  dnsPacket.RECURSION_DESIRED |
                  dnsPacket.RECURSION_AVAILABLE,
                questions: [question],
                answers: addresses
                  .filter((a) => a.includes(':') === v6)
                  .map(
                    (data) =>
                      ({ type: v6 ? 'AAAA' : 'A', name: question.name, ttl: 30, class: 'IN', data }) as const,
                  ),
                additionals: [OPT],
              });
            }),
          ),
        close: async () => {},
      };
    },
  };

  return {
    name: 'dns-answer',
    description: `${QUERIES} DNS queries answered from a ${SERVICES}-service mesh name table (bytes in, bytes out)`,
    metrics: [{ name: 'rate', unit: 'k queries/s', better: 'higher' }],
    contenders: [amesh, peer],
    defaultRounds: 7,
  };
}
