import { describe, expect, it } from 'vitest';
import type { DnsMessage } from '../src/index.js';
import {
  DNS_CLASS_IN,
  DnsError,
  DnsNameTable,
  DnsOpcode,
  DnsRcode,
  DnsType,
  encodeDnsMessage,
  parseDnsMessage,
  respondToDnsQuery,
  udpResponseLimit,
} from '../src/index.js';
import { hex, QUERY_FLAGS, query } from './helpers.js';

const ECHO = {
  hostname: 'echo.demo.svc.cluster.local',
  namespace: 'demo',
  addresses: ['10.96.0.10', 'fd00::a'],
};
const V4_ONLY = { hostname: 'v4.demo.svc.cluster.local', namespace: 'demo', addresses: ['10.96.0.11'] };
const EXTERNAL = { hostname: 'api.example.com', namespace: 'demo', addresses: ['240.240.0.1'] };

function answerOf(table: DnsNameTable, msg: DnsMessage, namespace?: string): DnsMessage {
  const decision = table.answer(msg, namespace === undefined ? {} : { namespace });
  if (decision.kind !== 'answer') throw new Error(`expected an answer, got ${decision.kind}`);
  return decision.response;
}

describe('DnsNameTable answers mesh hostnames like Istio', () => {
  const table = new DnsNameTable([ECHO, V4_ONLY, EXTERNAL]);

  it('answers A and AAAA with TTL 30, AA and RA set, RD and id copied, question echoed', () => {
    const a = answerOf(table, query('echo.demo.svc.cluster.local', DnsType.A));
    expect(a.id).toBe(0x1234);
    expect(a.flags).toEqual({ qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, z: 0, rcode: 0 });
    expect(a.questions).toEqual([
      { name: 'echo.demo.svc.cluster.local', type: DnsType.A, class: DNS_CLASS_IN },
    ]);
    expect(a.answers).toEqual([
      { kind: 'A', name: 'echo.demo.svc.cluster.local', class: 1, ttl: 30, address: '10.96.0.10' },
    ]);
    const aaaa = answerOf(table, query('echo.demo.svc.cluster.local', DnsType.AAAA));
    expect(aaaa.answers).toEqual([
      { kind: 'AAAA', name: 'echo.demo.svc.cluster.local', class: 1, ttl: 30, address: 'fd00::a' },
    ]);
    const noRd = answerOf(table, {
      ...query('echo.demo.svc.cluster.local', DnsType.A),
      flags: { ...QUERY_FLAGS, rd: false },
    });
    expect(noRd.flags.rd).toBe(false);
  });

  it('matches names case-insensitively, with or without the trailing dot, and keeps the question case (RFC 4343)', () => {
    const r = answerOf(table, query('ECHO.Demo.SVC.cluster.local.', DnsType.A));
    expect(r.answers[0]?.kind === 'A' && r.answers[0].name).toBe('ECHO.Demo.SVC.cluster.local.');
    expect(r.questions[0]?.name).toBe('ECHO.Demo.SVC.cluster.local.');
  });

  it('answers the search-domain aliases svc.ns and svc.ns.svc from any namespace', () => {
    for (const name of ['echo.demo', 'echo.demo.svc']) {
      expect(answerOf(table, query(name, DnsType.A), 'other').answers).toHaveLength(1);
      expect(answerOf(table, query(name, DnsType.A)).answers).toHaveLength(1);
    }
  });

  it('answers the bare service name only for a client in the same namespace', () => {
    expect(answerOf(table, query('echo', DnsType.A), 'demo').answers).toHaveLength(1);
    expect(table.answer(query('echo', DnsType.A), { namespace: 'other' })).toEqual({ kind: 'forward' });
    expect(table.answer(query('echo', DnsType.A), {})).toEqual({ kind: 'forward' });
  });

  it('answers a non-cluster hostname (ServiceEntry) by its exact name only', () => {
    expect(answerOf(table, query('api.example.com', DnsType.A)).answers).toHaveLength(1);
    expect(table.answer(query('api', DnsType.A), { namespace: 'demo' })).toEqual({ kind: 'forward' });
  });

  it('gives NODATA for a known name with another type or no address of the family', () => {
    const mx = answerOf(table, query('echo.demo.svc.cluster.local', DnsType.MX));
    expect(mx.flags.rcode).toBe(DnsRcode.NOERROR);
    expect(mx.answers).toEqual([]);
    const aaaa = answerOf(table, query('v4.demo.svc.cluster.local', DnsType.AAAA));
    expect(aaaa.flags.rcode).toBe(DnsRcode.NOERROR);
    expect(aaaa.flags.aa).toBe(true);
    expect(aaaa.answers).toEqual([]);
  });

  it('forwards unknown names and other classes', () => {
    expect(table.answer(query('google.com', DnsType.A))).toEqual({ kind: 'forward' });
    expect(table.answer(query('nope.demo.svc.cluster.local', DnsType.A))).toEqual({ kind: 'forward' });
    const chaos = {
      ...query('echo.demo.svc.cluster.local', DnsType.A),
      questions: [{ name: 'echo.demo', type: 1, class: 3 }],
    };
    expect(table.answer(chaos)).toEqual({ kind: 'forward' });
  });

  it('answers NOTIMP to another opcode and FORMERR to zero or two questions', () => {
    const notify = { ...query('echo.demo', DnsType.A), flags: { ...QUERY_FLAGS, opcode: DnsOpcode.STATUS } };
    expect(answerOf(table, notify).flags.rcode).toBe(DnsRcode.NOTIMP);
    expect(answerOf(table, { ...query('x', 1), questions: [] }).flags.rcode).toBe(DnsRcode.FORMERR);
    const two = query('echo.demo', DnsType.A);
    const twice = { ...two, questions: [...two.questions, ...two.questions] };
    const r = answerOf(table, twice);
    expect(r.flags.rcode).toBe(DnsRcode.FORMERR);
    expect(r.id).toBe(0x1234);
  });

  it('echoes EDNS(0) and answers BADVERS to version 1 (RFC 6891 §6.1.3)', () => {
    const opt = {
      kind: 'OPT' as const,
      udpPayloadSize: 1232,
      extendedRcode: 0,
      version: 0,
      dnssecOk: false,
      z: 0,
      options: hex(''),
    };
    const r = answerOf(table, { ...query('echo.demo', DnsType.A), additionals: [opt] });
    expect(r.additionals).toEqual([expect.objectContaining({ kind: 'OPT', version: 0, extendedRcode: 0 })]);
    const v1 = answerOf(table, { ...query('echo.demo', DnsType.A), additionals: [{ ...opt, version: 1 }] });
    const wire = parseDnsMessage(encodeDnsMessage(v1));
    expect(wire.flags.rcode).toBe(0);
    expect(wire.additionals).toEqual([expect.objectContaining({ kind: 'OPT', extendedRcode: 1 })]); // 16 = 1 << 4
  });
});

