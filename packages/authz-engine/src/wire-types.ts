/**
 * The wire form ztunnel receives over xDS: `istio.security.Authorization`
 * (type URL `type.googleapis.com/istio.security.Authorization`), in the
 * protobufjs `toObject` shape with camelCase proto field names. Field numbers
 * are in the comments; see protocol-facts.md.
 * @packageDocumentation
 */

/** `istio.security.Scope`: which workloads a policy applies to. */
export type WireScope = 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';

/** `istio.security.Action`: ztunnel only knows ALLOW and DENY. */
export type WireAction = 'ALLOW' | 'DENY';

/** `istio.security.StringMatch`: exactly one of the four forms. */
export type WireStringMatch =
  | { readonly exact: string }
  | { readonly prefix: string }
  | { readonly suffix: string }
  | { readonly presence: Readonly<Record<string, never>> };

/** `istio.security.Address { bytes address = 1; uint32 length = 2; }`: a CIDR block. */
export interface WireAddress {
  /** 4 bytes (IPv4) or 16 bytes (IPv6). */
  readonly address: Uint8Array;
  /** Prefix length; absent = 0 (proto3 default, as protobufjs `toObject` omits it). */
  readonly length?: number;
}

/** `istio.security.ServiceAccountMatch { namespace = 1; serviceAccount = 2; }`. */
export interface WireServiceAccountMatch {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/**
 * `istio.security.Match`: positive values of one kind are OR-ed, negative
 * values must all miss, different kinds are AND-ed. Absent or empty lists are
 * not checked.
 */
export interface WireMatch {
  /** 1 */ readonly namespaces?: readonly WireStringMatch[];
  /** 2 */ readonly notNamespaces?: readonly WireStringMatch[];
  /** 3: compared with the peer identity without `spiffe://`. */ readonly principals?: readonly WireStringMatch[];
  /** 4 */ readonly notPrincipals?: readonly WireStringMatch[];
  /** 5 */ readonly sourceIps?: readonly WireAddress[];
  /** 6 */ readonly notSourceIps?: readonly WireAddress[];
  /** 7 */ readonly destinationIps?: readonly WireAddress[];
  /** 8 */ readonly notDestinationIps?: readonly WireAddress[];
  /** 9 */ readonly destinationPorts?: readonly number[];
  /** 10 */ readonly notDestinationPorts?: readonly number[];
  /** 11 */ readonly serviceAccounts?: readonly WireServiceAccountMatch[];
  /** 12 */ readonly notServiceAccounts?: readonly WireServiceAccountMatch[];
}

/** `istio.security.Clause { repeated Match matches = 2; }`: OR of matches; no matches = matches. */
export interface WireClause {
  readonly matches?: readonly WireMatch[];
}

/** `istio.security.Rule { repeated Clause clauses = 1; }`: AND of clauses; no clauses = matches. */
export interface WireRule {
  readonly clauses?: readonly WireClause[];
}

/**
 * `istio.security.Authorization`: a policy as ztunnel enforces it. Resource
 * name `<namespace>/<name>`. Rules are OR-ed; a policy without rules never matches.
 */
export interface WireAuthorization {
  /** 1 */ readonly name: string;
  /** 2 */ readonly namespace: string;
  /** 3; absent = GLOBAL (the proto default). */ readonly scope?: WireScope;
  /** 4; absent = ALLOW (the proto default). */ readonly action?: WireAction;
  /** 5 */ readonly rules?: readonly WireRule[];
  /** 6: evaluated and reported, never enforced. */ readonly dryRun?: boolean;
}
