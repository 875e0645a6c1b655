import { describe, expect, it } from 'vitest';
import { peerAuthenticationToWire, toWireAuthorization, type WireAuthorization } from '../src/index.js';
import { policy } from './helpers.js';

function converted(result: ReturnType<typeof toWireAuthorization>): WireAuthorization {
  if (result.status !== 'converted') throw new Error(`expected converted, got ${result.status}`);
  return result.authorization;
}

describe('AuthorizationPolicy → istio.security.Authorization (ztunnel)', () => {
  it('maps every L4 field onto the wire Match', () => {
    const p = policy('foo', 'l4', {
      action: 'DENY',
      rules: [
        {
          from: [
            {
              source: {
                principals: ['spiffe://cluster.local/ns/a/sa/b', 'cluster.local/ns/x/*'],
                notPrincipals: ['*'],
                namespaces: ['a'],
                notNamespaces: ['*-test'],
                ipBlocks: ['10.0.0.0/8', '2001:db8::1'],
                notIpBlocks: ['10.1.0.0/16'],
                serviceAccounts: ['a/b'],
                notServiceAccounts: ['a/c'],
              },
            },
          ],
          to: [{ operation: { ports: ['80'], notPorts: ['81'] } }],
          when: [
            { key: 'destination.ip', values: ['192.168.0.0/16'], notValues: ['192.168.1.1'] },
            { key: 'destination.port', values: ['8080'] },
            { key: 'source.namespace', notValues: ['kube-system'] },
            { key: 'source.principal', values: ['*/sa/admin'] },
            { key: 'source.ip', notValues: ['0.0.0.0/0'] },
          ],
        },
      ],
    });
    expect(converted(toWireAuthorization(p))).toEqual({
      name: 'l4',
      namespace: 'foo',
      scope: 'NAMESPACE',
      action: 'DENY',
      dryRun: false,
      rules: [
        {
          clauses: [
            { matches: [{ destinationPorts: [80], notDestinationPorts: [81] }] },
            {
              matches: [
                {
                  sourceIps: [
                    { address: new Uint8Array([10, 0, 0, 0]), length: 8 },
                    {
                      address: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
                      length: 128,
                    },
                  ],
                  notSourceIps: [{ address: new Uint8Array([10, 1, 0, 0]), length: 16 }],
                  namespaces: [{ exact: 'a' }],
                  notNamespaces: [{ suffix: '-test' }],
                  principals: [{ exact: 'cluster.local/ns/a/sa/b' }, { prefix: 'cluster.local/ns/x/' }],
                  notPrincipals: [{ presence: {} }],
                  serviceAccounts: [{ namespace: 'a', serviceAccount: 'b' }],
                  notServiceAccounts: [{ namespace: 'a', serviceAccount: 'c' }],
                },
              ],
            },
            {
              matches: [
                {
                  destinationIps: [{ address: new Uint8Array([192, 168, 0, 0]), length: 16 }],
                  notDestinationIps: [{ address: new Uint8Array([192, 168, 1, 1]), length: 32 }],
                },
              ],
            },
            { matches: [{ destinationPorts: [8080] }] },
            { matches: [{ notNamespaces: [{ exact: 'kube-system' }] }] },
            { matches: [{ principals: [{ suffix: '/sa/admin' }] }] },
            { matches: [{ notSourceIps: [{ address: new Uint8Array([0, 0, 0, 0]), length: 0 }] }] },
          ],
        },
      ],
    });
  });

  it('scope follows selector and namespace', () => {
    expect(converted(toWireAuthorization(policy('istio-system', 'mesh', {}))).scope).toBe('GLOBAL');
    expect(
      converted(toWireAuthorization(policy('istio-system', 'mesh', {}), { rootNamespace: 'amesh' })).scope,
    ).toBe('NAMESPACE');
    expect(
      converted(toWireAuthorization(policy('foo', 'sel', { selector: { matchLabels: { app: 'b' } } }))).scope,
    ).toBe('WORKLOAD_SELECTOR');
    expect(converted(toWireAuthorization(policy('foo', 'empty-sel', { selector: {} }))).scope).toBe(
      'NAMESPACE',
    );
  });

  it('carries the dry-run annotation', () => {
    expect(
      converted(toWireAuthorization(policy('foo', 'd', { rules: [{}] }, { 'istio.io/dry-run': 'true' })))
        .dryRun,
    ).toBe(true);
  });

  it('drops ALLOW rules with HTTP attributes, with a warning per dropped part', () => {
    const result = toWireAuthorization(
      policy('foo', 'a', {
        rules: [
          { to: [{ operation: { methods: ['GET'], paths: ['/x'] } }] },
          { from: [{ source: { namespaces: ['foo'] } }] },
          { when: [{ key: 'request.auth.claims[iss]', values: ['x'] }] },
        ],
      }),
    );
    expect(converted(result).rules).toEqual([
      { clauses: [{ matches: [{ namespaces: [{ exact: 'foo' }] }] }] },
    ]);
    if (result.status !== 'converted') throw new Error('unreachable');
    expect(result.warnings.map((w) => w.path)).toEqual([
      'spec.rules[0].to[0].operation.methods',
      'spec.rules[0].to[0].operation.paths',
      'spec.rules[2].when[0]',
    ]);
    expect(result.warnings.every((w) => w.message.includes('never matches'))).toBe(true);
  });

  it('keeps the L4 parts of DENY rules, with a warning per ignored part', () => {
    const result = toWireAuthorization(
      policy('foo', 'd', {
        action: 'DENY',
        rules: [
          {
            from: [{ source: { namespaces: ['bar'], requestPrincipals: ['*'] } }],
            to: [{ operation: { methods: ['POST'] } }],
          },
        ],
      }),
    );
    expect(converted(result).rules).toEqual([
      { clauses: [{ matches: [{}] }, { matches: [{ namespaces: [{ exact: 'bar' }] }] }] },
    ]);
    if (result.status !== 'converted') throw new Error('unreachable');
    expect(result.warnings.map((w) => w.path)).toEqual([
      'spec.rules[0].from[0].source.requestPrincipals',
      'spec.rules[0].to[0].operation.methods',
    ]);
    expect(result.warnings[0]!.message).toContain('keeps only its L4 parts');
  });

  it('skips what ztunnel does not enforce, saying why', () => {
    const refs = toWireAuthorization(policy('foo', 'w', { targetRefs: [{ kind: 'Service', name: 'b' }] }));
    expect(refs).toMatchObject({ status: 'skipped', reason: expect.stringContaining('waypoint') });
    const audit = toWireAuthorization(policy('foo', 'a', { action: 'AUDIT', rules: [{}] }));
    expect(audit).toMatchObject({
      status: 'skipped',
      warnings: [expect.objectContaining({ code: 'AUTHZ_ERR_L7_AT_L4' })],
    });
  });

  it('reports invalid policies instead of converting them', () => {
    const result = toWireAuthorization(
      policy('foo', 'bad', { rules: [{ from: [{ source: { ipBlocks: ['300.0.0.1'] } }] }] }),
    );
    expect(result).toMatchObject({
      status: 'invalid',
      errors: [expect.objectContaining({ code: 'AUTHZ_ERR_INVALID_CIDR' })],
    });
  });
});

