import {
  decodeDeltaDiscoveryResponse,
  decodeDiscoveryResponse,
  encodeAddress,
  encodePreparedDeltaDiscoveryResponse,
  encodePreparedDiscoveryResponse,
  TypeUrl,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
} from '@amesh/xds-types';
import { describe, expect, it } from 'vitest';
import { type XdsServerResponse, XdsServerCore } from '../src/index.js';

/** Manual timers: the test decides when the debounce fires. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  let next = 0;
  return {
    timers: {
      setTimeout: (cb: () => void) => {
        pending.set(++next, cb);
        return next;
      },
      clearTimeout: (h: unknown) => {
        pending.delete(h as number);
      },
    },
    pending: () => pending.size,
    fire: () => {
      const callbacks = [...pending.values()];
      pending.clear();
      for (const cb of callbacks) cb();
    },
  };
}

const addr = (uid: string, last: number) =>
  encodeAddress({ type: 'workload', workload: { uid, addresses: [new Uint8Array([10, 0, 0, last])] } });

function deltaReq(partial: Partial<DeltaDiscoveryRequest>): DeltaDiscoveryRequest {
  return {
    node: null,
    typeUrl: TypeUrl.address,
    resourceNamesSubscribe: [],
    resourceNamesUnsubscribe: [],
    initialResourceVersions: {},
    responseNonce: '',
    errorDetail: null,
    ...partial,
  };
}

function sotwReq(partial: Partial<DiscoveryRequest>): DiscoveryRequest {
  return {
    versionInfo: '',
    node: null,
    resourceNames: [],
    typeUrl: TypeUrl.listener,
    responseNonce: '',
    errorDetail: null,
    ...partial,
  };
}

/** Round-trips each response through the wire encoding, so tests see what a client would. */
function recorder() {
  const delta: DeltaDiscoveryResponse[] = [];
  const sotw: DiscoveryResponse[] = [];
  const send = (r: XdsServerResponse) => {
    if (r.mode === 'delta')
      delta.push(decodeDeltaDiscoveryResponse(encodePreparedDeltaDiscoveryResponse(r.response)));
    else sotw.push(decodeDiscoveryResponse(encodePreparedDiscoveryResponse(r.response)));
  };
  return { delta, sotw, send };
}

