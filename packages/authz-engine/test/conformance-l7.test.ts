/**
 * Conformance of L7 authorization at a waypoint (policies attached with
 * targetRefs) and of the L4 reduction ztunnel applies to the same policies
 * (protocol-facts.md: an ALLOW rule with HTTP attributes is dropped; a DENY
 * rule keeps its L4 parts).
 */
import { describe, expect, it } from 'vitest';
import {
  type AuthorizationPolicy,
  AuthorizationPolicySet,
  type AuthzRequest,
  type CustomVerdicts,
  explain,
  type HttpAttributes,
} from '../src/index.js';
import { atWaypoint, atWorkload, atZtunnel, policy, request, type Summary, summary } from './helpers.js';

const SERVICE = { kind: 'Service', name: 'b' } as const;
const toService = (spec: AuthorizationPolicy['spec']): AuthorizationPolicy['spec'] => ({
  targetRefs: [SERVICE],
  ...spec,
});

function http(attributes: HttpAttributes, overrides: Partial<AuthzRequest> = {}): AuthzRequest {
  return request({
    destination: { namespace: 'foo', targetRefs: [{ kind: 'Service', namespace: 'foo', name: 'b' }] },
    http: attributes,
    ...overrides,
  });
}

interface Row {
  name: string;
  policies: AuthorizationPolicy[];
  request: AuthzRequest;
  expect: Summary;
}

const allowed = (name: string, rule = 0): Summary => ({
  result: 'allow',
  reason: 'allow-policy-matched',
  policy: `foo/${name}`,
  rule,
});
const denied: Summary = { result: 'deny', reason: 'no-allow-policy-matched' };
const deniedBy = (name: string, rule = 0): Summary => ({
  result: 'deny',
  reason: 'deny-policy-matched',
  policy: `foo/${name}`,
  rule,
});