describe('DnsNameTable updates', () => {
  it('upsert replaces addresses and aliases, remove forgets them', () => {
    const table = new DnsNameTable();
    table.upsert(ECHO);
    expect(table.size).toBe(1);
    table.upsert({ ...ECHO, addresses: ['10.96.0.99'] });
    expect(answerOf(table, query('echo', DnsType.A), 'demo').answers).toEqual([
      expect.objectContaining({ address: '10.96.0.99' }),
    ]);
    expect(answerOf(table, query('echo', DnsType.AAAA), 'demo').answers).toEqual([]);
    expect(table.remove('ECHO.demo.svc.cluster.local.')).toBe(true);
    expect(table.remove('echo.demo.svc.cluster.local')).toBe(false);
    for (const name of ['echo', 'echo.demo', 'echo.demo.svc', 'echo.demo.svc.cluster.local']) {
      expect(table.answer(query(name, DnsType.A), { namespace: 'demo' })).toEqual({ kind: 'forward' });
    }
    expect(table.size).toBe(0);
  });

  it('answers a headless service with every workload IP', () => {
    const table = new DnsNameTable([
      { hostname: 'db.data.svc.cluster.local', namespace: 'data', addresses: ['10.0.1.1', '10.0.1.2'] },
    ]);
    expect(answerOf(table, query('db.data', DnsType.A)).answers).toHaveLength(2);
  });

  it('uses the configured cluster domain for aliases', () => {
    const table = new DnsNameTable(
      [{ hostname: 'echo.demo.svc.corp.internal', namespace: 'demo', addresses: ['10.1.1.1'] }],
      {
        clusterDomain: 'corp.internal',
      },
    );
    expect(answerOf(table, query('echo.demo', DnsType.A)).answers).toHaveLength(1);
    expect(table.lookup('echo', { namespace: 'demo' })?.hostname).toBe('echo.demo.svc.corp.internal');
  });

  it('refuses bad entries with DNS_ERR_INVALID_ENTRY and stays unchanged', () => {
    const table = new DnsNameTable([ECHO]);
    const bad = [
      { ...ECHO, addresses: ['10.96.0.300'] },
      { ...ECHO, addresses: ['not-an-ip'] },
      { ...ECHO, hostname: `${'a'.repeat(64)}.demo.svc.cluster.local` },
      { ...ECHO, hostname: '' },
      { ...ECHO, namespace: '' },
    ];
    for (const entry of bad) {
      expect(() => table.upsert(entry)).toThrow(expect.objectContaining({ code: 'DNS_ERR_INVALID_ENTRY' }));
    }
    expect(table.lookup('echo.demo')?.addresses).toEqual(ECHO.addresses);
    expect(() => new DnsNameTable([], { ttlSeconds: -1 })).toThrow(DnsError);
  });
});

