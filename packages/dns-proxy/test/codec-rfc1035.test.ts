import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DnsMessage, DnsRecord } from '../src/index.js';
import {
  DNS_CLASS_IN,
  DnsError,
  DnsType,
  encodeDnsMessage,
  encodeDnsMessageWithin,
  isDnsErrorLike,
  nameToLabels,
  parseDnsMessage,
} from './codec-helpers.js';
import { hex, QUERY_FLAGS, query, wireName } from './helpers.js';

// id 0x1234, RD, one question example.com A IN (RFC 1035 §4.1.1, §4.1.2).
const EXAMPLE_QUERY = hex('1234 0100 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001');

/**
 * RFC 1035 §4.1.4's example: F.ISI.ARPA at offset 12 (the question), then an
 * answer FOO.F.ISI.ARPA written as FOO + pointer to 12, and an answer at the
 * root... here an A record for ARPA written as a pointer to offset 18.
 */
function compressedResponse(): Uint8Array {
  const header = [0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
  const question = [...wireName('F.ISI.ARPA'), 0, 1, 0, 1]; // offset 12..
  const fooAnswer = [3, ...Buffer.from('FOO'), 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1];
  const arpaAnswer = [0xc0, 12 + 2 + 4, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 2];
  return Uint8Array.from([...header, ...question, ...fooAnswer, ...arpaAnswer]);
}

describe('RFC 1035 §4.1 message format', () => {
  it('parses a hand-built query', () => {
    const msg = parseDnsMessage(EXAMPLE_QUERY);
    expect(msg).toEqual({
      id: 0x1234,
      flags: QUERY_FLAGS,
      questions: [{ name: 'example.com', type: DnsType.A, class: DNS_CLASS_IN }],
      answers: [],
      authorities: [],
      additionals: [],
    });
  });

  it('encodes the same query to the same bytes', () => {
    expect(encodeDnsMessage(query('example.com', DnsType.A))).toEqual(EXAMPLE_QUERY);
  });

  it('parses every header flag bit where RFC 1035 §4.1.1 puts it', () => {
    const bytes = EXAMPLE_QUERY.slice();
    bytes[2] = 0b1_0010_1_1_1; // QR, opcode 2, AA, TC, RD
    bytes[3] = 0b1_101_0101; // RA, Z=5, RCODE 5
    const { flags } = parseDnsMessage(bytes);
    expect(flags).toEqual({ qr: true, opcode: 2, aa: true, tc: true, rd: true, ra: true, z: 5, rcode: 5 });
    expect(encodeDnsMessage(parseDnsMessage(bytes))).toEqual(bytes);
  });

  it('follows compression pointers (RFC 1035 §4.1.4)', () => {
    const msg = parseDnsMessage(compressedResponse());
    expect(msg.answers).toEqual([
      { kind: 'A', name: 'FOO.F.ISI.ARPA', class: 1, ttl: 60, address: '10.0.0.1' },
      { kind: 'A', name: 'ARPA', class: 1, ttl: 60, address: '10.0.0.2' },
    ]);
  });

  it('writes repeated suffixes as pointers and reads them back', () => {
    const answers: DnsRecord[] = [
      { kind: 'A', name: 'echo.demo.svc.cluster.local', class: 1, ttl: 30, address: '10.96.0.10' },
      {
        kind: 'CNAME',
        name: 'alias.demo.svc.cluster.local',
        class: 1,
        ttl: 30,
        target: 'echo.demo.svc.cluster.local',
      },
    ];
    const msg: DnsMessage = { ...query('echo.demo.svc.cluster.local', DnsType.A), answers };
    const compressed = encodeDnsMessage(msg);
    const plain = encodeDnsMessage(msg, { compress: false });
    expect(compressed.length).toBeLessThan(plain.length);
    expect(parseDnsMessage(compressed)).toEqual(msg);
    expect(parseDnsMessage(plain)).toEqual(msg);
  });

  it('keeps name case as sent (RFC 4343 §4.1)', () => {
    const msg = parseDnsMessage(encodeDnsMessage(query('EcHo.Demo', DnsType.A)));
    expect(msg.questions[0]?.name).toBe('EcHo.Demo');
  });

  it('escapes dots and odd octets inside labels and reads them back (RFC 1035 §5.1)', () => {
    const name = 'a\\.b\\000\\\\c.example';
    const bytes = encodeDnsMessage(query(name, DnsType.A));
    expect(Array.from(bytes.subarray(12, 12 + 7))).toEqual([6, 0x61, 0x2e, 0x62, 0, 0x5c, 0x63]);
    expect(parseDnsMessage(bytes).questions[0]?.name).toBe(name);
  });

  it('carries other record types as raw RDATA', () => {
    const txt: DnsRecord = {
      kind: 'RAW',
      name: 'x.example',
      type: DnsType.TXT,
      class: 1,
      ttl: 5,
      data: hex('0568656c6c6f'),
    };
    const msg: DnsMessage = { ...query('x.example', DnsType.TXT), answers: [txt] };
    expect(parseDnsMessage(encodeDnsMessage(msg))).toEqual(msg);
  });
});

describe('RFC 3596 AAAA records', () => {
  it('round-trips AAAA and prints the RFC 5952 form', () => {
    const answers: DnsRecord[] = [
      { kind: 'AAAA', name: 'v6.example', class: 1, ttl: 30, address: 'FD00:0:0:0:0:0:0:A' },
      { kind: 'AAAA', name: 'v6.example', class: 1, ttl: 30, address: '::ffff:10.1.2.3' },
      { kind: 'AAAA', name: 'v6.example', class: 1, ttl: 30, address: '2001:db8:0:1:1:1:1:1' },
    ];
    const parsed = parseDnsMessage(encodeDnsMessage({ ...query('v6.example', DnsType.AAAA), answers }));
    expect(parsed.answers.map((r) => (r.kind === 'AAAA' ? r.address : ''))).toEqual([
      'fd00::a',
      '::ffff:a01:203',
      '2001:db8:0:1:1:1:1:1',
    ]);
  });

  it('refuses an AAAA RDLENGTH other than 16 and an A RDLENGTH other than 4', () => {
    const bytes = encodeDnsMessage({
      ...query('v6.example', DnsType.AAAA),
      answers: [{ kind: 'AAAA', name: 'v6.example', class: 1, ttl: 30, address: '::1' }],
    });
    const rdlengthAt = bytes.length - 18;
    const broken = bytes.slice();
    broken[rdlengthAt + 1] = 15;
    expect(() => parseDnsMessage(broken.subarray(0, bytes.length - 1))).toThrow(/RDLENGTH must be 16/);
    const a = encodeDnsMessage({
      ...query('x', DnsType.A),
      answers: [{ kind: 'A', name: 'x', class: 1, ttl: 1, address: '1.2.3.4' }],
    });
    const badA = Uint8Array.from([...a.slice(0, a.length - 6), 0, 5, 1, 2, 3, 4, 5]);
    expect(() => parseDnsMessage(badA)).toThrow(/A RDLENGTH must be 4/);
  });

  it('refuses to encode an address of the wrong family', () => {
    const bad = {
      ...query('x', DnsType.A),
      answers: [{ kind: 'A', name: 'x', class: 1, ttl: 1, address: '::1' }],
    };
    expect(() => encodeDnsMessage(bad as DnsMessage)).toThrow(
      expect.objectContaining({ code: 'DNS_ERR_ENCODE' }),
    );
  });
});

describe('RFC 6891 EDNS(0) OPT', () => {
  const opt: DnsRecord = {
    kind: 'OPT',
    udpPayloadSize: 1232,
    extendedRcode: 1,
    version: 0,
    dnssecOk: true,
    z: 0,
    options: hex('000a 0008 0102030405060708'), // a COOKIE option, kept raw
  };

  it('round-trips the OPT fields through CLASS and TTL (§6.1.3)', () => {
    const msg: DnsMessage = { ...query('example.com', DnsType.A), additionals: [opt] };
    const bytes = encodeDnsMessage(msg);
    // root owner, TYPE 41, CLASS 1232, TTL = ext-rcode 1, version 0, DO
    expect(Array.from(bytes.subarray(29, 40))).toEqual([0, 0, 41, 0x04, 0xd0, 1, 0, 0x80, 0, 0, 12]);
    expect(parseDnsMessage(bytes)).toEqual(msg);
  });

  it('refuses two OPT records (§6.1.1), an OPT outside additional, and an OPT not owned by the root', () => {
    const two = encodeDnsMessage({ ...query('example.com', DnsType.A), additionals: [opt, opt] });
    expect(() => parseDnsMessage(two)).toThrow(/more than one OPT/);
    const inAnswer = encodeDnsMessage({ ...query('example.com', DnsType.A), answers: [opt] });
    expect(() => parseDnsMessage(inAnswer)).toThrow(/only allowed in the additional/);
    const raw: DnsRecord = { kind: 'RAW', name: 'x', type: 41, class: 512, ttl: 0, data: new Uint8Array(0) };
    expect(() => parseDnsMessage(encodeDnsMessage({ ...query('x', 1), additionals: [raw] }))).toThrow(
      /owner must be the root/,
    );
  });
});

describe('refusing malformed messages', () => {
  const full = encodeDnsMessage({
    ...query('echo.demo.svc.cluster.local', DnsType.A),
    flags: { ...QUERY_FLAGS, qr: true },
    answers: [
      { kind: 'A', name: 'echo.demo.svc.cluster.local', class: 1, ttl: 30, address: '10.96.0.10' },
      { kind: 'AAAA', name: 'echo.demo.svc.cluster.local', class: 1, ttl: 30, address: 'fd00::a' },
      {
        kind: 'CNAME',
        name: 'x.demo.svc.cluster.local',
        class: 1,
        ttl: 30,
        target: 'echo.demo.svc.cluster.local',
      },
    ],
    additionals: [
      {
        kind: 'OPT',
        udpPayloadSize: 4096,
        extendedRcode: 0,
        version: 0,
        dnssecOk: false,
        z: 0,
        options: hex(''),
      },
    ],
  });

  it('refuses every truncation of a valid message with a typed error', () => {
    expect(parseDnsMessage(full).answers).toHaveLength(3);
    for (let cut = 0; cut < full.length; cut++) {
      expect(() => parseDnsMessage(full.subarray(0, cut)), `cut at ${cut}`).toThrow(DnsError);
    }
  });

  it('refuses trailing octets after the last record', () => {
    const extra = Uint8Array.from([...full, 0]);
    expect(() => parseDnsMessage(extra)).toThrow(expect.objectContaining({ code: 'DNS_ERR_MALFORMED' }));
  });

  it('refuses counts that exceed the data', () => {
    const bytes = EXAMPLE_QUERY.slice();
    bytes[7] = 1; // ANCOUNT 1, no record
    expect(() => parseDnsMessage(bytes)).toThrow(DnsError);
    bytes[6] = 0xff;
    bytes[7] = 0xff;
    expect(() => parseDnsMessage(bytes)).toThrow(/exceed/);
  });

  it('refuses a pointer to itself and a two-pointer loop', () => {
    const self = Uint8Array.from([...EXAMPLE_QUERY.subarray(0, 12), 0xc0, 12, 0, 1, 0, 1]);
    expect(() => parseDnsMessage(self)).toThrow(/loop/);
    // offset 12: label "a" then pointer to 17; offset 17: pointer back to 12.
    const loop = Uint8Array.from([
      ...EXAMPLE_QUERY.subarray(0, 12),
      1,
      0x61,
      0xc0,
      17,
      0,
      0xc0,
      12,
      0,
      1,
      0,
      1,
    ]);
    loop[5] = 1;
    expect(() => parseDnsMessage(loop)).toThrow(DnsError);
  });

  it('refuses a forward pointer past the message and a pointer into the header', () => {
    const forward = Uint8Array.from([...EXAMPLE_QUERY.subarray(0, 12), 0xc0, 200, 0, 1, 0, 1]);
    expect(() => parseDnsMessage(forward)).toThrow(/does not point backwards/);
    const intoHeader = Uint8Array.from([...EXAMPLE_QUERY.subarray(0, 12), 1, 0x61, 0xc0, 4, 0, 1, 0, 1]);
    expect(() => parseDnsMessage(intoHeader)).toThrow(/into the header/);
  });

  it('refuses extended label types 0x40 and 0x80 (a length over 63)', () => {
    for (const len of [64, 0x80]) {
      const bytes = Uint8Array.from([
        ...EXAMPLE_QUERY.subarray(0, 12),
        len,
        ...new Array(len & 0x3f).fill(0x61),
        0,
        0,
        1,
        0,
        1,
      ]);
      expect(() => parseDnsMessage(bytes)).toThrow(/label type/);
    }
  });

  it('refuses a message shorter than the header', () => {
    expect(() => parseDnsMessage(new Uint8Array(11))).toThrow(/shorter than the 12-octet header/);
  });
});

describe('RFC 1035 §2.3.4 size limits', () => {
  const label = (n: number) => 'a'.repeat(n);
  // 4 labels of 63 + 1 label of n: wire length 4*64 + (n+1) + 1.
  const nameOf = (octets: number) => {
    const labels = [label(63), label(63), label(63)];
    let rest = octets - 1 - 3 * 64;
    const last = rest - 1;
    labels.push(label(last));
    rest = 0;
    return labels.join('.');
  };

  it('accepts a 63-octet label and refuses 64 on encode', () => {
    expect(nameToLabels(label(63))).toHaveLength(1);
    expect(() => nameToLabels(label(64))).toThrow(expect.objectContaining({ code: 'DNS_ERR_INVALID_NAME' }));
  });

  it('accepts a 255-octet name and refuses 256 on encode', () => {
    expect(() => nameToLabels(nameOf(255))).not.toThrow();
    expect(() => nameToLabels(nameOf(256))).toThrow(
      expect.objectContaining({ code: 'DNS_ERR_INVALID_NAME' }),
    );
  });

  it('accepts a 255-octet name and refuses 256 on parse, even when built from pointers', () => {
    const wire = (octets: number) => {
      const labels = nameOf(octets).split('.');
      return [...labels.flatMap((l) => [l.length, ...Buffer.from(l)]), 0];
    };
    const header = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    const ok = Uint8Array.from([...header, ...wire(255), 0, 1, 0, 1]);
    expect(parseDnsMessage(ok).questions[0]?.name).toBe(nameOf(255));
    // 254-octet name at 12, then a question "b" + pointer to it: 2 + 254 = 256 octets.
    const viaPointer = Uint8Array.from([...header, ...wire(254), 0, 1, 0, 1, 1, 0x62, 0xc0, 12, 0, 1, 0, 1]);
    viaPointer[5] = 2;
    expect(() => parseDnsMessage(viaPointer)).toThrow(
      expect.objectContaining({ code: 'DNS_ERR_INVALID_NAME' }),
    );
  });

  it('applies the same limits when encoding a message (plain and escaped names)', () => {
    const enc = (name: string) => () => encodeDnsMessage(query(name, DnsType.A));
    const invalid = expect.objectContaining({ code: 'DNS_ERR_INVALID_NAME' });
    expect(enc(nameOf(255))).not.toThrow();
    expect(enc(`${nameOf(255)}.`)).not.toThrow();
    expect(enc(nameOf(256))).toThrow(invalid);
    expect(enc(label(63))).not.toThrow();
    expect(enc(label(64))).toThrow(invalid);
    expect(enc(`x\\.${label(64)}`)).toThrow(invalid);
    for (const bad of ['a..b', '.a', '..', 'a\u20acb']) expect(enc(bad), bad).toThrow(invalid);
    expect(parseDnsMessage(encodeDnsMessage(query('.', DnsType.A))).questions[0]?.name).toBe('');
    expect(parseDnsMessage(encodeDnsMessage(query('caf\u00e9', DnsType.A))).questions[0]?.name).toBe(
      'caf\\233',
    );
  });

  it('refuses empty labels on encode', () => {
    expect(() => nameToLabels('a..b')).toThrow(/empty label/);
    expect(nameToLabels('a.b.')).toHaveLength(2);
  });
});

describe('truncation to a size limit (RFC 2181 §9)', () => {
  it('drops records and sets TC when the response does not fit', () => {
    const answers: DnsRecord[] = Array.from({ length: 40 }, (_, i) => ({
      kind: 'A' as const,
      name: 'many.demo.svc.cluster.local',
      class: 1,
      ttl: 30,
      address: `10.0.0.${i}`,
    }));
    const msg: DnsMessage = { ...query('many.demo.svc.cluster.local', DnsType.A), answers };
    expect(encodeDnsMessage(msg).length).toBeGreaterThan(512);
    const small = parseDnsMessage(encodeDnsMessageWithin(msg, 512));
    expect(small.flags.tc).toBe(true);
    expect(small.answers).toEqual([]);
    expect(small.questions).toEqual(msg.questions);
    expect(parseDnsMessage(encodeDnsMessageWithin(msg, 4096)).answers).toHaveLength(40);
  });
});

describe('fuzz: the parser returns a message or throws DnsError', () => {
  it('on random bytes and on mutated valid messages', () => {
    const valid = encodeDnsMessage({
      ...query('echo.demo.svc.cluster.local', DnsType.A),
      answers: [
        { kind: 'A', name: 'echo.demo.svc.cluster.local', class: 1, ttl: 30, address: '10.96.0.10' },
        {
          kind: 'CNAME',
          name: 'x.demo.svc.cluster.local',
          class: 1,
          ttl: 30,
          target: 'echo.demo.svc.cluster.local',
        },
      ],
    });
    const check = (bytes: Uint8Array) => {
      try {
        const msg = parseDnsMessage(bytes);
        // What parses must encode again (names and fields within limits).
        expect(() => encodeDnsMessage(msg)).not.toThrow();
      } catch (error) {
        expect(isDnsErrorLike(error)).toBe(true);
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), check), {
      interruptAfterTimeLimit: 3000,
      numRuns: 20_000,
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        (edits) => {
          const bytes = valid.slice();
          for (const [at, value] of edits) bytes[at] = value;
          check(bytes);
        },
      ),
      { interruptAfterTimeLimit: 3000, numRuns: 20_000 },
    );
  });
});