const rows: Row[] = [
  {
    name: 'method exact',
    policies: [policy('foo', 'get', toService({ rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }))],
    request: http({ method: 'GET' }),
    expect: allowed('get'),
  },
  {
    name: 'method is case-sensitive',
    policies: [policy('foo', 'get', toService({ rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }))],
    request: http({ method: 'get' }),
    expect: denied,
  },
  {
    name: 'notMethods',
    policies: [
      policy('foo', 'p', toService({ rules: [{ to: [{ operation: { notMethods: ['DELETE'] } }] }] })),
    ],
    request: http({ method: 'DELETE' }),
    expect: denied,
  },
  {
    name: 'path prefix',
    policies: [policy('foo', 'p', toService({ rules: [{ to: [{ operation: { paths: ['/api/*'] } }] }] }))],
    request: http({ path: '/api/v1/items' }),
    expect: allowed('p'),
  },
  {
    name: 'path suffix',
    policies: [policy('foo', 'p', toService({ rules: [{ to: [{ operation: { paths: ['*.png'] } }] }] }))],
    request: http({ path: '/img/a.png' }),
    expect: allowed('p'),
  },
  {
    name: 'path ignores the query string',
    policies: [policy('foo', 'p', toService({ rules: [{ to: [{ operation: { paths: ['/health'] } }] }] }))],
    request: http({ path: '/health?verbose=1' }),
    expect: allowed('p'),
  },
  {
    name: 'notPaths',
    policies: [
      policy(
        'foo',
        'p',
        toService({ action: 'DENY', rules: [{ to: [{ operation: { notPaths: ['/public/*'] } }] }] }),
      ),
    ],
    request: http({ path: '/admin' }),
    expect: deniedBy('p'),
  },
  {
    name: 'absent path does not match a path',
    policies: [policy('foo', 'p', toService({ rules: [{ to: [{ operation: { paths: ['*'] } }] }] }))],
    request: http({}),
    expect: denied,
  },
  {
    name: 'host is case-insensitive',
    policies: [
      policy(
        'foo',
        'p',
        toService({ rules: [{ to: [{ operation: { hosts: ['b.foo.svc.cluster.local'] } }] }] }),
      ),
    ],
    request: http({ host: 'B.Foo.svc.cluster.local' }),
    expect: allowed('p'),
  },
  {
    name: 'host without port matches host:port',
    policies: [policy('foo', 'p', toService({ rules: [{ to: [{ operation: { hosts: ['b.foo'] } }] }] }))],
    request: http({ host: 'b.foo:8080' }),
    expect: allowed('p'),
  },
  {
    name: 'host suffix',
    policies: [
      policy('foo', 'p', toService({ rules: [{ to: [{ operation: { hosts: ['*.example.com'] } }] }] })),
    ],
    request: http({ host: 'api.example.com' }),
    expect: allowed('p'),
  },
  {
    name: 'notHosts',
    policies: [
      policy(
        'foo',
        'p',
        toService({ action: 'DENY', rules: [{ to: [{ operation: { notHosts: ['b.foo'] } }] }] }),
      ),
    ],
    request: http({ host: 'evil.example' }),
    expect: deniedBy('p'),
  },
  {
    name: 'requestPrincipals presence requires a JWT',
    policies: [
      policy('foo', 'jwt', toService({ rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] })),
    ],
    request: http({}),
    expect: denied,
  },
  {
    name: 'requestPrincipals exact',
    policies: [
      policy(
        'foo',
        'jwt',
        toService({ rules: [{ from: [{ source: { requestPrincipals: ['https://issuer/alice'] } }] }] }),
      ),
    ],
    request: http({ requestPrincipal: 'https://issuer/alice' }),
    expect: allowed('jwt'),
  },
  {
    name: 'notRequestPrincipals',
    policies: [
      policy(
        'foo',
        'p',
        toService({ action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }] }),
      ),
    ],
    request: http({}),
    expect: deniedBy('p'),
  },
  {
    name: 'remoteIpBlocks uses the remote IP',
    policies: [
      policy(
        'foo',
        'p',
        toService({ rules: [{ from: [{ source: { remoteIpBlocks: ['203.0.113.0/24'] } }] }] }),
      ),
    ],
    request: http({ remoteIp: '203.0.113.9' }),
    expect: allowed('p'),
  },
  {
    name: 'remoteIpBlocks falls back to the source IP',
    policies: [
      policy('foo', 'p', toService({ rules: [{ from: [{ source: { remoteIpBlocks: ['10.0.0.0/24'] } }] }] })),
    ],
    request: http({}),
    expect: allowed('p'),
  },
  {
    name: 'notRemoteIpBlocks with IPv6',
    policies: [
      policy(
        'foo',
        'p',
        toService({
          action: 'DENY',
          rules: [{ from: [{ source: { notRemoteIpBlocks: ['2001:db8::/32'] } }] }],
        }),
      ),
    ],
    request: http({ remoteIp: '2001:db9::1' }),
    expect: deniedBy('p'),
  },
  {
    name: 'header condition',
    policies: [
      policy(
        'foo',
        'p',
        toService({ rules: [{ when: [{ key: 'request.headers[X-Tenant]', values: ['acme-*'] }] }] }),
      ),
    ],
    request: http({ headers: { 'x-tenant': 'acme-eu' } }),
    expect: allowed('p'),
  },
  {
    name: 'header condition notValues, header absent',
    policies: [
      policy(
        'foo',
        'p',
        toService({ rules: [{ when: [{ key: 'request.headers[x-debug]', notValues: ['*'] }] }] }),
      ),
    ],
    request: http({}),
    expect: allowed('p'),
  },
  {
    name: 'nested claim condition',
    policies: [
      policy(
        'foo',
        'p',
        toService({ rules: [{ when: [{ key: 'request.auth.claims[realm][role]', values: ['admin'] }] }] }),
      ),
    ],
    request: http({ claims: { realm: { role: 'admin' } } }),
    expect: allowed('p'),
  },
  {
    name: 'list claim matches any element',
    policies: [
      policy(
        'foo',
        'p',
        toService({ rules: [{ when: [{ key: 'request.auth.claims[groups]', values: ['ops'] }] }] }),
      ),
    ],
    request: http({ claims: { groups: ['dev', 'ops'] } }),
    expect: allowed('p'),
  },
  {
    name: 'audiences condition',
    policies: [
      policy(
        'foo',
        'p',
        toService({ rules: [{ when: [{ key: 'request.auth.audiences', values: ['api'] }] }] }),
      ),
    ],
    request: http({ audiences: ['web', 'api'] }),
    expect: allowed('p'),
  },
  {
    name: 'presenter condition',
    policies: [
      policy(
        'foo',
        'p',
        toService({ rules: [{ when: [{ key: 'request.auth.presenter', values: ['cli'] }] }] }),
      ),
    ],
    request: http({ presenter: 'web' }),
    expect: denied,
  },
  {
    name: 'remote.ip condition',
    policies: [
      policy(
        'foo',
        'p',
        toService({ action: 'DENY', rules: [{ when: [{ key: 'remote.ip', values: ['198.51.100.0/24'] }] }] }),
      ),
    ],
    request: http({ remoteIp: '198.51.100.1' }),
    expect: deniedBy('p'),
  },
  {
    name: 'connection.sni condition',
    policies: [
      policy(
        'foo',
        'p',
        toService({ rules: [{ when: [{ key: 'connection.sni', values: ['*.foo.svc'] }] }] }),
      ),
    ],
    request: http({ sni: 'b.foo.svc' }),
    expect: allowed('p'),
  },
  {
    name: 'request.auth.principal condition',
    policies: [
      policy(
        'foo',
        'p',
        toService({ rules: [{ when: [{ key: 'request.auth.principal', values: ['iss/sub'] }] }] }),
      ),
    ],
    request: http({ requestPrincipal: 'iss/sub' }),
    expect: allowed('p'),
  },
  {
    name: 'a policy without targetRefs does not apply at the waypoint',
    policies: [policy('foo', 'ns-deny-all', { action: 'DENY', rules: [{}] })],
    request: http({ method: 'GET' }),
    expect: { result: 'allow', reason: 'no-allow-policy' },
  },
  {
    name: 'a policy targeting another Service does not apply',
    policies: [
      policy('foo', 'other', { targetRefs: [{ kind: 'Service', name: 'c' }], action: 'DENY', rules: [{}] }),
    ],
    request: http({}),
    expect: { result: 'allow', reason: 'no-allow-policy' },
  },
  {
    name: 'a root-namespace policy targeting the istio-waypoint GatewayClass applies to every waypoint',
    policies: [
      policy('istio-system', 'all-waypoints', {
        targetRefs: [{ kind: 'GatewayClass', group: 'gateway.networking.k8s.io', name: 'istio-waypoint' }],
        action: 'DENY',
        rules: [{ to: [{ operation: { paths: ['/debug/*'] } }] }],
      }),
    ],
    request: http(
      { path: '/debug/pprof' },
      {
        destination: {
          namespace: 'foo',
          targetRefs: [
            { kind: 'Gateway', namespace: 'foo', name: 'waypoint' },
            { kind: 'GatewayClass', name: 'istio-waypoint' },
          ],
        },
      },
    ),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'istio-system/all-waypoints', rule: 0 },
  },
  {
    name: 'a policy targeting the waypoint Gateway applies',
    policies: [
      policy('foo', 'gw', {
        targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }],
        rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
      }),
    ],
    request: http(
      { method: 'POST' },
      {
        destination: {
          namespace: 'foo',
          targetRefs: [{ kind: 'Gateway', namespace: 'foo', name: 'waypoint' }],
        },
      },
    ),
    expect: denied,
  },
];

