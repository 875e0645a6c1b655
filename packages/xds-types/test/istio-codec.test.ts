import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeAddress,
  decodeAuthorization,
  decodeDeltaDiscoveryResponse,
  decodeDiscoveryResponse,
  decodeMessage,
  encodeAddress,
  encodeAuthorization,
  encodeDeltaResource,
  encodeMessage,
  encodePreparedDeltaDiscoveryResponse,
  encodePreparedDiscoveryResponse,
  encodeAny,
  isKnownTypeUrl,
  structFromJson,
  structToJson,
  TypeUrl,
} from '../src/index.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('istio.workload.Address field numbers (protocol-facts.md)', () => {
  it('puts uid at field 20, addresses at 3, tunnel_protocol at 5, services map at 22', () => {
    expect(hex(encodeAddress({ type: 'workload', workload: { uid: 'u' } }))).toBe('0a04a2010175');
    expect(
      hex(encodeAddress({ type: 'workload', workload: { addresses: [new Uint8Array([10, 0, 0, 1])] } })),
    ).toBe('0a061a040a000001');
    expect(hex(encodeAddress({ type: 'workload', workload: { tunnelProtocol: 'HBONE' } }))).toBe('0a022801');
    // services: key "k" → PortList { ports: [{ service_port: 80 }] }
    expect(
      hex(
        encodeAddress({ type: 'workload', workload: { services: { k: { ports: [{ servicePort: 80 }] } } } }),
      ),
    ).toBe(
      // 0a0c workload · b201 09 field 22 · 0a016b key "k" · 1204 PortList · 0a02 Port · 0850 service_port 80
      '0a0cb201090a016b12040a020850',
    );
  });

  it('puts a service in field 2 with hostname at 3 and NetworkAddress{network=1, address=2}', () => {
    expect(hex(encodeAddress({ type: 'service', service: { hostname: 'h' } }))).toBe('12031a0168');
    expect(
      hex(
        encodeAddress({
          type: 'service',
          service: { addresses: [{ network: 'n', address: new Uint8Array([1, 2, 3, 4]) }] },
        }),
      ),
    ).toBe('120b22090a016e120401020304');
  });

  it('round-trips a full workload in the documented shape (defaults filled, enums as strings, bytes as Uint8Array)', () => {
    const decoded = decodeAddress(
      encodeAddress({
        type: 'workload',
        workload: {
          uid: 'cluster1//Pod/default/a-1',
          name: 'a-1',
          namespace: 'default',
          addresses: [new Uint8Array([10, 0, 0, 1]), new Uint8Array(16).fill(1)],
          tunnelProtocol: 'HBONE',
          serviceAccount: 'a',
          waypoint: {
            destination: 'hostname',
            hostname: { namespace: 'default', hostname: 'wp.default.svc.cluster.local' },
            hboneMtlsPort: 15008,
          },
          workloadType: 'POD',
          services: {
            'default/a.default.svc.cluster.local': {
              ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 'HTTP2' }],
            },
          },
          authorizationPolicies: ['default/p'],
          status: 'UNHEALTHY',
          locality: { region: 'r', zone: 'z', subzone: 's' },
          applicationTunnel: { protocol: 'PROXY', port: 15088 },
          networkMode: 'HOST_NETWORK',
        },
      }),
    );
    expect(decoded.type).toBe('workload');
    const w = decoded.workload!;
    expect(w.addresses[0]).toBeInstanceOf(Uint8Array);
    expect(w.addresses[1]).toHaveLength(16);
    expect(w.waypoint).toEqual({
      destination: 'hostname',
      hostname: { namespace: 'default', hostname: 'wp.default.svc.cluster.local' },
      hboneMtlsPort: 15008,
    });
    expect(w.services['default/a.default.svc.cluster.local']?.ports).toEqual([
      { servicePort: 80, targetPort: 8080, appProtocol: 'HTTP2' },
    ]);
    expect(w).toMatchObject({
      workloadType: 'POD',
      status: 'UNHEALTHY',
      networkMode: 'HOST_NETWORK',
      trustDomain: '',
      networkGateway: null,
      nativeTunnel: false,
    });
    expect(w.applicationTunnel).toEqual({ protocol: 'PROXY', port: 15088 });
  });
});

