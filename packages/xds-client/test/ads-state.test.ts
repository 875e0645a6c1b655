import {
  type DeltaDiscoveryResponse,
  type DiscoveryResponse,
  encodeAddress,
  encodeAuthorization,
  encodeDeltaDiscoveryResponse,
  encodeMessage,
  scanDeltaDiscoveryResponse,
  TypeUrl,
} from '@amesh/xds-types';
import { describe, expect, it } from 'vitest';
import { AdsState, builtinResourceTypes, ResourceTypeRegistry, WILDCARD } from '../src/index.js';
import { policy, workload } from './helpers.js';

const node = { id: 'ztunnel~10.0.0.1~zt.istio-system~istio-system.svc.cluster.local' };
const registry = () => new ResourceTypeRegistry(builtinResourceTypes);

function delta(
  resources: Array<[string, string, Uint8Array]>,
  removed: string[] = [],
  nonce = 'n1',
  typeUrl: string = TypeUrl.address,
): DeltaDiscoveryResponse {
  return {
    systemVersionInfo: '',
    typeUrl,
    nonce,
    removedResources: removed,
    resources: resources.map(([name, version, value]) => ({
      name,
      version,
      aliases: [],
      resource: { typeUrl, value },
    })),
  };
}

function sotw(
  resources: Uint8Array[],
  versionInfo: string,
  nonce: string,
  typeUrl: string = TypeUrl.address,
): DiscoveryResponse {
  return {
    versionInfo,
    typeUrl,
    nonce,
    canary: false,
    resources: resources.map((value) => ({ typeUrl, value })),
  };
}

describe('Delta: subscription requests', () => {
  it('sends a legacy wildcard (no names) with the node on the first request only', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.address, WILDCARD);
    state.subscribe(TypeUrl.authorization, WILDCARD);
    const [first, second] = state.streamStarted();
    expect(first).toEqual({
      mode: 'delta',
      message: { typeUrl: TypeUrl.address, resourceNamesSubscribe: [], initialResourceVersions: {}, node },
    });
    expect(second?.message).not.toHaveProperty('node');
  });

  it('spells out "*" when explicit names are added to a wildcard, and subscribes incrementally', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.address, WILDCARD);
    state.subscribe(TypeUrl.address, 'w9');
    expect(state.streamStarted()[0]?.message).toMatchObject({ resourceNamesSubscribe: ['*', 'w9'] });
    expect(state.subscribe(TypeUrl.address, 'w10')).toEqual([
      { mode: 'delta', message: { typeUrl: TypeUrl.address, resourceNamesSubscribe: ['w10'] } },
    ]);
    expect(state.unsubscribe(TypeUrl.address, 'w10')).toEqual([
      { mode: 'delta', message: { typeUrl: TypeUrl.address, resourceNamesUnsubscribe: ['w10'] } },
    ]);
  });

  it('refuses a type URL missing from the registry', () => {
    const state = new AdsState({ mode: 'delta', node, registry: new ResourceTypeRegistry() });
    expect(() => state.subscribe(TypeUrl.address, WILDCARD)).toThrow(
      expect.objectContaining({ code: 'XDS_ERR_UNKNOWN_TYPE_URL' }),
    );
  });
});

