/**
 * Property: the compiled, indexed evaluators decide exactly as the plain
 * reference evaluators, on random policies and requests (result, reason,
 * deciding policy and rule, dry-run and audit results).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AuthorizationPolicy,
  AuthorizationPolicySet,
  AuthorizationSet,
  type AuthzRequest,
  type Decision,
  ipAddressToBytes,
  parseCidr,
  type ReferenceDecision,
  referenceEvaluatePolicies,
  referenceEvaluateWire,
  type WireAuthorization,
  type WireMatch,
} from '../src/index.js';

const NAMESPACES = ['foo', 'bar', 'istio-system'];
const ACCOUNTS = ['a', 'b'];
const CIDRS = [
  '10.0.0.0/8',
  '10.0.0.0/24',
  '10.0.1.0/24',
  '10.0.0.1',
  '0.0.0.0/0',
  'fd00::/8',
  'fd00::1',
  '::/0',
  '192.168.0.0/16',
];
const IPS = [
  '10.0.0.1',
  '10.0.1.5',
  '192.168.3.4',
  'fd00::1',
  'fd00::2',
  '2001:db8::1',
  '::ffff:10.0.0.1',
  '172.16.0.1',
];
const PORTS = [80, 443, 8080, 9090];
const RUNS = Number(process.env.AMESH_PROPERTY_RUNS ?? 300);

const someOf = <T>(arb: fc.Arbitrary<T>) => fc.array(arb, { minLength: 1, maxLength: 3 });
const namespaceText = fc.constantFrom('foo', 'bar', 'fo*', '*ar', '*', 'istio-system', 'b*');
const principalText = fc.constantFrom(
  'cluster.local/ns/foo/sa/a',
  'cluster.local/ns/bar/*',
  '*/sa/b',
  '*',
  'spiffe://cluster.local/ns/foo/sa/b',
  'other/ns/foo/sa/a',
  'cluster.local/ns/foo*',
  'cluster.local/ns/fo*',
  'cluster.local/ns/bar',
);
const accountText = fc.constantFrom('foo/a', 'foo/b', 'bar/a', 'istio-system/a');

function stringMatch(text: string) {
  if (text === '*') return { presence: {} };
  if (text.startsWith('*')) return { suffix: text.slice(1) };
  if (text.endsWith('*')) return { prefix: text.slice(0, -1) };
  return { exact: text.startsWith('spiffe://') ? text.slice(9) : text };
}
const address = (text: string) => {
  const cidr = parseCidr(text);
  return { address: ipAddressToBytes(cidr), length: cidr.prefixLength };
};
const account = (text: string) => {
  const [namespace = '', serviceAccount = ''] = text.split('/');
  return { namespace, serviceAccount };
};

/** One to two fields set, so rules match often enough to exercise every outcome. */
function fewFields<T extends Record<string, fc.Arbitrary<unknown>>>(
  fields: T,
): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .array(fc.constantFrom(...Object.keys(fields)), { minLength: 1, maxLength: 2 })
    .chain((keys) => fc.record(Object.fromEntries([...new Set(keys)].map((k) => [k, fields[k]!]))));
}

const wireMatch: fc.Arbitrary<WireMatch> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({}) },
  {
    weight: 6,
    arbitrary: fewFields({
      namespaces: someOf(namespaceText.map(stringMatch)),
      notNamespaces: someOf(namespaceText.map(stringMatch)),
      principals: someOf(principalText.map(stringMatch)),
      notPrincipals: someOf(principalText.map(stringMatch)),
      sourceIps: someOf(fc.constantFrom(...CIDRS).map(address)),
      notSourceIps: someOf(fc.constantFrom(...CIDRS).map(address)),
      destinationIps: someOf(fc.constantFrom(...CIDRS).map(address)),
      notDestinationIps: someOf(fc.constantFrom(...CIDRS).map(address)),
      destinationPorts: someOf(fc.constantFrom(...PORTS)),
      notDestinationPorts: someOf(fc.constantFrom(...PORTS)),
      serviceAccounts: someOf(accountText.map(account)),
      notServiceAccounts: someOf(accountText.map(account)),
    }) as fc.Arbitrary<WireMatch>,
  },
);

