import { describe, expect, it } from 'vitest';
import {
  buildBaggage,
  buildConnectRequest,
  buildConnectResponse,
  buildForwarded,
  buildTraceParent,
  connectResponseStatus,
  formatAuthority,
  forwardedNode,
  hboneBaggageMembers,
  parseAuthority,
  parseBaggage,
  parseConnectRequest,
  parseForwarded,
  parseHboneBaggage,
  parseTraceParent,
  validateHeaderList,
} from '../src/index.js';

describe('HBONE :authority (RFC 9113 §8.5, RFC 3986 §3.2)', () => {
  it('parses IPv4, bracketed IPv6 and host names with a port', () => {
    expect(parseAuthority('10.0.0.2:8080')).toEqual({ host: '10.0.0.2', port: 8080, family: 4 });
    expect(parseAuthority('[fd00::1]:80')).toEqual({ host: 'fd00::1', port: 80, family: 6 });
    expect(parseAuthority('b.ns.svc.cluster.local:443')).toEqual({
      host: 'b.ns.svc.cluster.local',
      port: 443,
      family: 0,
    });
  });

  for (const bad of [
    '10.0.0.2',
    'fd00::1:80',
    '[fd00::1]80',
    '[10.0.0.1]:80',
    '10.0.0.2:0',
    '10.0.0.2:65536',
    'a b:80',
    ':80',
    '10.0.0.2:8o',
    '[zz::1]:80',
  ]) {
    it(`refuses ${JSON.stringify(bad)} with HBONE_ERR_BAD_REQUEST`, () => {
      expect(() => parseAuthority(bad)).toThrowError(
        expect.objectContaining({ code: 'HBONE_ERR_BAD_REQUEST' }),
      );
    });
  }

  it('formats IPv6 in brackets', () => {
    expect(formatAuthority('fd00::1', 15008)).toBe('[fd00::1]:15008');
    expect(formatAuthority('10.0.0.1', 1)).toBe('10.0.0.1:1');
    expect(() => formatAuthority('10.0.0.1', 65536)).toThrow();
  });
});

describe('forwarded (RFC 7239)', () => {
  it('builds ztunnel form: for="ip:port";host=<service>', () => {
    expect(buildForwarded({ for: forwardedNode('10.0.0.1', 4000), host: 'b.ns.svc.cluster.local' })).toBe(
      'for="10.0.0.1:4000";host=b.ns.svc.cluster.local',
    );
    expect(buildForwarded({ for: forwardedNode('fd00::1', 5) })).toBe('for="[fd00::1]:5"');
  });

  it('escapes quotes and backslashes, quotes non-token values, and round-trips through the parser', () => {
    const element = { for: 'a"b\\c', by: 'x', host: 'we ird', proto: 'https' };
    const header = buildForwarded(element);
    expect(header).toBe('for="a\\"b\\\\c";by="x";host="we ird";proto=https');
    expect(parseForwarded(header)).toEqual([element]);
    expect(buildForwarded({})).toBe('');
  });

  it('parses elements, quoted strings and escapes', () => {
    expect(parseForwarded('for="[fd00::1]:5";host=a.b, for=192.0.2.60;proto=http')).toEqual([
      { for: '[fd00::1]:5', host: 'a.b' },
      { for: '192.0.2.60', proto: 'http' },
    ]);
    expect(parseForwarded('for="a\\"b"')).toEqual([{ for: 'a"b' }]);
  });

  for (const bad of ['for', 'for="unterminated', 'for=a;for=b', 'for=a b', '=x']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(() => parseForwarded(bad)).toThrowError(
        expect.objectContaining({ code: 'HBONE_ERR_INVALID_HEADER' }),
      );
    });
  }
});

describe('baggage (W3C Baggage)', () => {
  it('builds and parses ztunnel members with percent-encoding', () => {
    const header = buildBaggage(
      hboneBaggageMembers({
        clusterName: 'c1',
        namespace: 'foo',
        workloadKind: 'pod',
        workloadName: 'a-1',
        serviceName: 'svc',
        serviceVersion: 'v 1',
        region: 'r',
        zone: 'z',
      }),
    );
    expect(header).toBe(
      'k8s.cluster.name=c1,k8s.namespace.name=foo,k8s.pod.name=a-1,service.name=svc,service.version=v%201,cloud.region=r,cloud.availability_zone=z',
    );
    expect(parseHboneBaggage(parseBaggage(header))).toEqual({
      clusterName: 'c1',
      namespace: 'foo',
      workloadKind: 'pod',
      workloadName: 'a-1',
      serviceName: 'svc',
      serviceVersion: 'v 1',
      region: 'r',
      zone: 'z',
    });
  });

  it('ignores member properties and whitespace', () => {
    expect([...parseBaggage(' a = 1 ;prop=x , b=2')]).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
  });

  for (const bad of ['=1', 'a=%zz', 'a="q"']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(() => parseBaggage(bad)).toThrowError(
        expect.objectContaining({ code: 'HBONE_ERR_INVALID_HEADER' }),
      );
    });
  }
});