describe('Delta: ACK, NACK and last known good', () => {
  it('ACKs a valid response and reports changes', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.address, WILDCARD);
    state.streamStarted();
    const outcome = state.handleDeltaResponse(
      delta([['w1', '1', encodeAddress(workload('w1', [10, 0, 0, 1]))]]),
    );
    expect(outcome.requests).toEqual([
      { mode: 'delta', message: { typeUrl: TypeUrl.address, responseNonce: 'n1' } },
    ]);
    expect(outcome.events).toMatchObject([{ kind: 'changed', name: 'w1' }]);
    expect(state.get(TypeUrl.address, 'w1')).toMatchObject({ state: 'acked', version: '1' });
  });

  it('NACKs with error_detail naming each bad resource, accepts the good ones, keeps the last good value', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.address, WILDCARD);
    state.streamStarted();
    state.handleDeltaResponse(delta([['w1', '1', encodeAddress(workload('w1', [10, 0, 0, 1]))]]));
    const outcome = state.handleDeltaResponse(
      delta(
        [
          ['w1', '2', new Uint8Array([0xff, 0xff])],
          ['w2', '1', encodeAddress(workload('w2', [10, 0, 0, 2]))],
          ['w3', '1', encodeAddress({ type: 'service', service: { name: 'x' } })],
        ],
        [],
        'n2',
      ),
    );
    const nack = outcome.requests[0]?.message as {
      responseNonce: string;
      errorDetail: { code: number; message: string };
    };
    expect(nack.responseNonce).toBe('n2');
    expect(nack.errorDetail.code).toBe(3);
    expect(nack.errorDetail.message).toMatch(
      /^2 invalid type\.googleapis\.com\/istio\.workload\.Address resource\(s\): XDS_ERR_RESOURCE_INVALID: undecodable istio\.workload\.Address/,
    );
    expect(nack.errorDetail.message).toMatch(/Address\.service has no hostname/);
    expect(state.get(TypeUrl.address, 'w1')).toMatchObject({
      state: 'nacked',
      version: '1',
      value: { type: 'workload' },
    });
    expect(state.get(TypeUrl.address, 'w2')).toMatchObject({ state: 'acked' });
    expect(state.get(TypeUrl.address, 'w3')).toMatchObject({ state: 'nacked', value: undefined });
    expect(outcome.events.map((e) => e.kind).sort()).toEqual(['changed', 'nacked']);
  });

  it('NACKs a resource whose Any type differs from the response type', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.address, WILDCARD);
    state.streamStarted();
    const response = delta([['w1', '1', encodeAddress(workload('w1', [10, 0, 0, 1]))]]);
    response.resources[0]!.resource!.typeUrl = TypeUrl.authorization;
    const outcome = state.handleDeltaResponse(response);
    expect(outcome.events).toMatchObject([
      { kind: 'nacked', errors: [{ code: 'XDS_ERR_RESOURCE_TYPE_MISMATCH' }] },
    ]);
  });

  it('NACKs a response for an unknown type URL', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.address, WILDCARD);
    state.streamStarted();
    const outcome = state.handleDeltaResponse(delta([], [], 'n7', 'type.googleapis.com/example.Unknown'));
    expect(outcome.requests[0]?.message).toMatchObject({
      typeUrl: 'type.googleapis.com/example.Unknown',
      responseNonce: 'n7',
      errorDetail: { code: 3 },
    });
    expect(outcome.events).toMatchObject([
      { kind: 'nacked', errors: [{ code: 'XDS_ERR_UNKNOWN_TYPE_URL' }] },
    ]);
  });

  it('marks a removed explicit name does-not-exist and forgets a removed wildcard one', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.authorization, WILDCARD);
    state.subscribe(TypeUrl.authorization, 'ns/wanted');
    state.streamStarted();
    expect(state.get(TypeUrl.authorization, 'ns/wanted')).toEqual({ state: 'requested' });
    state.handleDeltaResponse(
      delta([['default/p', '1', encodeAuthorization(policy('p', 'x'))]], [], 'n1', TypeUrl.authorization),
    );
    const outcome = state.handleDeltaResponse(
      delta([], ['default/p', 'ns/wanted'], 'n2', TypeUrl.authorization),
    );
    expect(outcome.events).toMatchObject([
      { kind: 'removed', name: 'default/p' },
      { kind: 'removed', name: 'ns/wanted' },
    ]);
    expect(state.get(TypeUrl.authorization, 'default/p')).toBeUndefined();
    expect(state.get(TypeUrl.authorization, 'ns/wanted')).toEqual({ state: 'does-not-exist' });
  });

  it('sends initial_resource_versions of what it holds on a new stream, last good included', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.address, WILDCARD);
    state.streamStarted();
    state.handleDeltaResponse(
      delta([
        ['w1', 'v1', encodeAddress(workload('w1', [10, 0, 0, 1]))],
        ['w2', 'v7', encodeAddress(workload('w2', [10, 0, 0, 2]))],
      ]),
    );
    state.handleDeltaResponse(delta([['w2', 'v8', new Uint8Array([0xff])]], [], 'n2'));
    state.streamEnded();
    expect(state.get(TypeUrl.address, 'w1')?.state).toBe('acked');
    const [request] = state.streamStarted();
    expect(request?.message).toMatchObject({ initialResourceVersions: { w1: 'v1', w2: 'v7' }, node });
  });

  it('refuses a resource over maxResourceBytes (limit ±1)', () => {
    const bytes = encodeAddress(workload('w1', [10, 0, 0, 1]));
    for (const [limit, ok] of [
      [bytes.length, true],
      [bytes.length - 1, false],
    ] as const) {
      const state = new AdsState({ mode: 'delta', node, registry: registry(), maxResourceBytes: limit });
      state.subscribe(TypeUrl.address, WILDCARD);
      state.streamStarted();
      const outcome = state.handleDeltaResponse(delta([['w1', '1', bytes]]));
      expect(outcome.events[0]?.kind).toBe(ok ? 'changed' : 'nacked');
    }
  });
});