describe('L7 authorization conformance at a waypoint', () => {
  for (const row of rows) {
    it(row.name, () => {
      expect(summary(atWaypoint(row.policies, row.request))).toEqual(row.expect);
    });
  }
});

describe('CUSTOM and AUDIT', () => {
  const custom = policy(
    'foo',
    'ext',
    toService({
      action: 'CUSTOM',
      provider: { name: 'opa' },
      rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }],
    }),
  );
  const audit = policy(
    'foo',
    'audit-writes',
    toService({ action: 'AUDIT', rules: [{ to: [{ operation: { methods: ['POST', 'PUT'] } }] }] }),
  );
  const denyDebug = policy(
    'foo',
    'deny-debug',
    toService({ action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/debug'] } }] }] }),
  );

  it('a matching CUSTOM policy asks its provider first', () => {
    const decision = atWaypoint([custom, denyDebug], http({ path: '/admin/debug' }));
    expect(decision.result).toBe('pending');
    if (decision.reason !== 'custom-check-required') throw new Error(decision.reason);
    expect(decision.checks.map((c) => c.provider)).toEqual(['opa']);
  });

  it('the provider denying is final', () => {
    expect(atWaypoint([custom], http({ path: '/admin/x' })).result).toBe('pending');
    const again = atWaypointWith([custom], http({ path: '/admin/x' }), { opa: 'deny' });
    expect(summary(again)).toEqual({ result: 'deny', reason: 'custom-denied', policy: 'foo/ext', rule: 0 });
  });

  it('the provider allowing hands over to DENY and ALLOW', () => {
    const decision = atWaypointWith([custom, denyDebug], http({ path: '/admin/debug' }), { opa: 'allow' });
    expect(summary(decision)).toEqual(deniedBy('deny-debug'));
    expect(decision.customAllowed.map((c) => c.provider)).toEqual(['opa']);
  });

  it('a CUSTOM policy that does not match asks nobody', () => {
    expect(atWaypoint([custom], http({ path: '/public' })).result).toBe('allow');
  });

  it('AUDIT marks the request and never changes the result', () => {
    const decision = atWaypoint([audit], http({ method: 'POST' }));
    expect(summary(decision)).toEqual({ result: 'allow', reason: 'no-allow-policy' });
    expect(decision.audit.map((h) => h.policy.key)).toEqual(['foo/audit-writes']);
    expect(atWaypoint([audit], http({ method: 'GET' })).audit).toEqual([]);
  });
});