describe('respondToDnsQuery on bytes', () => {
  const table = new DnsNameTable([ECHO]);

  it('answers, forwards, rejects with FORMERR, or drops', () => {
    const ok = respondToDnsQuery(table, encodeDnsMessage(query('echo.demo', DnsType.A)));
    expect(ok.kind).toBe('answer');
    expect(respondToDnsQuery(table, encodeDnsMessage(query('example.org', DnsType.A))).kind).toBe('forward');
    const garbage = Uint8Array.from([0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f]);
    const rejected = respondToDnsQuery(table, garbage);
    expect(rejected).toMatchObject({
      kind: 'reject',
      response: { id: 0xbeef, flags: { qr: true, rcode: DnsRcode.FORMERR, rd: true } },
    });
    expect(rejected.kind === 'reject' && rejected.error.code).toBe('DNS_ERR_MALFORMED');
    expect(respondToDnsQuery(table, hex('0102'))).toMatchObject({
      kind: 'drop',
      error: { code: 'DNS_ERR_MALFORMED' },
    });
    const response = encodeDnsMessage({
      ...query('echo.demo', DnsType.A),
      flags: { ...QUERY_FLAGS, qr: true },
    });
    expect(respondToDnsQuery(table, response).kind).toBe('drop');
    const badResponse = Uint8Array.from([...garbage]);
    badResponse[2] = 0x81;
    expect(respondToDnsQuery(table, badResponse).kind).toBe('drop');
  });

  it('computes the UDP limit from EDNS(0): 512 without, the client size up to 4096 with', () => {
    const opt = (size: number) => ({
      kind: 'OPT' as const,
      udpPayloadSize: size,
      extendedRcode: 0,
      version: 0,
      dnssecOk: false,
      z: 0,
      options: hex(''),
    });
    expect(udpResponseLimit(query('x', 1))).toBe(512);
    expect(udpResponseLimit({ ...query('x', 1), additionals: [opt(1232)] })).toBe(1232);
    expect(udpResponseLimit({ ...query('x', 1), additionals: [opt(100)] })).toBe(512);
    expect(udpResponseLimit({ ...query('x', 1), additionals: [opt(65000)] })).toBe(4096);
  });
});
