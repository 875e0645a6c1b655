/** The README's examples, run as written, so the documentation cannot rot. */
import { describe, expect, it } from 'vitest';
import { AuthorizationPolicySet, AuthorizationSet, explain, toWireAuthorization } from '../src/index.js';

describe('README examples', () => {
  it('ztunnel (wire form, L4)', () => {
    const converted = toWireAuthorization({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'deny-bar', namespace: 'foo' },
      spec: { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['bar'] } }] }] },
    });
    if (converted.status !== 'converted') throw new Error(converted.status);
    const policies = new AuthorizationSet({ rootNamespace: 'istio-system' });
    policies.upsert(converted.authorization);
    const decision = policies.evaluate({
      sourcePrincipal: 'cluster.local/ns/bar/sa/client',
      sourceIp: '10.0.0.7',
      destinationIp: '10.0.1.9',
      destinationPort: 8080,
      destination: { namespace: 'foo', policies: [] },
    });
    expect(decision.result).toBe('deny');
    expect(explain(decision)).toBe(
      "denied by DENY policy foo/deny-bar rule 0: source namespace bar matched namespaces[0] 'bar'",
    );
  });

  it('waypoint (user-facing form, L7)', () => {
    const waypoint = new AuthorizationPolicySet({ mode: 'waypoint' });
    waypoint.upsert({
      metadata: { name: 'reviews-read-only', namespace: 'shop' },
      spec: {
        targetRefs: [{ kind: 'Service', name: 'reviews' }],
        rules: [
          {
            from: [{ source: { namespaces: ['shop'] } }],
            to: [{ operation: { methods: ['GET'], paths: ['/api/*'] } }],
          },
        ],
      },
    });
    const request = {
      sourcePrincipal: 'cluster.local/ns/shop/sa/frontend',
      sourceIp: '10.0.0.7',
      destinationIp: '10.96.0.10',
      destinationPort: 9080,
      destination: {
        namespace: 'shop',
        targetRefs: [{ kind: 'Service', namespace: 'shop', name: 'reviews' }],
      },
      http: { method: 'POST', path: '/api/reviews', host: 'reviews.shop.svc.cluster.local' },
    };
    const decision = waypoint.evaluate(request);
    expect(decision.result).toBe('deny');
    expect(waypoint.explain(decision)).toBe(
      [
        'denied: 1 ALLOW policy applies to the destination and none matched',
        "  ALLOW policy shop/reviews-read-only did not match: rule 0: method POST matched none of methods ['GET']",
      ].join('\n'),
    );
  });
});