describe('SotW: versions, full-state removal, NACK', () => {
  const listener = (name: string) => encodeMessage('envoy.config.listener.v3.Listener', { name });

  it('ACKs with the new version and resource names; removes what a full-state response leaves out', () => {
    const state = new AdsState({ mode: 'sotw', node, registry: registry() });
    state.subscribe(TypeUrl.listener, WILDCARD);
    expect(state.streamStarted()).toEqual([
      {
        mode: 'sotw',
        message: { typeUrl: TypeUrl.listener, versionInfo: '', resourceNames: [], responseNonce: '', node },
      },
    ]);
    const first = state.handleSotwResponse(sotw([listener('a'), listener('b')], '1', 'n1', TypeUrl.listener));
    expect(first.requests[0]?.message).toEqual({
      typeUrl: TypeUrl.listener,
      versionInfo: '1',
      resourceNames: [],
      responseNonce: 'n1',
    });
    const second = state.handleSotwResponse(sotw([listener('a')], '2', 'n2', TypeUrl.listener));
    expect(second.events).toEqual([{ kind: 'removed', typeUrl: TypeUrl.listener, name: 'b' }]);
    expect(state.version(TypeUrl.listener)).toBe('2');
  });

  it('NACKs with the previous version and removes nothing when a resource cannot be named', () => {
    const state = new AdsState({ mode: 'sotw', node, registry: registry() });
    state.subscribe(TypeUrl.listener, WILDCARD);
    state.streamStarted();
    state.handleSotwResponse(sotw([listener('a'), listener('b')], '1', 'n1', TypeUrl.listener));
    const outcome = state.handleSotwResponse(
      sotw([listener('a'), new Uint8Array([0x0a, 0x05])], '2', 'n2', TypeUrl.listener),
    );
    expect(outcome.requests[0]?.message).toMatchObject({
      versionInfo: '1',
      responseNonce: 'n2',
      errorDetail: { code: 3 },
    });
    expect(state.get(TypeUrl.listener, 'b')?.state).toBe('acked');
    expect(state.version(TypeUrl.listener)).toBe('1');
  });

  it('marks a named EDS resource absent from a response as still requested (not full-state)', () => {
    const state = new AdsState({ mode: 'sotw', node, registry: registry() });
    state.subscribe(TypeUrl.clusterLoadAssignment, 'x');
    state.subscribe(TypeUrl.clusterLoadAssignment, 'y');
    state.streamStarted();
    const cla = encodeMessage('envoy.config.endpoint.v3.ClusterLoadAssignment', { clusterName: 'x' });
    state.handleSotwResponse(sotw([cla], '1', 'n1', TypeUrl.clusterLoadAssignment));
    expect(state.get(TypeUrl.clusterLoadAssignment, 'x')?.state).toBe('acked');
    expect(state.get(TypeUrl.clusterLoadAssignment, 'y')?.state).toBe('requested');
  });

  it('marks an explicitly named full-state resource absent from a response does-not-exist', () => {
    const state = new AdsState({ mode: 'sotw', node, registry: registry() });
    state.subscribe(TypeUrl.cluster, 'c1');
    state.streamStarted();
    const outcome = state.handleSotwResponse(sotw([], '1', 'n1', TypeUrl.cluster));
    expect(outcome.events).toEqual([{ kind: 'removed', typeUrl: TypeUrl.cluster, name: 'c1' }]);
    expect(state.get(TypeUrl.cluster, 'c1')).toEqual({ state: 'does-not-exist' });
  });
});