function atWaypointWith(policies: AuthorizationPolicy[], req: AuthzRequest, custom: CustomVerdicts) {
  const set = new AuthorizationPolicySet({ mode: 'waypoint' });
  for (const p of policies) set.upsert(p);
  const decision = set.evaluate(req, { custom });
  expect(explain(decision).length).toBeGreaterThan(0);
  return decision;
}

describe('L4 reduction at ztunnel (same policies, no targetRefs)', () => {
  const get = policy('foo', 'allow-get', {
    rules: [{ to: [{ operation: { methods: ['GET'], ports: ['8080'] } }] }],
  });
  const denyPost = policy('foo', 'deny-post-from-bar', {
    action: 'DENY',
    rules: [{ from: [{ source: { namespaces: ['bar'] } }], to: [{ operation: { methods: ['POST'] } }] }],
  });
  const bar = { sourcePrincipal: 'cluster.local/ns/bar/sa/x' };

  it('an ALLOW rule with an HTTP method never matches at ztunnel: deny', () => {
    expect(summary(atZtunnel([get], request()))).toEqual(denied);
  });

  it('the same ALLOW matches a GET where HTTP is visible', () => {
    expect(summary(atWorkload([get], request({ http: { method: 'GET' } })))).toEqual(allowed('allow-get'));
  });

  it('a DENY rule with an HTTP method keeps its L4 part at ztunnel: denies every request from bar', () => {
    expect(summary(atZtunnel([denyPost], request({ ...bar, http: { method: 'GET' } })))).toEqual(
      deniedBy('deny-post-from-bar'),
    );
  });

  it('where HTTP is visible the DENY only stops POST', () => {
    expect(atWorkload([denyPost], request({ ...bar, http: { method: 'GET' } })).result).toBe('allow');
    expect(atWorkload([denyPost], request({ ...bar, http: { method: 'POST' } })).result).toBe('deny');
  });

  it('a DENY with only an HTTP condition denies everything at ztunnel', () => {
    const p = policy('foo', 'deny-header', {
      action: 'DENY',
      rules: [{ when: [{ key: 'request.headers[x-evil]', values: ['1'] }] }],
    });
    expect(summary(atZtunnel([p], request()))).toEqual(deniedBy('deny-header'));
    expect(atWorkload([p], request()).result).toBe('allow');
  });

  it('an ALLOW keeps its L4 rules and drops only the HTTP ones (wire rule indices shift)', () => {
    const p = policy('foo', 'mixed', {
      rules: [{ to: [{ operation: { paths: ['/x'] } }] }, { from: [{ source: { namespaces: ['foo'] } }] }],
    });
    expect(summary(atZtunnel([p], request()))).toEqual(allowed('mixed', 0));
    expect(summary(atWorkload([p], request()))).toEqual(allowed('mixed', 1));
  });

  it('an ALLOW with remoteIpBlocks or requestPrincipals is dropped at ztunnel', () => {
    const p = policy('foo', 'jwt', {
      rules: [{ from: [{ source: { requestPrincipals: ['*'], namespaces: ['foo'] } }] }],
    });
    expect(summary(atZtunnel([p], request()))).toEqual(denied);
    const q = policy('foo', 'remote', {
      rules: [{ from: [{ source: { remoteIpBlocks: ['10.0.0.0/8'] } }] }],
    });
    expect(summary(atZtunnel([q], request()))).toEqual(denied);
  });

  it('AUDIT and CUSTOM policies are not enforced by ztunnel', () => {
    const a = policy('foo', 'audit', { action: 'AUDIT', rules: [{}] });
    const c = policy('foo', 'custom', { action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] });
    expect(summary(atZtunnel([a, c], request()))).toEqual({ result: 'allow', reason: 'no-allow-policy' });
  });

  it('a policy with targetRefs is not sent to ztunnel', () => {
    const p = policy('foo', 'waypoint-only', toService({ action: 'DENY', rules: [{}] }));
    expect(summary(atZtunnel([p], request()))).toEqual({ result: 'allow', reason: 'no-allow-policy' });
  });
});