describe('traceparent (W3C Trace Context §3.2)', () => {
  it('builds 00-<32 hex>-<16 hex>-00 from random bytes', () => {
    const tp = buildTraceParent();
    expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(buildTraceParent({ random: (n) => Buffer.alloc(n, 0xab) })).toBe(
      `00-${'ab'.repeat(16)}-${'ab'.repeat(8)}-00`,
    );
  });

  it('still refuses a malformed header built from bad input or a short random source', () => {
    expect(() => buildTraceParent({ traceId: 'XYZ' })).toThrow(/traceparent/);
    expect(() => buildTraceParent({ flags: 0x1ff })).toThrow(/traceparent/);
    expect(() => buildTraceParent({ random: (n) => Buffer.alloc(n - 1, 0xab) })).toThrow(/traceparent/);
  });

  it('parses a valid header', () => {
    expect(parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      version: '00',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentId: '00f067aa0ba902b7',
      flags: 1,
    });
  });

  for (const bad of [
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
  ]) {
    it(`rejects ${bad}`, () => {
      expect(() => parseTraceParent(bad)).toThrowError(
        expect.objectContaining({ code: 'HBONE_ERR_INVALID_HEADER' }),
      );
    });
  }
});

describe('CONNECT request and response rules', () => {
  it('builds :method and :authority only, then forwarded, baggage, traceparent; the list is valid RFC 9113 CONNECT', () => {
    const h = buildConnectRequest({
      authority: '[fd00::2]:80',
      forwarded: 'for="10.0.0.1:1"',
      baggage: 'a=b',
      traceparent: buildTraceParent(),
    });
    expect(h.slice(0, 2)).toEqual([
      [':method', 'CONNECT'],
      [':authority', '[fd00::2]:80'],
    ]);
    expect(h.map(([n]) => n)).toEqual([':method', ':authority', 'forwarded', 'baggage', 'traceparent']);
    expect(validateHeaderList(h, 'request')).toBeUndefined();
  });

  it('accepts a well-formed CONNECT and parses its metadata', () => {
    const r = parseConnectRequest(
      buildConnectRequest({
        authority: '10.0.0.2:80',
        forwarded: 'for="10.0.0.1:1"',
        baggage: 'k8s.namespace.name=foo',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00',
      }),
      { destinationIp: '10.0.0.2' },
    );
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.request.authority.port).toBe(80);
      expect(r.request.forwarded).toEqual([{ for: '10.0.0.1:1' }]);
      expect(r.request.baggage?.get('k8s.namespace.name')).toBe('foo');
      expect(r.request.traceparent?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    }
  });

  const refusals: Array<[string, Array<[string, string]>]> = [
    [
      'a GET',
      [
        [':method', 'GET'],
        [':path', '/'],
        [':scheme', 'https'],
        [':authority', 'a:1'],
      ],
    ],
    [
      'an unparsable authority',
      [
        [':method', 'CONNECT'],
        [':authority', 'nope'],
      ],
    ],
    [
      'an authority IP other than the destination',
      [
        [':method', 'CONNECT'],
        [':authority', '10.0.0.3:80'],
      ],
    ],
    [
      'extended CONNECT',
      [
        [':method', 'CONNECT'],
        [':authority', '10.0.0.2:80'],
        [':protocol', 'websocket'],
      ],
    ],
    [
      'a bad traceparent',
      [
        [':method', 'CONNECT'],
        [':authority', '10.0.0.2:80'],
        ['traceparent', 'x'],
      ],
    ],
  ];
  for (const [name, headers] of refusals) {
    it(`answers 400 to ${name}`, () => {
      expect(parseConnectRequest(headers, { destinationIp: '10.0.0.2' })).toMatchObject({
        ok: false,
        status: 400,
      });
    });
  }

  it('compares IPv6 destinations in any textual form, and accepts host names (waypoints)', () => {
    expect(
      parseConnectRequest(
        [
          [':method', 'CONNECT'],
          [':authority', '[fd00:0::1]:80'],
        ],
        { destinationIp: 'fd00::1' },
      ).ok,
    ).toBe(true);
    expect(
      parseConnectRequest(
        [
          [':method', 'CONNECT'],
          [':authority', 'b.ns.svc:80'],
        ],
        { destinationIp: 'fd00::1' },
      ).ok,
    ).toBe(true);
    expect(
      parseConnectRequest(
        [
          [':method', 'CONNECT'],
          [':authority', '10.0.0.2:80'],
        ],
        { destinationIp: '::ffff:10.0.0.2' },
      ).ok,
    ).toBe(true);
  });

  it('maps outcomes to 200 (with baggage), 400, 401, 503', () => {
    expect(buildConnectResponse({ kind: 'connected', baggage: 'a=b' })).toEqual([
      [':status', '200'],
      ['baggage', 'a=b'],
    ]);
    expect(buildConnectResponse({ kind: 'bad-request', reason: '' })).toEqual([[':status', '400']]);
    expect(buildConnectResponse({ kind: 'unauthorized', reason: '' })).toEqual([[':status', '401']]);
    expect(buildConnectResponse({ kind: 'unavailable', reason: '' })).toEqual([[':status', '503']]);
    expect(connectResponseStatus([[':status', '200']])).toEqual({ status: 200, established: true });
    expect(connectResponseStatus([[':status', '401']]).established).toBe(false);
  });
});