describe('Delta serving', () => {
  it('encodes the full state once for every fresh wildcard client and tracks each client apart afterwards', () => {
    const core = new XdsServerCore({ debounceMs: 0 });
    core.setResources(
      TypeUrl.address,
      new Map(['w1', 'w2', 'w3'].map((n, i) => [n, { version: '1', resource: addr(n, i + 1) }])),
    );
    const raw: XdsServerResponse[] = [];
    const clients = [recorder(), recorder()];
    const streams = clients.map((c) =>
      core.openStream('delta', (r) => {
        raw.push(r);
        c.send(r);
      }),
    );
    for (const stream of streams) stream.receive(deltaReq({}));
    const [first, second] = raw.map((r) => r.response as { encodedResources?: Uint8Array });
    expect(first?.encodedResources).toBeDefined();
    expect(second?.encodedResources).toBe(first?.encodedResources);
    // Both first responses carry nonce "1": one shared response object, encoded once by the transport.
    expect(raw[1]?.response).toBe(raw[0]?.response);
    for (const c of clients) {
      expect(c.delta[0]?.resources.map((r) => [r.name, r.version])).toEqual([
        ['w1', '1'],
        ['w2', '1'],
        ['w3', '1'],
      ]);
    }

    core.update(
      TypeUrl.address,
      new Map([
        ['w2', { version: '2', resource: addr('w2', 22) }],
        ['w3', null],
      ]),
    );
    for (const [i, c] of clients.entries()) {
      expect(c.delta[1]?.resources.map((r) => [r.name, r.version])).toEqual([['w2', '2']]);
      expect(c.delta[1]?.removedResources).toEqual(['w3']);
      expect(core.clientResources(streams[i]!.id, TypeUrl.address)).toEqual(
        new Map([
          ['w1', '1'],
          ['w2', '2'],
        ]),
      );
    }
    // Setting w2 back to what the full state had, and w3 again: still per client.
    core.update(
      TypeUrl.address,
      new Map([
        ['w2', { version: '1', resource: addr('w2', 2) }],
        ['w3', { version: '1', resource: addr('w3', 3) }],
      ]),
    );
    expect(clients[0]?.delta[2]?.resources.map((r) => [r.name, r.version])).toEqual([
      ['w2', '1'],
      ['w3', '1'],
    ]);
    expect(core.clients().map((c) => c.types[0]?.resourceCount)).toEqual([3, 3]);

    // A client joining now gets the state of now, not the first full state.
    const late = recorder();
    core.openStream('delta', late.send).receive(deltaReq({}));
    expect(late.delta[0]?.resources.map((r) => [r.name, r.version])).toEqual([
      ['w1', '1'],
      ['w2', '1'],
      ['w3', '1'],
    ]);
    expect(core.clients().map((c) => c.types[0]?.resourceCount)).toEqual([3, 3, 3]);
  });

  it('answers a legacy wildcard with everything, then pushes only changed names after the debounce', () => {
    const t = manualTimers();
    const core = new XdsServerCore({ timers: t.timers, debounceMs: 50 });
    core.setResources(
      TypeUrl.address,
      new Map([
        ['w1', { version: '1', resource: addr('w1', 1) }],
        ['w2', { version: '1', resource: addr('w2', 2) }],
      ]),
    );
    const a = recorder();
    const b = recorder();
    const sa = core.openStream('delta', a.send);
    const sb = core.openStream('delta', b.send);
    sa.receive(
      deltaReq({
        node: { id: 'a', cluster: '', metadata: null, locality: null, userAgentName: '', clientFeatures: [] },
      }),
    );
    sb.receive(deltaReq({ initialResourceVersions: { w1: '1', w2: '0', gone: '3' } }));
    expect(a.delta[0]?.resources.map((r) => [r.name, r.version]).sort()).toEqual([
      ['w1', '1'],
      ['w2', '1'],
    ]);
    // b already had w1 at version 1: only w2 is sent, and "gone" is removed.
    expect(b.delta[0]?.resources.map((r) => r.name)).toEqual(['w2']);
    expect(b.delta[0]?.removedResources).toEqual(['gone']);

    sa.receive(deltaReq({ responseNonce: a.delta[0]!.nonce }));
    core.update(
      TypeUrl.address,
      new Map([
        ['w2', { version: '2', resource: addr('w2', 22) }],
        ['w1', null],
      ]),
    );
    core.update(TypeUrl.address, new Map([['w3', { version: '1', resource: addr('w3', 3) }]]));
    expect(a.delta).toHaveLength(1); // debounced
    expect(t.pending()).toBe(1);
    t.fire();
    expect(a.delta).toHaveLength(2);
    expect(a.delta[1]?.resources.map((r) => r.name).sort()).toEqual(['w2', 'w3']);
    expect(a.delta[1]?.removedResources).toEqual(['w1']);
    expect(b.delta[1]?.resources.map((r) => r.name).sort()).toEqual(['w2', 'w3']);

    const [ca] = core.clients();
    expect(ca).toMatchObject({ id: sa.id, mode: 'delta', nodeId: 'a' });
    expect(ca?.types[0]).toMatchObject({
      typeUrl: TypeUrl.address,
      wildcard: true,
      acks: 1,
      nacks: 0,
      resourceCount: 2,
      status: { state: 'pending', nonce: a.delta[1]!.nonce },
    });
    expect(core.clientResources(sa.id, TypeUrl.address)).toEqual(
      new Map([
        ['w2', '2'],
        ['w3', '1'],
      ]),
    );
  });

  it('serves named subscriptions, reports absent names as removed, and tracks unsubscribe', () => {
    const core = new XdsServerCore({ debounceMs: 0 });
    core.setResources(
      TypeUrl.address,
      new Map([
        ['w1', { version: '1', resource: addr('w1', 1) }],
        ['w2', { version: '1', resource: addr('w2', 2) }],
      ]),
    );
    const r = recorder();
    const s = core.openStream('delta', r.send);
    s.receive(deltaReq({ resourceNamesSubscribe: ['w1', 'nope'] }));
    expect(r.delta[0]?.resources.map((x) => x.name)).toEqual(['w1']);
    expect(r.delta[0]?.removedResources).toEqual(['nope']);
    s.receive(deltaReq({ resourceNamesSubscribe: ['w2'] }));
    expect(r.delta[1]?.resources.map((x) => x.name)).toEqual(['w2']);
    s.receive(deltaReq({ resourceNamesUnsubscribe: ['w1'] }));
    core.update(TypeUrl.address, new Map([['w1', { version: '2', resource: addr('w1', 11) }]]));
    expect(r.delta).toHaveLength(2); // no longer subscribed to w1
    core.update(TypeUrl.address, new Map([['w2', { version: '2', resource: addr('w2', 12) }]]));
    expect(r.delta[2]?.resources.map((x) => x.name)).toEqual(['w2']);
  });

  it('records a NACK (kept after later ACKs) and does not resend on it', () => {
    const log: string[] = [];
    const core = new XdsServerCore({ debounceMs: 0, log: (l) => log.push(l.msg) });
    core.setResources(TypeUrl.address, new Map([['w1', { version: '1', resource: addr('w1', 1) }]]));
    const r = recorder();
    const s = core.openStream('delta', r.send);
    s.receive(deltaReq({}));
    s.receive(
      deltaReq({
        responseNonce: r.delta[0]!.nonce,
        errorDetail: { code: 3, message: 'bad w1', details: [] },
      }),
    );
    expect(r.delta).toHaveLength(1);
    expect(core.clients()[0]?.types[0]).toMatchObject({
      nacks: 1,
      status: { state: 'nacked', message: 'bad w1' },
      lastNack: { message: 'bad w1' },
    });
    expect(
      log.some((l) => /NACKed type\.googleapis\.com\/istio\.workload\.Address nonce 1: bad w1/.test(l)),
    ).toBe(true);
    core.update(TypeUrl.address, new Map([['w1', { version: '2', resource: addr('w1', 2) }]]));
    s.receive(deltaReq({ responseNonce: r.delta[1]!.nonce }));
    expect(core.clients()[0]?.types[0]).toMatchObject({
      acks: 1,
      status: { state: 'acked' },
      lastNack: { message: 'bad w1' },
    });
  });

  it('forgets a closed stream', () => {
    const core = new XdsServerCore();
    const s = core.openStream('delta', () => {});
    expect(core.clients()).toHaveLength(1);
    s.close();
    expect(core.clients()).toHaveLength(0);
    expect(() => s.receive(deltaReq({}))).toThrow(expect.objectContaining({ code: 'XDS_ERR_STREAM_CLOSED' }));
  });
});