describe('PeerAuthentication → DENY policy (ztunnel)', () => {
  const pa = (namespace: string, spec: object) => ({ metadata: { name: 'pa', namespace }, spec });
  const presence = { notPrincipals: [{ presence: {} }] };

  it('STRICT denies connections without a peer identity', () => {
    const result = peerAuthenticationToWire(pa('foo', { mtls: { mode: 'STRICT' } }));
    expect(result).toEqual({
      status: 'converted',
      warnings: [],
      authorization: {
        name: 'converted_peer_authentication_pa',
        namespace: 'foo',
        scope: 'NAMESPACE',
        action: 'DENY',
        dryRun: false,
        rules: [{ clauses: [{ matches: [presence] }] }],
      },
    });
  });

  it('mesh-wide STRICT is GLOBAL', () => {
    expect(peerAuthenticationToWire(pa('istio-system', { mtls: { mode: 'STRICT' } }))).toMatchObject({
      authorization: { scope: 'GLOBAL' },
    });
  });

  it('STRICT with PERMISSIVE ports excepts those ports', () => {
    const result = peerAuthenticationToWire(
      pa('foo', {
        selector: { matchLabels: { app: 'b' } },
        mtls: { mode: 'STRICT' },
        portLevelMtls: {
          '9090': { mode: 'PERMISSIVE' },
          '8080': { mode: 'PERMISSIVE' },
          '443': { mode: 'STRICT' },
        },
      }),
    );
    expect(result).toMatchObject({
      authorization: {
        scope: 'WORKLOAD_SELECTOR',
        rules: [{ clauses: [{ matches: [{ ...presence, notDestinationPorts: [8080, 9090] }] }] }],
      },
    });
  });

  it('PERMISSIVE with STRICT ports denies plaintext on those ports only', () => {
    const result = peerAuthenticationToWire(
      pa('foo', {
        selector: { matchLabels: { app: 'b' } },
        mtls: { mode: 'PERMISSIVE' },
        portLevelMtls: { '443': { mode: 'STRICT' } },
      }),
    );
    expect(result).toMatchObject({
      authorization: { rules: [{ clauses: [{ matches: [{ ...presence, destinationPorts: [443] }] }] }] },
    });
  });

  it('UNSET inherits the namespace or mesh mode', () => {
    const spec = {
      selector: { matchLabels: { app: 'b' } },
      portLevelMtls: { '8080': { mode: 'PERMISSIVE' } },
    };
    expect(peerAuthenticationToWire(pa('foo', spec), { inheritedMode: 'STRICT' })).toMatchObject({
      authorization: { rules: [{ clauses: [{ matches: [{ ...presence, notDestinationPorts: [8080] }] }] }] },
    });
    expect(peerAuthenticationToWire(pa('foo', spec))).toMatchObject({ status: 'skipped' });
  });

  it('PERMISSIVE alone has nothing to deny', () => {
    expect(peerAuthenticationToWire(pa('foo', { mtls: { mode: 'PERMISSIVE' } }))).toMatchObject({
      status: 'skipped',
    });
  });

  it('DISABLE is ignored with a warning (treated as PERMISSIVE)', () => {
    const top = peerAuthenticationToWire(pa('foo', { mtls: { mode: 'DISABLE' } }));
    expect(top).toMatchObject({
      status: 'skipped',
      warnings: [expect.objectContaining({ code: 'AUTHZ_ERR_MTLS_DISABLE_IGNORED', path: 'spec.mtls.mode' })],
    });
    const port = peerAuthenticationToWire(
      pa('foo', {
        selector: { matchLabels: { app: 'b' } },
        mtls: { mode: 'STRICT' },
        portLevelMtls: { '15000': { mode: 'DISABLE' } },
      }),
    );
    expect(port).toMatchObject({
      status: 'converted',
      authorization: { rules: [{ clauses: [{ matches: [{ ...presence, notDestinationPorts: [15000] }] }] }] },
      warnings: [expect.objectContaining({ path: 'spec.portLevelMtls["15000"].mode' })],
    });
  });

  it('reports every error', () => {
    const result = peerAuthenticationToWire(
      pa('foo', {
        mtls: { mode: 'MUTUAL' },
        portLevelMtls: { http: { mode: 'STRICT' }, '80': { mode: 'STRICT' } },
      }),
    );
    expect(result).toMatchObject({
      status: 'invalid',
      errors: [
        expect.objectContaining({ code: 'AUTHZ_ERR_INVALID_MTLS_MODE' }),
        expect.objectContaining({ code: 'AUTHZ_ERR_INVALID_PORT' }),
        expect.objectContaining({ code: 'AUTHZ_ERR_PORT_LEVEL_WITHOUT_SELECTOR' }),
      ],
    });
  });
});
