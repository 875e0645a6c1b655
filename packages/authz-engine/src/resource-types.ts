/**
 * The user-facing resources, in their Kubernetes YAML shape
 * (`security.istio.io/v1` AuthorizationPolicy and PeerAuthentication).
 * @packageDocumentation
 */

/** Kubernetes object metadata, the parts that matter here. */
export interface ResourceMetadata {
  readonly name: string;
  readonly namespace?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** `spec.selector`: workloads whose labels include every `matchLabels` entry. */
export interface WorkloadSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
}

/** `spec.targetRefs[]`: a Gateway, Service or ServiceEntry the policy attaches to (waypoints). */
export interface PolicyTargetReference {
  /** API group; empty = core (Service). */
  readonly group?: string;
  readonly kind: string;
  readonly name: string;
  /** Defaults to the policy's namespace. */
  readonly namespace?: string;
}

/** `spec.action`. Absent = ALLOW. */
export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

/**
 * `rules[].from[].source`. Values use Istio's string patterns: `"*"` any
 * non-empty value, `"x*"` prefix, `"*x"` suffix, else exact.
 */
export interface Source {
  /** Peer identities (`<trust domain>/ns/<ns>/sa/<sa>`). */
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  /** JWT identities `<iss>/<sub>` (L7). */
  readonly requestPrincipals?: readonly string[];
  readonly notRequestPrincipals?: readonly string[];
  /** Namespace of the peer identity. */
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  /** Service accounts `<ns>/<sa>` of the peer identity. */
  readonly serviceAccounts?: readonly string[];
  readonly notServiceAccounts?: readonly string[];
  /** Source IP of the connection: addresses or CIDR blocks. */
  readonly ipBlocks?: readonly string[];
  readonly notIpBlocks?: readonly string[];
  /** Original client IP (X-Forwarded-For, L7). */
  readonly remoteIpBlocks?: readonly string[];
  readonly notRemoteIpBlocks?: readonly string[];
}

/** `rules[].to[].operation`. Hosts, methods and paths are L7; ports are L4. */
export interface Operation {
  /** Host or authority; case-insensitive. */
  readonly hosts?: readonly string[];
  readonly notHosts?: readonly string[];
  /** Destination ports, as decimal strings. */
  readonly ports?: readonly string[];
  readonly notPorts?: readonly string[];
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  /** Request path without the query string. */
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
}

/** `rules[].when[]`: a condition on one attribute (see {@link CONDITION_KEYS}). */
export interface Condition {
  readonly key: string;
  readonly values?: readonly string[];
  readonly notValues?: readonly string[];
}

/** One rule: every part present must match (from OR-ed, to OR-ed, each when AND-ed). */
export interface AuthorizationRule {
  readonly from?: readonly { readonly source?: Source }[];
  readonly to?: readonly { readonly operation?: Operation }[];
  readonly when?: readonly Condition[];
}

/** `spec` of an AuthorizationPolicy. */
export interface AuthorizationPolicySpec {
  readonly selector?: WorkloadSelector;
  readonly targetRef?: PolicyTargetReference;
  readonly targetRefs?: readonly PolicyTargetReference[];
  readonly action?: AuthorizationAction;
  /** The external authorizer of a CUSTOM policy. */
  readonly provider?: { readonly name?: string };
  readonly rules?: readonly AuthorizationRule[];
}

/** An AuthorizationPolicy resource (`security.istio.io/v1`). */
export interface AuthorizationPolicy {
  readonly apiVersion?: string;
  readonly kind?: 'AuthorizationPolicy';
  readonly metadata: ResourceMetadata;
  readonly spec?: AuthorizationPolicySpec;
}

/** PeerAuthentication mTLS modes. */
export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/** A PeerAuthentication resource (`security.istio.io/v1`). */
export interface PeerAuthentication {
  readonly apiVersion?: string;
  readonly kind?: 'PeerAuthentication';
  readonly metadata: ResourceMetadata;
  readonly spec?: {
    readonly selector?: WorkloadSelector;
    readonly mtls?: { readonly mode?: MtlsMode };
    /** Keyed by the workload port number (decimal text, as YAML keys arrive). */
    readonly portLevelMtls?: Readonly<Record<string, { readonly mode?: MtlsMode }>>;
  };
}

/** The annotation that turns a policy into a dry-run policy (`"true"`). */
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
