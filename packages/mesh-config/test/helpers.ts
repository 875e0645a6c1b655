import { expect } from 'vitest';
import { type MeshResource, parseYamlResources, type WireAuthorization } from '../src/index.js';
import type { AuthorizationConverter, PeerAuthenticationConverter } from '../src/index.js';

/** Parses YAML that must be valid. */
export function load(yaml: string): MeshResource[] {
  const { resources, issues } = parseYamlResources(yaml, 'test.yaml');
  expect(issues).toEqual([]);
  return [...resources];
}

/** IPv4 text to bytes, for expected values. */
export function ip4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/**
 * A small stand-in for authz-engine's conversion: principals and L4 ports
 * only; enough to check that the translator calls the converter with the
 * right scope and publishes what it returns.
 */
export const testConverter: AuthorizationConverter = (policy, context) => {
  const warnings: { path: string; message: string }[] = [];
  const rules = (policy.spec.rules ?? []).map((rule, i) => {
    const clauses: WireAuthorization['rules'][number]['clauses'][number][] = [];
    for (const from of rule.from ?? []) {
      clauses.push({
        matches: [
          {
            ...emptyMatch(),
            principals: (from.source.principals ?? []).map((p) => ({ exact: p })),
          },
        ],
      });
    }
    for (const [j, to] of (rule.to ?? []).entries()) {
      if (to.operation.paths)
        warnings.push({ path: `spec.rules[${i}].to[${j}].operation.paths`, message: 'HTTP' });
      clauses.push({
        matches: [{ ...emptyMatch(), destinationPorts: (to.operation.ports ?? []).map(Number) }],
      });
    }
    return { clauses };
  });
  return {
    authorizations: [
      {
        name: policy.metadata.name,
        namespace: policy.metadata.namespace!,
        scope: context.scope,
        action: policy.spec.action === 'DENY' ? 'DENY' : 'ALLOW',
        rules,
        dryRun: policy.metadata.annotations?.['istio.io/dry-run'] === 'true',
      },
    ],
    warnings,
  };
};

function emptyMatch(): WireAuthorization['rules'][number]['clauses'][number]['matches'][number] {
  return {
    namespaces: [],
    notNamespaces: [],
    principals: [],
    notPrincipals: [],
    sourceIps: [],
    notSourceIps: [],
    destinationIps: [],
    notDestinationIps: [],
    destinationPorts: [],
    notDestinationPorts: [],
    serviceAccounts: [],
    notServiceAccounts: [],
  };
}

/** Istio-like PeerAuthentication conversion: STRICT becomes a DENY for peers without an identity. */
export const testPeerConverter: PeerAuthenticationConverter = (pa, context) => {
  if (pa.spec.mtls?.mode !== 'STRICT') return { authorizations: [], warnings: [] };
  return {
    authorizations: [
      {
        name: `converted_peer_authentication_${pa.metadata.name}`,
        namespace: pa.metadata.namespace!,
        scope: context.scope,
        action: 'DENY',
        rules: [{ clauses: [{ matches: [{ ...emptyMatch(), notPrincipals: [{ presence: {} }] }] }] }],
        dryRun: false,
      },
    ],
    warnings: [],
  };
};