describe('Delta: telling a real change from a resend', () => {
  it('raises no change for the same bytes at another offset, and one for different bytes of the same length', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.address, WILDCARD);
    state.streamStarted();
    const a = encodeAddress({ type: 'workload', workload: { uid: 'w1', name: 'a' } });
    const b = encodeAddress({ type: 'workload', workload: { uid: 'w1', name: 'b' } });
    expect(a.length).toBe(b.length);
    // Each copy sits at a different offset of a larger buffer, as in a real response.
    const inside = (bytes: Uint8Array, at: number): Uint8Array => {
      const frame = new Uint8Array(bytes.length + at + 3);
      frame.set(bytes, at);
      return frame.subarray(at, at + bytes.length);
    };
    const first = state.handleDeltaResponse(delta([['w1', '1', inside(a, 7)]], [], 'n1'));
    expect(first.events.map((e) => e.kind)).toEqual(['changed']);
    const resend = state.handleDeltaResponse(delta([['w1', '2', inside(a, 2)]], [], 'n2'));
    expect(resend.events).toEqual([]);
    expect(state.get(TypeUrl.address, 'w1')).toMatchObject({ state: 'acked', version: '2' });
    const changed = state.handleDeltaResponse(delta([['w1', '3', inside(b, 5)]], [], 'n3'));
    expect(changed.events.map((e) => e.kind)).toEqual(['changed']);
    expect(state.get(TypeUrl.address, 'w1')).toMatchObject({
      state: 'acked',
      version: '3',
      value: { workload: { name: 'b' } },
    });
  });
});