const wirePolicy: fc.Arbitrary<WireAuthorization> = fc.record({
  name: fc.constantFrom('p1', 'p2', 'p3', 'p4'),
  namespace: fc.constantFrom(...NAMESPACES),
  scope: fc.constantFrom('GLOBAL', 'NAMESPACE', 'WORKLOAD_SELECTOR'),
  action: fc.constantFrom('ALLOW', 'DENY'),
  dryRun: fc.boolean(),
  rules: fc.array(
    fc.record({
      clauses: fc.array(fc.record({ matches: fc.array(wireMatch, { maxLength: 2 }) }), { maxLength: 3 }),
    }),
    { maxLength: 3 },
  ),
});

const uniqueWirePolicies = fc.uniqueArray(wirePolicy, {
  maxLength: 10,
  selector: (p) => `${p.namespace}/${p.name}`,
});

const selectorNames = fc.subarray(
  NAMESPACES.flatMap((ns) => ['p1', 'p2', 'p3', 'p4'].map((n) => `${ns}/${n}`)),
  { maxLength: 4 },
);

const httpAttributes = fc.record(
  {
    method: fc.constantFrom('GET', 'POST', 'get'),
    path: fc.constantFrom(
      '/',
      '/api/v1',
      '/api/v1?x=1',
      '/admin',
      '/admin?debug=1',
      '/img/a.png',
      '/img/a.png#top',
    ),
    host: fc.constantFrom('b.foo', 'B.FOO:8080', 'api.example.com', 'other'),
    requestPrincipal: fc.constantFrom('iss/alice', 'iss/bob', ''),
    remoteIp: fc.constantFrom(...IPS),
    headers: fc.record({ 'x-tenant': fc.constantFrom('acme-eu', 'other') }, { requiredKeys: [] }),
    claims: fc.record(
      {
        groups: fc.constantFrom(['ops'], ['dev', 'ops'], 'ops', 7),
        realm: fc.record({ role: fc.constantFrom('admin', 'user') }),
      },
      { requiredKeys: [] },
    ),
    audiences: fc.constantFrom(['api'], ['web', 'api'], []),
    presenter: fc.constantFrom('cli', 'web'),
    sni: fc.constantFrom('b.foo.svc', 'x'),
  },
  { requiredKeys: [] },
);

const authzRequest: fc.Arbitrary<AuthzRequest> = fc
  .record({
    principal: fc.option(
      fc.oneof(
        {
          weight: 8,
          arbitrary: fc
            .tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom(...ACCOUNTS), fc.boolean())
            .map(([ns, sa, spiffe]) => `${spiffe ? 'spiffe://' : ''}cluster.local/ns/${ns}/sa/${sa}`),
        },
        // Odd identities: extra path parts, another trust domain, a longer namespace, no namespace part.
        {
          weight: 2,
          arbitrary: fc.constantFrom(
            'cluster.local/ns/foo/x/sa/a',
            'other/ns/foo/sa/a',
            'cluster.local/ns/foobar/sa/a',
            'cluster.local/ns/bar',
            'cluster.local/sa/a',
            'a/b/ns/foo/sa/a',
          ),
        },
      ),
      { nil: undefined },
    ),
    sourceIp: fc.constantFrom(...IPS),
    destinationIp: fc.constantFrom(...IPS),
    destinationPort: fc.constantFrom(...PORTS, 1234),
    namespace: fc.constantFrom(...NAMESPACES),
    policies: selectorNames,
    labels: fc.record({ app: fc.constantFrom('b', 'c') }, { requiredKeys: [] }),
    targetRefs: fc.subarray([
      { kind: 'Service', namespace: 'foo', name: 'b' },
      { kind: 'Gateway', namespace: 'foo', name: 'waypoint' },
      { kind: 'Service', namespace: 'bar', name: 'b' },
      { kind: 'GatewayClass', name: 'istio-waypoint' },
    ]),
    http: fc.option(httpAttributes, { nil: undefined }),
  })
  .map((r) => ({
    ...(r.principal !== undefined ? { sourcePrincipal: r.principal } : {}),
    sourceIp: r.sourceIp,
    destinationIp: r.destinationIp,
    destinationPort: r.destinationPort,
    destination: { namespace: r.namespace, policies: r.policies, labels: r.labels, targetRefs: r.targetRefs },
    ...(r.http !== undefined ? { http: r.http } : {}),
  }));