describe('istio.security.Authorization field numbers and shape', () => {
  it('encodes scope 3, action 4, rules 5, dry_run 6 and the match kinds at 1..12', () => {
    expect(
      hex(
        encodeAuthorization({
          name: 'p',
          namespace: 'n',
          scope: 'WORKLOAD_SELECTOR',
          action: 'DENY',
          dryRun: true,
        }),
      ),
    ).toBe('0a017012016e180220013001');
    // Rule{Clause{Match{destination_ports=9:[80], not_principals=4:[{exact=1:"x"}]}}}
    expect(
      hex(
        encodeAuthorization({
          rules: [{ clauses: [{ matches: [{ notPrincipals: [{ exact: 'x' }], destinationPorts: [80] }] }] }],
        }),
      ),
      // 2a0c rules · 0a0a clauses · 1208 matches · 2203 not_principals{0a0178 exact "x"} · 4a0150 packed destination_ports [80]
    ).toBe('2a0c0a0a120822030a01784a0150');
  });

  it('decodes to camelCase with oneof names and presence as {}', () => {
    const p = decodeAuthorization(
      encodeAuthorization({
        name: 'p',
        namespace: 'n',
        rules: [
          {
            clauses: [
              {
                matches: [
                  {
                    principals: [{ prefix: 'cluster.local/ns/a/' }, { presence: {} }],
                    sourceIps: [{ address: new Uint8Array([10, 0, 0, 0]), length: 8 }],
                    serviceAccounts: [{ namespace: 'a', serviceAccount: 'b' }],
                    notDestinationPorts: [22],
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const m = p.rules[0]!.clauses[0]!.matches[0]!;
    expect(m.principals).toEqual([
      { matchType: 'prefix', prefix: 'cluster.local/ns/a/' },
      { matchType: 'presence', presence: {} },
    ]);
    expect([...m.sourceIps[0]!.address]).toEqual([10, 0, 0, 0]);
    expect(m.sourceIps[0]!.length).toBe(8);
    expect(m.serviceAccounts).toEqual([{ namespace: 'a', serviceAccount: 'b' }]);
    expect(m.notDestinationPorts).toEqual([22]);
    expect(m.notNamespaces).toEqual([]);
    expect(p).toMatchObject({ scope: 'GLOBAL', action: 'ALLOW', dryRun: false });
  });

  it('round-trips any policy (fast-check, time-boxed)', () => {
    const stringMatch = fc.oneof(
      fc.string().map((exact) => ({ matchType: 'exact' as const, exact })),
      fc.string().map((prefix) => ({ matchType: 'prefix' as const, prefix })),
      fc.string().map((suffix) => ({ matchType: 'suffix' as const, suffix })),
      fc.constant({ matchType: 'presence' as const, presence: {} }),
    );
    const match = fc.record({
      principals: fc.array(stringMatch, { maxLength: 3 }),
      notNamespaces: fc.array(stringMatch, { maxLength: 2 }),
      destinationPorts: fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 3 }),
    });
    const policy = fc.record({
      name: fc.string({ minLength: 1 }),
      namespace: fc.string(),
      scope: fc.constantFrom('GLOBAL' as const, 'NAMESPACE' as const, 'WORKLOAD_SELECTOR' as const),
      action: fc.constantFrom('ALLOW' as const, 'DENY' as const),
      dryRun: fc.boolean(),
      rules: fc.array(
        fc.record({
          clauses: fc.array(fc.record({ matches: fc.array(match, { maxLength: 2 }) }), { maxLength: 2 }),
        }),
        { maxLength: 3 },
      ),
    });
    fc.assert(
      fc.property(policy, (p) => {
        const decoded = decodeAuthorization(encodeAuthorization(p));
        expect(decoded).toMatchObject(p);
      }),
      { interruptAfterTimeLimit: 2000, numRuns: 300 },
    );
  });
});

describe('codec errors', () => {
  it('throws XDS_ERR_DECODE for bytes that are not the message, at every truncation of a valid one', () => {
    const bytes = encodeAddress({ type: 'workload', workload: { uid: 'abc', name: 'n' } });
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(() => decodeAddress(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(
        expect.objectContaining({ code: 'XDS_ERR_DECODE' }),
      );
    }
    expect(() => decodeAuthorization(new Uint8Array([0xff]))).toThrow(
      expect.objectContaining({ code: 'XDS_ERR_DECODE' }),
    );
    // A string field longer than the message, given as a Node Buffer (protobufjs is lenient there).
    expect(() => decodeMessage('envoy.config.listener.v3.Listener', Buffer.from([0x0a, 0x09, 0x61]))).toThrow(
      expect.objectContaining({ code: 'XDS_ERR_DECODE' }),
    );
  });

  it('throws XDS_ERR_UNKNOWN_TYPE for an unknown message and XDS_ERR_ENCODE for a bad value', () => {
    expect(() => encodeMessage('example.Nope', {})).toThrow(
      expect.objectContaining({ code: 'XDS_ERR_UNKNOWN_TYPE' }),
    );
    expect(() => encodeAuthorization({ action: 'MAYBE' as never, rules: 'x' as never })).toThrow(
      expect.objectContaining({ code: 'XDS_ERR_ENCODE' }),
    );
    expect(isKnownTypeUrl(TypeUrl.address)).toBe(true);
    expect(isKnownTypeUrl('type.googleapis.com/example.Nope')).toBe(false);
  });
});

describe('prepared responses', () => {
  it('encode the same bytes a full DiscoveryResponse would', () => {
    const value = encodeAddress({ type: 'workload', workload: { uid: 'w' } });
    const prepared = encodePreparedDiscoveryResponse({
      versionInfo: '7',
      typeUrl: TypeUrl.address,
      nonce: '3',
      resources: [encodeAny(TypeUrl.address, value)],
    });
    const reference = encodeMessage('envoy.service.discovery.v3.DiscoveryResponse', {
      versionInfo: '7',
      typeUrl: TypeUrl.address,
      nonce: '3',
      resources: [{ typeUrl: TypeUrl.address, value }],
    });
    expect(hex(prepared)).toBe(hex(reference));
    expect(decodeDiscoveryResponse(prepared).resources[0]?.typeUrl).toBe(TypeUrl.address);
  });

  it('encode Delta resources and removals that decode back', () => {
    const value = encodeAddress({ type: 'workload', workload: { uid: 'w' } });
    const bytes = encodePreparedDeltaDiscoveryResponse({
      systemVersionInfo: '1',
      typeUrl: TypeUrl.address,
      nonce: 'n',
      resources: [encodeDeltaResource('w', 'v1', TypeUrl.address, value)],
      removedResources: ['gone'],
    });
    const decoded = decodeDeltaDiscoveryResponse(bytes);
    expect(decoded).toMatchObject({
      systemVersionInfo: '1',
      typeUrl: TypeUrl.address,
      nonce: 'n',
      removedResources: ['gone'],
    });
    expect(decoded.resources[0]).toMatchObject({
      name: 'w',
      version: 'v1',
      resource: { typeUrl: TypeUrl.address },
    });
    expect(decodeAddress(decoded.resources[0]!.resource!.value).workload?.uid).toBe('w');
  });
});

describe('Struct helpers', () => {
  it('round-trip JSON metadata through google.protobuf.Struct', () => {
    const json = {
      NAMESPACE: 'istio-system',
      CLUSTER_ID: 'Kubernetes',
      count: 2,
      on: true,
      none: null,
      list: ['a', 1],
      nested: { k: 'v' },
    };
    const struct = structFromJson(json);
    const back = decodeMessage<{ fields: object }>(
      'google.protobuf.Struct',
      encodeMessage('google.protobuf.Struct', struct),
    );
    expect(structToJson(back as never)).toEqual(json);
  });
});