describe('SotW serving', () => {
  const listener = (name: string) => new Uint8Array(Buffer.from([0x0a, name.length, ...Buffer.from(name)]));

  it('sends the full set with a type version, ignores stale nonces, tracks ACK and NACK', () => {
    const core = new XdsServerCore({ debounceMs: 0 });
    core.setResources(
      TypeUrl.listener,
      new Map([
        ['a', { version: '1', resource: listener('a') }],
        ['b', { version: '1', resource: listener('b') }],
      ]),
    );
    const r = recorder();
    const s = core.openStream('sotw', r.send);
    s.receive(sotwReq({}));
    expect(r.sotw[0]).toMatchObject({ versionInfo: '1', typeUrl: TypeUrl.listener });
    expect(r.sotw[0]?.resources).toHaveLength(2);
    s.receive(sotwReq({ versionInfo: '1', responseNonce: r.sotw[0]!.nonce }));
    expect(r.sotw).toHaveLength(1); // a plain ACK gets no answer
    expect(core.clients()[0]?.types[0]).toMatchObject({
      ackedVersion: '1',
      status: { state: 'acked', version: '1' },
    });

    core.update(TypeUrl.listener, new Map([['b', null]]));
    expect(r.sotw[1]).toMatchObject({ versionInfo: '2' });
    expect(r.sotw[1]?.resources).toHaveLength(1);
    // An ACK of the old nonce is stale: ignored.
    s.receive(sotwReq({ versionInfo: '1', responseNonce: r.sotw[0]!.nonce }));
    expect(core.clients()[0]?.types[0]?.status.state).toBe('pending');
    s.receive(
      sotwReq({
        versionInfo: '1',
        responseNonce: r.sotw[1]!.nonce,
        errorDetail: { code: 3, message: 'no', details: [] },
      }),
    );
    expect(core.clients()[0]?.types[0]).toMatchObject({
      ackedVersion: '1',
      status: { state: 'nacked', message: 'no' },
    });
  });

  it('answers a named subscription change with the named resources only', () => {
    const core = new XdsServerCore({ debounceMs: 0 });
    core.setResources(
      TypeUrl.listener,
      new Map([
        ['a', { version: '1', resource: listener('a') }],
        ['b', { version: '1', resource: listener('b') }],
      ]),
    );
    const r = recorder();
    const s = core.openStream('sotw', r.send);
    s.receive(sotwReq({ resourceNames: ['b'] }));
    expect(r.sotw[0]?.resources).toHaveLength(1);
    s.receive(sotwReq({ resourceNames: ['a', 'b'], responseNonce: r.sotw[0]!.nonce, versionInfo: '1' }));
    expect(r.sotw[1]?.resources).toHaveLength(2);
    core.update(TypeUrl.listener, new Map([['c', { version: '1', resource: listener('c') }]]));
    expect(r.sotw).toHaveLength(2); // c is not subscribed
  });
});