function comparable(decision: Decision): ReferenceDecision {
  const hit = 'hit' in decision ? decision.hit : undefined;
  const dry = decision.dryRun;
  return {
    result: decision.result,
    reason: decision.reason,
    ...(hit ? { policy: hit.policy.key, ruleIndex: hit.ruleIndex } : {}),
    audit: decision.audit.map((h) => h.policy.key),
    dryRun: {
      ...(dry?.deny
        ? { deny: { result: dry.deny.result, ...(dry.deny.hit ? { policy: dry.deny.hit.policy.key } : {}) } }
        : {}),
      ...(dry?.allow
        ? {
            allow: {
              result: dry.allow.result,
              ...(dry.allow.hit ? { policy: dry.allow.hit.policy.key } : {}),
            },
          }
        : {}),
    },
  };
}

describe('compiled evaluator ≡ reference evaluator', () => {
  it('wire form (ztunnel), with incremental updates', () => {
    fc.assert(
      fc.property(
        uniqueWirePolicies,
        uniqueWirePolicies,
        fc.array(authzRequest, { minLength: 1, maxLength: 8 }),
        (policies, noise, requests) => {
          const set = new AuthorizationSet();
          // Stale versions and extra policies first, then the real ones; extras removed again.
          for (const p of noise) set.upsert(p);
          for (const p of policies) set.upsert(p);
          const keys = new Set(policies.map((p) => `${p.namespace}/${p.name}`));
          for (const p of noise) {
            const key = `${p.namespace}/${p.name}`;
            if (!keys.has(key)) set.remove(key);
          }
          expect(set.size).toBe(policies.length);
          for (const request of requests) {
            const decision = set.evaluate(request);
            expect(comparable(decision)).toEqual(referenceEvaluateWire(policies, request));
            expect(set.explain(decision).length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  const sourceText = {
    principals: someOf(principalText),
    notPrincipals: someOf(principalText),
    namespaces: someOf(namespaceText),
    notNamespaces: someOf(namespaceText),
    serviceAccounts: someOf(accountText),
    notServiceAccounts: someOf(accountText),
    ipBlocks: someOf(fc.constantFrom(...CIDRS)),
    notIpBlocks: someOf(fc.constantFrom(...CIDRS)),
    remoteIpBlocks: someOf(fc.constantFrom(...CIDRS)),
    notRemoteIpBlocks: someOf(fc.constantFrom(...CIDRS)),
    requestPrincipals: someOf(fc.constantFrom('iss/alice', 'iss/*', '*')),
    notRequestPrincipals: someOf(fc.constantFrom('iss/alice', '*')),
  };
  const source = fewFields(sourceText);
  const portText = fc.constantFrom(...PORTS.map(String));
  const operation = fewFields({
    hosts: someOf(fc.constantFrom('b.foo', '*.example.com', 'b.*', '*')),
    notHosts: someOf(fc.constantFrom('b.foo', 'other')),
    ports: someOf(portText),
    notPorts: someOf(portText),
    methods: someOf(fc.constantFrom('GET', 'POST', 'G*')),
    notMethods: someOf(fc.constantFrom('GET', 'DELETE')),
    paths: someOf(fc.constantFrom('/api/*', '/admin', '*.png', '*')),
    notPaths: someOf(fc.constantFrom('/admin', '/api/*')),
  });
  const condition = fc.oneof(
    fc.record({
      key: fc.constantFrom('source.ip', 'destination.ip', 'remote.ip'),
      values: someOf(fc.constantFrom(...CIDRS)),
    }),
    fc.record({
      key: fc.constantFrom('source.ip', 'destination.ip'),
      notValues: someOf(fc.constantFrom(...CIDRS)),
    }),
    fc.record({ key: fc.constant('destination.port'), values: someOf(portText) }),
    fc.record({
      key: fc.constantFrom('source.namespace'),
      values: someOf(namespaceText),
      notValues: someOf(namespaceText),
    }),
    fc.record({ key: fc.constantFrom('source.principal'), values: someOf(principalText) }),
    fc.record({
      key: fc.constantFrom('request.headers[x-tenant]', 'request.headers[X-Tenant]'),
      values: someOf(fc.constantFrom('acme-*', 'other')),
    }),
    fc.record({
      key: fc.constantFrom('request.auth.claims[groups]', 'request.auth.claims[realm][role]'),
      values: someOf(fc.constantFrom('ops', 'admin', '7')),
    }),
    fc.record({
      key: fc.constantFrom(
        'request.auth.audiences',
        'request.auth.presenter',
        'request.auth.principal',
        'connection.sni',
      ),
      notValues: someOf(fc.constantFrom('api', 'cli', 'iss/alice', 'b.foo.svc', '*')),
    }),
  );
  const from = fc.array(fc.record({ source }), { minLength: 1, maxLength: 2 });
  const to = fc.array(fc.record({ operation }), { minLength: 1, maxLength: 2 });
  const when = fc.array(condition, { minLength: 1, maxLength: 2 });
  const rule = fc.oneof(
    fc.constant({}),
    fc.record({ from }),
    fc.record({ to }),
    fc.record({ when }),
    fc.record({ from, to }),
    fc.record({ from, to, when }, { requiredKeys: [] }),
  );
  const resource: fc.Arbitrary<AuthorizationPolicy> = fc
    .record({
      name: fc.constantFrom('p1', 'p2', 'p3', 'p4'),
      namespace: fc.constantFrom(...NAMESPACES),
      action: fc.constantFrom('ALLOW', 'DENY', 'AUDIT', 'CUSTOM'),
      provider: fc.constantFrom('opa', 'authz'),
      target: fc.constantFrom(
        'namespace',
        'namespace',
        'selector-b',
        'selector-c',
        'service-b',
        'service-b',
        'gateway',
        'gatewayclass',
      ),
      dryRun: fc.constantFrom(undefined, 'true', 'false'),
      rules: fc.option(fc.array(rule, { maxLength: 3 }), { nil: undefined }),
    })
    .map((r) => ({
      metadata: {
        name: r.name,
        namespace: r.namespace,
        ...(r.dryRun ? { annotations: { 'istio.io/dry-run': r.dryRun } } : {}),
      },
      spec: {
        action: r.action,
        ...(r.action === 'CUSTOM' ? { provider: { name: r.provider } } : {}),
        ...(r.target === 'selector-b' ? { selector: { matchLabels: { app: 'b' } } } : {}),
        ...(r.target === 'selector-c' ? { selector: { matchLabels: { app: 'c' } } } : {}),
        ...(r.target === 'service-b' ? { targetRefs: [{ kind: 'Service', name: 'b' }] } : {}),
        ...(r.target === 'gateway'
          ? {
              targetRefs: [
                { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint', namespace: 'foo' },
              ],
            }
          : {}),
        ...(r.target === 'gatewayclass'
          ? { targetRefs: [{ kind: 'GatewayClass', name: 'istio-waypoint' }] }
          : {}),
        ...(r.rules !== undefined ? { rules: r.rules } : {}),
      },
    }));
  const resources = fc.uniqueArray(resource, {
    maxLength: 10,
    selector: (p) => `${p.metadata.namespace}/${p.metadata.name}`,
  });
  const verdicts = fc.record(
    { opa: fc.constantFrom('allow', 'deny'), authz: fc.constantFrom('allow', 'deny') },
    { requiredKeys: [] },
  );

  for (const mode of ['workload', 'waypoint'] as const) {
    it(`user-facing form (${mode})`, () => {
      fc.assert(
        fc.property(
          resources,
          fc.array(authzRequest, { minLength: 1, maxLength: 8 }),
          verdicts,
          (policies, requests, custom) => {
            const set = new AuthorizationPolicySet({ mode });
            for (const p of policies) set.upsert(p);
            for (const request of requests) {
              const decision = set.evaluate(request, { custom });
              expect(comparable(decision)).toEqual(
                referenceEvaluatePolicies(policies, request, { mode, custom }),
              );
              expect(set.explain(decision).length).toBeGreaterThan(0);
            }
          },
        ),
        { numRuns: RUNS },
      );
    });
  }
});
