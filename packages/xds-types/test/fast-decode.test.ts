import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DECODE_OPTIONS,
  decodeAddress,
  decodeAuthorization,
  decodeDeltaDiscoveryResponse,
  decodeDiscoveryResponse,
  decodeMessage,
  encodeMessage,
  encodeAddress,
  encodeAuthorization,
  encodeDeltaResource,
  encodeDeltaResourceFields,
  encodePreparedDeltaDiscoveryResponse,
  encodePreparedDiscoveryResponse,
  messageType,
  scanDeltaDiscoveryResponse,
  XdsCodecError,
} from '../src/index.js';

// The reference: protobufjs decode + toObject, what decodeAddress and
// decodeAuthorization returned before they were written by hand.
function reference(fullName: string, bytes: Uint8Array): unknown {
  const type = messageType(fullName);
  return type.toObject(type.decode(Buffer.from(bytes)), DECODE_OPTIONS);
}

// Keys in order, recursively, with the kind of every leaf: catches a
// different key order, a missing default or a Uint8Array that is no Buffer.
function layout(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return `Buffer:${value.toString('hex')}`;
  if (value instanceof Uint8Array) return `Uint8Array:${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value)) return value.map(layout);
  if (value !== null && typeof value === 'object')
    return Object.keys(value).map((key) => [key, layout((value as Record<string, unknown>)[key])]);
  return value;
}

/**
 * The hand-written decoder against protobufjs. On valid bytes it must give the
 * same value; only for `corrupted` bytes may it refuse what protobufjs reads.
 */
function sameAsReference(
  fullName: string,
  bytes: Uint8Array,
  decode: (b: Uint8Array) => unknown,
  corrupted = false,
): void {
  let expected: unknown;
  let referenceError: unknown;
  try {
    expected = reference(fullName, bytes);
  } catch (error) {
    referenceError = error;
  }
  if (referenceError !== undefined) {
    // Whatever protobufjs refuses, the hand-written decoder refuses too.
    expect(() => decode(bytes)).toThrow(XdsCodecError);
    return;
  }
  if (!corrupted) {
    expect(layout(decode(bytes))).toEqual(layout(expected));
    return;
  }
  let actual: unknown;
  try {
    actual = decode(bytes);
  } catch (error) {
    // Stricter only where protobufjs reads past a bound without checking
    // (it then produces garbage): a decode error, never a different value.
    expect(error).toBeInstanceOf(XdsCodecError);
    return;
  }
  expect(layout(actual)).toEqual(layout(expected));
}

const text = fc.string({ maxLength: 12 });
const unicode = fc.string({ maxLength: 6, unit: 'grapheme' });
const ip = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);
const enumNumber = (max: number) => fc.integer({ min: 0, max: max + 2 });
const port = fc.record(
  { servicePort: fc.nat(65_535), targetPort: fc.nat(65_535), appProtocol: enumNumber(5) },
  { requiredKeys: [] },
);
const gateway = fc.record(
  {
    hostname: fc.record({ namespace: text, hostname: text }, { requiredKeys: [] }),
    address: fc.record({ network: text, address: ip }, { requiredKeys: [] }),
    hboneMtlsPort: fc.nat(65_535),
  },
  { requiredKeys: [] },
);
const workload = fc.record(
  {
    uid: text,
    name: unicode,
    namespace: text,
    addresses: fc.array(ip, { maxLength: 3 }),
    hostname: text,
    network: text,
    tunnelProtocol: enumNumber(1),
    trustDomain: text,
    serviceAccount: text,
    waypoint: gateway,
    networkGateway: gateway,
    node: text,
    canonicalName: text,
    canonicalRevision: text,
    workloadType: enumNumber(3),
    workloadName: text,
    nativeTunnel: fc.boolean(),
    services: fc.dictionary(text, fc.record({ ports: fc.array(port, { maxLength: 2 }) }), { maxKeys: 3 }),
    authorizationPolicies: fc.array(text, { maxLength: 3 }),
    status: enumNumber(1),
    clusterId: text,
    applicationTunnel: fc.record({ protocol: enumNumber(1), port: fc.nat(65_535) }, { requiredKeys: [] }),
    locality: fc.record({ region: text, zone: text, subzone: text }, { requiredKeys: [] }),
    networkMode: enumNumber(1),
  },
  { requiredKeys: [] },
);
const service = fc.record(
  {
    name: text,
    namespace: text,
    hostname: text,
    addresses: fc.array(fc.record({ network: text, address: ip }, { requiredKeys: [] }), { maxLength: 2 }),
    ports: fc.array(port, { maxLength: 3 }),
    subjectAltNames: fc.array(text, { maxLength: 2 }),
    waypoint: gateway,
    loadBalancing: fc.record(
      {
        routingPreference: fc.array(enumNumber(6), { maxLength: 3 }),
        mode: enumNumber(2),
        healthPolicy: enumNumber(1),
      },
      { requiredKeys: [] },
    ),
    ipFamilies: enumNumber(3),
  },
  { requiredKeys: [] },
);
const address = fc.oneof(
  fc.record({ workload }),
  fc.record({ service }),
  fc.record({ workload, service }),
  fc.constant({}),
);

const stringMatch = fc.oneof(
  fc.record({ exact: text }),
  fc.record({ prefix: text }),
  fc.record({ suffix: text }),
  fc.record({ presence: fc.constant({}) }),
  fc.constant({}),
);
const cidr = fc.record({ address: ip, length: fc.nat(128) }, { requiredKeys: [] });
const saMatch = fc.record({ namespace: text, serviceAccount: text }, { requiredKeys: [] });
const match = fc.record(
  {
    namespaces: fc.array(stringMatch, { maxLength: 2 }),
    notNamespaces: fc.array(stringMatch, { maxLength: 2 }),
    principals: fc.array(stringMatch, { maxLength: 2 }),
    notPrincipals: fc.array(stringMatch, { maxLength: 2 }),
    sourceIps: fc.array(cidr, { maxLength: 2 }),
    notSourceIps: fc.array(cidr, { maxLength: 2 }),
    destinationIps: fc.array(cidr, { maxLength: 2 }),
    notDestinationIps: fc.array(cidr, { maxLength: 2 }),
    destinationPorts: fc.array(fc.nat(65_535), { maxLength: 3 }),
    notDestinationPorts: fc.array(fc.nat(65_535), { maxLength: 3 }),
    serviceAccounts: fc.array(saMatch, { maxLength: 2 }),
    notServiceAccounts: fc.array(saMatch, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const authorization = fc.record(
  {
    name: unicode,
    namespace: text,
    scope: enumNumber(2),
    action: enumNumber(1),
    rules: fc.array(
      fc.record({
        clauses: fc.array(fc.record({ matches: fc.array(match, { maxLength: 2 }) }), { maxLength: 2 }),
      }),
      { maxLength: 2 },
    ),
    dryRun: fc.boolean(),
  },
  { requiredKeys: [] },
);

const encodeAddr = (value: object) => encodeAddress(value as never);
const encodeAuthz = (value: object) => encodeAuthorization(value as never);

describe('hand-written decoders give exactly the protobufjs toObject shape', () => {
  it('istio.workload.Address: keys, order, defaults, enum names (unknown numbers kept), Buffer bytes, oneof', () => {
    fc.assert(
      fc.property(address, (value) => {
        sameAsReference('istio.workload.Address', encodeAddr(value), decodeAddress);
      }),
      { numRuns: 400 },
    );
  });

  it('istio.security.Authorization: keys, order, defaults, StringMatch oneof, packed ports', () => {
    fc.assert(
      fc.property(authorization, (value) => {
        sameAsReference('istio.security.Authorization', encodeAuthz(value), decodeAuthorization);
      }),
      { numRuns: 400 },
    );
  });

  it('decodeMessage takes the same path for the two Istio types', () => {
    const bytes = encodeAddr({ workload: { uid: 'u', addresses: [new Uint8Array([10, 0, 0, 1])] } });
    expect(layout(decodeMessage('istio.workload.Address', bytes))).toEqual(
      layout(reference('istio.workload.Address', bytes)),
    );
  });

  it('accepts unpacked repeated ports and unknown fields of every wire type, like protobufjs', () => {
    // Match { destination_ports: 80 (unpacked), 443 (unpacked); field 99 varint, fixed64, fixed32, group, LEN }
    const match = Buffer.from([
      0x48, 0x50, 0x48, 0xbb, 0x03, 0x98, 0x06, 0x01, 0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0x9d, 0x06, 1, 2, 3,
      4, 0x9b, 0x06, 0x08, 0x01, 0x9c, 0x06, 0x9a, 0x06, 0x01, 0x00,
    ]);
    const clause = Buffer.concat([Buffer.from([0x12, match.length]), match]);
    const rule = Buffer.concat([Buffer.from([0x0a, clause.length]), clause]);
    const policy = Buffer.concat([Buffer.from([0x0a, 0x01, 0x70, 0x2a, rule.length]), rule]);
    sameAsReference('istio.security.Authorization', policy, decodeAuthorization);
    expect(decodeAuthorization(policy).rules[0]!.clauses[0]!.matches[0]!.destinationPorts).toEqual([80, 443]);
  });

  it('keeps a "__proto__" services key as an own key, like protobufjs', () => {
    const bytes = encodeAddr({
      workload: { uid: 'u', services: { ['__proto__']: { ports: [{ servicePort: 1 }] } } },
    });
    const decoded = decodeAddress(bytes);
    expect(Object.keys(decoded.workload!.services)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(decoded.workload!.services)).toBe(Object.prototype);
    sameAsReference('istio.workload.Address', bytes, decodeAddress);
  });

  it('refuses whatever protobufjs refuses and never returns another value for corrupted bytes', () => {
    const seeds = [
      encodeAddr({
        workload: {
          uid: 'Kubernetes//Pod/ns/p',
          addresses: [new Uint8Array([10, 0, 0, 1])],
          services: { 'ns/s': { ports: [{ servicePort: 80, targetPort: 8080 }] } },
          waypoint: {
            address: { network: 'n', address: new Uint8Array([10, 0, 0, 2]) },
            hboneMtlsPort: 15008,
          },
        },
      }),
      encodeAddr({
        service: {
          hostname: 'h',
          ports: [{ servicePort: 80 }],
          loadBalancing: { routingPreference: [1, 2] },
        },
      }),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }),
        fc.nat(),
        (seed, flips, cut) => {
          const bytes = Buffer.from(seed);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          sameAsReference(
            'istio.workload.Address',
            bytes.subarray(0, cut % (bytes.length + 1)),
            decodeAddress,
            true,
          );
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('decodes a range in place to what the same bytes decode to on their own (errors included)', () => {
    const seed = encodeAddr({
      workload: {
        uid: 'Kubernetes//Pod/ns/p',
        addresses: [new Uint8Array([10, 0, 0, 1])],
        services: { 'ns/s': { ports: [{ servicePort: 80, targetPort: 8080 }] } },
      },
    });
    const policy = encodeAuthorization({
      name: 'p',
      namespace: 'ns',
      rules: [{ clauses: [{ matches: [{ destinationPorts: [80] }] }] }],
    });
    const outcome = (decode: () => unknown): unknown => {
      try {
        return layout(decode());
      } catch (error) {
        return `${(error as Error).name}: ${(error as Error).message}`;
      }
    };
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 20 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 2 }),
        fc.nat(),
        (before, after, flips, cut) => {
          for (const [message, decode] of [
            [seed, decodeAddress],
            [policy, decodeAuthorization],
          ] as const) {
            const body = Buffer.from(message);
            for (const [at, value] of flips) body[at % body.length] = value;
            const own = body.subarray(0, cut % (body.length + 1));
            const all = Buffer.concat([before, own, after]);
            expect(outcome(() => decode(all, before.length, before.length + own.length))).toEqual(
              outcome(() => decode(Buffer.from(own))),
            );
          }
        },
      ),
      { numRuns: 1_000 },
    );
    expect(() => decodeAddress(seed, 2, 1)).toThrow(RangeError);
    expect(() => decodeAddress(seed, 0, seed.length + 1)).toThrow(RangeError);
  });

  it('refuses a string running past the end of its message', () => {
    // Workload { name: length 9, only 2 bytes follow }
    expect(() => decodeAddress(Buffer.from([0x0a, 0x04, 0x0a, 0x09, 0x61, 0x62]))).toThrow(XdsCodecError);
  });

  it('discovery responses decode to the fields protobufjs decodes (Delta and SotW)', () => {
    const toPlain = (fullName: string, bytes: Uint8Array): unknown => {
      const type = messageType(fullName);
      return type.toObject(type.decode(Buffer.from(bytes)), { defaults: true, arrays: true, objects: true });
    };
    const any = fc.record({ typeUrl: text, value: fc.uint8Array({ maxLength: 8 }) }, { requiredKeys: [] });
    const delta = fc.record(
      {
        systemVersionInfo: text,
        resources: fc.array(
          fc.record(
            { name: text, aliases: fc.array(text, { maxLength: 2 }), version: text, resource: any },
            { requiredKeys: [] },
          ),
          { maxLength: 4 },
        ),
        typeUrl: text,
        removedResources: fc.array(text, { maxLength: 3 }),
        nonce: text,
        controlPlane: fc.record({ identifier: text }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    );
    const sotw = fc.record(
      {
        versionInfo: text,
        resources: fc.array(any, { maxLength: 4 }),
        canary: fc.boolean(),
        typeUrl: text,
        nonce: text,
        controlPlane: fc.record({ identifier: text }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    );
    const sorted = (value: unknown): unknown =>
      JSON.parse(
        JSON.stringify(value, (_key, v: unknown) =>
          v !== null && typeof v === 'object' && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => a.localeCompare(b)))
            : v,
        ),
      );
    const check = (
      fullName: string,
      bytes: Uint8Array,
      decode: (b: Uint8Array) => unknown,
      corrupted = false,
    ): void => {
      let expected: unknown;
      try {
        expected = toPlain(fullName, bytes);
      } catch {
        expect(() => decode(bytes)).toThrow(XdsCodecError);
        return;
      }
      if (!corrupted) {
        expect(sorted(decode(bytes))).toEqual(sorted(expected));
        return;
      }
      let actual: unknown;
      try {
        actual = decode(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(XdsCodecError);
        return;
      }
      expect(sorted(actual)).toEqual(sorted(expected));
    };
    const deltaName = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';
    const sotwName = 'envoy.service.discovery.v3.DiscoveryResponse';
    fc.assert(
      fc.property(delta, fc.nat(), fc.nat(255), fc.nat(), (value, at, byte, cut) => {
        const bytes = Buffer.from(encodeMessage(deltaName, value));
        check(deltaName, bytes, decodeDeltaDiscoveryResponse);
        if (bytes.length > 0) bytes[at % bytes.length] = byte;
        check(deltaName, bytes.subarray(0, cut % (bytes.length + 1)), decodeDeltaDiscoveryResponse, true);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(sotw, (value) => check(sotwName, encodeMessage(sotwName, value), decodeDiscoveryResponse)),
      { numRuns: 300 },
    );
  });

  it('a scanned Delta response refuses what the decoder refuses and visits the same resources', () => {
    const deltaName = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';
    const any = fc.record({ typeUrl: text, value: fc.uint8Array({ maxLength: 8 }) }, { requiredKeys: [] });
    const delta = fc.record(
      {
        systemVersionInfo: text,
        resources: fc.array(
          fc.record(
            {
              name: text,
              aliases: fc.array(text, { maxLength: 2 }),
              version: text,
              resource: any,
              ttl: fc.record({ seconds: fc.nat(1000), nanos: fc.nat(999) }, { requiredKeys: [] }),
            },
            { requiredKeys: [] },
          ),
          { maxLength: 4 },
        ),
        typeUrl: text,
        removedResources: fc.array(text, { maxLength: 3 }),
        nonce: text,
        controlPlane: fc.record({ identifier: text }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    );
    const visited = (bytes: Uint8Array): unknown => {
      const scan = scanDeltaDiscoveryResponse(bytes);
      const resources: unknown[] = [];
      scan.forEachResource((r) =>
        resources.push({
          name: r.name,
          version: r.version,
          resource: r.hasBody
            ? { typeUrl: r.typeUrl, value: Buffer.from(r.bytes.subarray(r.start, r.end)).toString('hex') }
            : null,
        }),
      );
      expect(scan.resourceCount).toBe(resources.length);
      return { ...scan, resources };
    };
    const decoded = (bytes: Uint8Array): unknown => {
      const d = decodeDeltaDiscoveryResponse(bytes);
      return {
        systemVersionInfo: d.systemVersionInfo,
        typeUrl: d.typeUrl,
        nonce: d.nonce,
        removedResources: d.removedResources,
        resourceCount: d.resources.length,
        resources: d.resources.map((r) => ({
          name: r.name,
          version: r.version,
          resource:
            r.resource === null
              ? null
              : { typeUrl: r.resource.typeUrl, value: Buffer.from(r.resource.value).toString('hex') },
        })),
      };
    };
    const same = (bytes: Uint8Array): void => {
      let expected: unknown;
      try {
        expected = decoded(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(XdsCodecError);
        expect(() => scanDeltaDiscoveryResponse(bytes)).toThrow(XdsCodecError);
        return;
      }
      const actual = visited(bytes) as Record<string, unknown>;
      delete actual.forEachResource;
      expect(actual).toEqual(expected);
    };
    // Known fields with a wrong wire type are still read as length-delimited
    // (like protobufjs); the visit must walk them the same way as the scan.
    // Resource { aliases (varint wire type) "A", name "n", version (varint wire type) "v" }
    const resource = [0x20, 0x01, 0x41, 0x1a, 0x01, 0x6e, 0x08, 0x01, 0x76];
    same(Buffer.from([0x12, resource.length, ...resource, 0x22, 0x01, 0x74]));
    expect(
      (visited(Buffer.from([0x12, resource.length, ...resource])) as { resources: unknown[] }).resources,
    ).toEqual([{ name: 'n', version: 'v', resource: null }]);
    fc.assert(
      fc.property(
        delta,
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 3 }),
        fc.nat(),
        (value, flips, cut) => {
          const bytes = Buffer.from(encodeMessage(deltaName, value));
          same(bytes);
          for (const [at, byte] of flips) if (bytes.length > 0) bytes[at % bytes.length] = byte;
          same(bytes.subarray(0, cut % (bytes.length + 1)));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("a scanned resource's type URL is the UTF-8 of its own bytes, whatever the response's type URL", () => {
    const deltaName = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';
    // "é" is C3 A9 in UTF-8: two bytes that read "Ã©" (the response's type URL) in Latin-1.
    const typeUrls = (responseType: string, bodyTypes: string[]): string[] => {
      const bytes = encodeMessage(deltaName, {
        typeUrl: responseType,
        resources: bodyTypes.map((typeUrl, i) => ({ name: `r${i}`, resource: { typeUrl, value: [] } })),
      });
      const seen: string[] = [];
      scanDeltaDiscoveryResponse(bytes).forEachResource((r) => seen.push(r.typeUrl));
      return seen;
    };
    expect(typeUrls('Ã©', ['é', 'Ã©', 'Ã'])).toEqual(['é', 'Ã©', 'Ã']);
    expect(
      typeUrls('type.googleapis.com/a.B', ['type.googleapis.com/a.B', 'type.googleapis.com/a.C', '']),
    ).toEqual(['type.googleapis.com/a.B', 'type.googleapis.com/a.C', '']);
  });

  it('prepared responses are the bytes protobufjs writes for the same message', () => {
    const resource = fc.record({ name: unicode, version: text, value: fc.uint8Array({ maxLength: 300 }) });
    fc.assert(
      fc.property(
        fc.array(resource, { maxLength: 5 }),
        unicode,
        // Prepared responses always write type_url and nonce (never empty in a server response).
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.array(unicode, { maxLength: 3 }),
        (resources, version, nonce, removed) => {
          const typeUrl = 'type.googleapis.com/istio.workload.Address';
          const delta = encodePreparedDeltaDiscoveryResponse({
            systemVersionInfo: version,
            typeUrl,
            nonce,
            resources: resources.map((r) => encodeDeltaResource(r.name, r.version, typeUrl, r.value)),
            removedResources: removed,
          });
          // An empty version is left out (proto3 default); protobufjs writes an explicit ''.
          const expected = encodeMessage('envoy.service.discovery.v3.DeltaDiscoveryResponse', {
            ...(version ? { systemVersionInfo: version } : {}),
            resources: resources.map((r) => ({
              name: r.name,
              version: r.version,
              resource: { typeUrl, value: r.value },
            })),
            typeUrl,
            nonce,
            removedResources: removed,
          });
          expect(Buffer.from(delta).equals(Buffer.from(expected))).toBe(true);
          // The same resources pre-encoded once (a server's shared full state), split anywhere.
          const encoded = resources.map((r) => encodeDeltaResource(r.name, r.version, typeUrl, r.value));
          const split = Math.floor(encoded.length / 2);
          const shared = encodePreparedDeltaDiscoveryResponse({
            systemVersionInfo: version,
            typeUrl,
            nonce,
            encodedResources: encodeDeltaResourceFields(encoded.slice(0, split)),
            resources: encoded.slice(split),
            removedResources: removed,
          });
          expect(Buffer.from(shared).equals(Buffer.from(expected))).toBe(true);
          const sotw = encodePreparedDiscoveryResponse({
            versionInfo: version,
            typeUrl,
            nonce,
            resources: resources.map((r) =>
              encodeMessage('google.protobuf.Any', { typeUrl, value: r.value }),
            ),
          });
          const expectedSotw = encodeMessage('envoy.service.discovery.v3.DiscoveryResponse', {
            ...(version ? { versionInfo: version } : {}),
            resources: resources.map((r) => ({ typeUrl, value: r.value })),
            typeUrl,
            nonce,
          });
          expect(Buffer.from(sotw).equals(Buffer.from(expectedSotw))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
