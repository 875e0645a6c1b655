/**
 * Bad input gets a typed error and nothing else: random values in place of
 * any part of a policy never crash validation, and compiling reports
 * `AUTHZ_ERR_INVALID_POLICY` (never a TypeError).
 */
import { isAmeshError } from '@amesh/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AuthorizationPolicySet,
  AuthorizationSet,
  peerAuthenticationToWire,
  toWireAuthorization,
  validateAuthorizationPolicy,
  validateWireAuthorization,
} from '../src/index.js';

const junk = fc.oneof(fc.anything(), fc.constant(null), fc.array(fc.anything()), fc.string());

/** Replaces the value at one random path of `base` with junk. */
function corrupt(base: unknown): fc.Arbitrary<unknown> {
  const paths: (string | number)[][] = [];
  const walk = (value: unknown, path: (string | number)[]): void => {
    paths.push(path);
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        walk(v, [...path, i]);
      });
    } else if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    }
  };
  walk(base, []);
  return fc.tuple(fc.constantFrom(...paths), junk).map(([path, value]) => {
    const copy = structuredClone(base);
    if (path.length === 0) return value;
    let target = copy as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
    target[path[path.length - 1]!] = value;
    return copy;
  });
}

const policy = {
  metadata: { name: 'p', namespace: 'foo', annotations: { 'istio.io/dry-run': 'false' } },
  spec: {
    selector: { matchLabels: { app: 'b' } },
    action: 'DENY',
    rules: [
      {
        from: [{ source: { principals: ['a/ns/b/sa/c'], ipBlocks: ['10.0.0.0/8'] } }],
        to: [{ operation: { ports: ['80'], methods: ['GET'] } }],
        when: [{ key: 'request.headers[x]', values: ['1'], notValues: ['2'] }],
      },
    ],
  },
};

const wire = {
  name: 'w',
  namespace: 'foo',
  scope: 'NAMESPACE',
  action: 'ALLOW',
  rules: [
    {
      clauses: [
        {
          matches: [
            {
              namespaces: [{ exact: 'a' }],
              sourceIps: [{ address: new Uint8Array([10, 0, 0, 0]), length: 8 }],
              destinationPorts: [80],
              serviceAccounts: [{ namespace: 'a', serviceAccount: 'b' }],
            },
          ],
        },
      ],
    },
  ],
};

function onlyTypedErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!isAmeshError(error, 'AUTHZ_ERR_INVALID_POLICY')) throw error;
  }
}

describe('malformed input', () => {
  it('user-facing policies: validation never throws; compile and convert fail typed', () => {
    fc.assert(
      fc.property(corrupt(policy), (value) => {
        const result = validateAuthorizationPolicy(value as never);
        expect(Array.isArray(result.errors)).toBe(true);
        expect(toWireAuthorization(value as never).status).toMatch(/converted|skipped|invalid/);
        onlyTypedErrors(() => new AuthorizationPolicySet({ mode: 'workload' }).upsert(value as never));
      }),
      { numRuns: 500 },
    );
  });

  it('wire policies: validation never throws; upsert fails typed', () => {
    fc.assert(
      fc.property(corrupt(wire), (value) => {
        expect(Array.isArray(validateWireAuthorization(value as never))).toBe(true);
        onlyTypedErrors(() => new AuthorizationSet().upsert(value as never));
      }),
      { numRuns: 500 },
    );
  });

  it('a name or namespace that is not a string (not even printable) still fails typed', () => {
    // Found by the property above (seed 687848787): the error message used to print the value.
    const unprintable = [{ toString: 0 }];
    expect(() => new AuthorizationSet().upsert({ ...wire, namespace: unprintable } as never)).toThrow(
      expect.objectContaining({
        code: 'AUTHZ_ERR_INVALID_POLICY',
        message: expect.stringMatching(/^Authorization \?\//),
      }),
    );
    expect(() =>
      new AuthorizationPolicySet({ mode: 'workload' }).upsert({
        ...policy,
        metadata: { name: unprintable, namespace: 'foo' },
      } as never),
    ).toThrow(expect.objectContaining({ code: 'AUTHZ_ERR_INVALID_POLICY' }));
  });

  it('PeerAuthentication: conversion never throws', () => {
    const pa = {
      metadata: { name: 'pa', namespace: 'foo' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        mtls: { mode: 'STRICT' },
        portLevelMtls: { '80': { mode: 'PERMISSIVE' } },
      },
    };
    fc.assert(
      fc.property(corrupt(pa), (value) => {
        expect(peerAuthenticationToWire(value as never).status).toMatch(/converted|skipped|invalid/);
      }),
      { numRuns: 300 },
    );
  });

  it('reports a wrong type with its path', () => {
    const result = validateAuthorizationPolicy({
      metadata: { name: 'p', namespace: 'foo' },
      spec: { rules: [{ from: 'everyone' }] },
    } as never);
    expect(result.errors).toEqual([
      { path: 'spec.rules[0].from', code: 'AUTHZ_ERR_INVALID_TYPE', message: 'must be a list' },
    ]);
  });
});