describe('Delta: outcome and status shape', () => {
  it('builds the events of an outcome once, in order: changes, then removals, then the NACK', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.address, WILDCARD);
    state.streamStarted();
    state.handleDeltaResponse(delta([['old', '1', encodeAddress(workload('old', [10, 0, 0, 9]))]]));
    const outcome = state.handleDeltaResponse(
      delta(
        [
          ['w1', '1', encodeAddress(workload('w1', [10, 0, 0, 1]))],
          ['bad', '1', Buffer.from([0x0a, 0x09, 0x01])],
          ['w2', '1', encodeAddress(workload('w2', [10, 0, 0, 2]))],
        ],
        ['old'],
        'n2',
      ),
    );
    expect(outcome.events).toBe(outcome.events);
    expect(outcome.events.map((e) => [e.kind, 'name' in e ? e.name : e.nonce])).toEqual([
      ['changed', 'w1'],
      ['changed', 'w2'],
      ['removed', 'old'],
      ['nacked', 'n2'],
    ]);
    const w1 = state.get(TypeUrl.address, 'w1');
    expect(w1?.state).toBe('acked');
    expect(outcome.events[0]).toEqual({
      kind: 'changed',
      typeUrl: TypeUrl.address,
      name: 'w1',
      value: w1?.state === 'acked' ? w1.value : undefined,
    });
  });

  it('gives each status with exactly its own keys', () => {
    const state = new AdsState({ mode: 'delta', node, registry: registry() });
    state.subscribe(TypeUrl.address, WILDCARD);
    state.subscribe(TypeUrl.address, 'gone');
    state.subscribe(TypeUrl.address, 'waiting');
    state.streamStarted();
    state.handleDeltaResponse(delta([['w1', '1', encodeAddress(workload('w1', [10, 0, 0, 1]))]], ['gone']));
    state.handleDeltaResponse(delta([['w1', '2', Buffer.from([0x0a, 0x09, 0x01])]], [], 'n2'));
    state.handleDeltaResponse(delta([['w2', '7', encodeAddress(workload('w2', [10, 0, 0, 2]))]], [], 'n3'));
    const keys = (name: string): string[] => Object.keys(state.get(TypeUrl.address, name) ?? {});
    expect(keys('w2')).toEqual(['state', 'value', 'version']);
    expect(state.get(TypeUrl.address, 'w2')).toMatchObject({ state: 'acked', version: '7' });
    expect(keys('w1')).toEqual(['state', 'error', 'value', 'version']);
    expect(state.get(TypeUrl.address, 'w1')).toMatchObject({ state: 'nacked', version: '1' });
    expect(state.get(TypeUrl.address, 'gone')).toEqual({ state: 'does-not-exist' });
    expect(state.get(TypeUrl.address, 'waiting')).toEqual({ state: 'requested' });
    expect([...state.resources(TypeUrl.address).keys()].sort()).toEqual(['gone', 'w1', 'w2', 'waiting']);
  });
});

describe('Delta: a scanned response', () => {
  it('gives the same ACK/NACK, events and cache as the decoded response, one resource at a time', () => {
    const responses: DeltaDiscoveryResponse[] = [
      delta([
        ['w1', '1', encodeAddress(workload('w1', [10, 0, 0, 1]))],
        ['w2', '1', encodeAddress(workload('w2', [10, 0, 0, 2]))],
        ['bad', '1', Buffer.from([0x0a, 0x09, 0x01])],
      ]),
      // w1 resent unchanged, w2 changed, w3 without a body, "bad" removed.
      {
        ...delta(
          [
            ['w1', '2', encodeAddress(workload('w1', [10, 0, 0, 1]))],
            ['w2', '2', encodeAddress(workload('w2', [10, 0, 0, 22]))],
          ],
          ['bad'],
          'n2',
        ),
      },
      delta([], [], 'n3', 'type.googleapis.com/example.Unknown'),
    ];
    responses[1]!.resources.push({ name: 'w3', version: '1', aliases: [], resource: null });
    const decoded = new AdsState({ mode: 'delta', node, registry: registry() });
    const scanned = new AdsState({ mode: 'delta', node, registry: registry() });
    for (const state of [decoded, scanned]) {
      state.subscribe(TypeUrl.address, WILDCARD);
      state.streamStarted();
    }
    for (const response of responses) {
      const bytes = encodeDeltaDiscoveryResponse(response);
      const expected = decoded.handleDeltaResponse(response);
      const actual = scanned.handleDeltaResponseScan(scanDeltaDiscoveryResponse(bytes));
      expect(actual).toEqual(expected);
      expect(scanned.resources(TypeUrl.address)).toEqual(decoded.resources(TypeUrl.address));
    }
    expect(scanned.get(TypeUrl.address, 'w1')).toMatchObject({ state: 'acked', version: '2' });
    expect(scanned.get(TypeUrl.address, 'w3')).toMatchObject({ state: 'nacked' });
    expect(scanned.get(TypeUrl.address, 'bad')).toBeUndefined();
  });
});
