/**
 * The resources the control plane understands, in their Kubernetes YAML
 * shapes (so the same files work in a cluster). Only the fields amesh reads
 * are typed; other fields are kept as they are and ignored.
 */

/** `metadata` of every resource. */
export interface ObjectMeta {
  readonly name: string;
  /** Absent for cluster-scoped kinds; defaults to `default` for namespaced kinds. */
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly {
    readonly kind: string;
    readonly name: string;
    readonly apiVersion?: string;
  }[];
  readonly deletionTimestamp?: string;
  readonly creationTimestamp?: string;
}

/** A Kubernetes label selector; amesh supports `matchLabels` and `matchExpressions`. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly {
    readonly key: string;
    readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    readonly values?: readonly string[];
  }[];
}

/** A Gateway API policy/route target reference. */
export interface TargetRef {
  readonly group?: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

interface Base<Kind extends string, ApiVersion extends string, Spec> {
  readonly apiVersion: ApiVersion;
  readonly kind: Kind;
  readonly metadata: ObjectMeta;
  readonly spec: Spec;
}

/** `v1 Namespace`: its labels enrol pods (`istio.io/dataplane-mode`) and pick waypoints. */
export interface NamespaceResource {
  readonly apiVersion: 'v1';
  readonly kind: 'Namespace';
  readonly metadata: ObjectMeta;
}

/** A container port, used to resolve named Service `targetPort`s. */
export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
}

/** `v1 Pod`: a workload. */
export interface PodResource extends Base<'Pod', 'v1', PodSpec> {
  readonly status?: PodStatus;
}
/** `Pod.spec` fields amesh reads. */
export interface PodSpec {
  readonly nodeName?: string;
  readonly serviceAccountName?: string;
  readonly hostNetwork?: boolean;
  readonly containers?: readonly { readonly name: string; readonly ports?: readonly ContainerPort[] }[];
}
/** `Pod.status` fields amesh reads. */
export interface PodStatus {
  readonly phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  readonly podIP?: string;
  readonly podIPs?: readonly { readonly ip: string }[];
  readonly conditions?: readonly { readonly type: string; readonly status: 'True' | 'False' | 'Unknown' }[];
}

/** A port of a `v1 Service`. */
export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
  readonly appProtocol?: string;
}
/** `v1 Service`: VIPs and ports; endpoints are the pods its selector matches. */
export type ServiceResource = Base<
  'Service',
  'v1',
  {
    readonly selector?: Readonly<Record<string, string>>;
    readonly ports?: readonly ServicePort[];
    readonly clusterIP?: string;
    readonly clusterIPs?: readonly string[];
    readonly type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
    readonly externalName?: string;
  }
>;

/** `v1 ServiceAccount`. */
export interface ServiceAccountResource {
  readonly apiVersion: 'v1';
  readonly kind: 'ServiceAccount';
  readonly metadata: ObjectMeta;
}

/** Istio networking API versions accepted for Istio kinds. */
export type IstioNetworkingVersion =
  | 'networking.istio.io/v1'
  | 'networking.istio.io/v1beta1'
  | 'networking.istio.io/v1alpha3';
/** Istio security API versions accepted for Istio kinds. */
export type IstioSecurityVersion = 'security.istio.io/v1' | 'security.istio.io/v1beta1';
/** Gateway API versions accepted. */
export type GatewayApiVersion = 'gateway.networking.k8s.io/v1' | 'gateway.networking.k8s.io/v1beta1';

/** `WorkloadEntry.spec` (also the shape of a ServiceEntry inline endpoint). */
export interface WorkloadEntrySpec {
  readonly address?: string;
  readonly ports?: Readonly<Record<string, number>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly network?: string;
  readonly locality?: string;
  readonly weight?: number;
  readonly serviceAccount?: string;
}
/** `WorkloadEntry`: a workload outside Kubernetes (a VM, a bare process). */
export type WorkloadEntryResource = Base<'WorkloadEntry', IstioNetworkingVersion, WorkloadEntrySpec>;

/** A port of a ServiceEntry. */
export interface ServiceEntryPort {
  readonly number: number;
  readonly protocol?: string;
  readonly name?: string;
  readonly targetPort?: number;
}
/** `ServiceEntry`: a service not backed by a Kubernetes Service. */
export type ServiceEntryResource = Base<
  'ServiceEntry',
  IstioNetworkingVersion,
  {
    readonly hosts: readonly string[];
    readonly addresses?: readonly string[];
    readonly ports?: readonly ServiceEntryPort[];
    readonly location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
    readonly resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
    readonly endpoints?: readonly WorkloadEntrySpec[];
    readonly workloadSelector?: { readonly labels?: Readonly<Record<string, string>> };
    readonly exportTo?: readonly string[];
    readonly subjectAltNames?: readonly string[];
  }
>;

/** `AuthorizationPolicy.spec.rules[].from[].source`. */
export interface PolicySource {
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  readonly requestPrincipals?: readonly string[];
  readonly notRequestPrincipals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  readonly serviceAccounts?: readonly string[];
  readonly notServiceAccounts?: readonly string[];
  readonly ipBlocks?: readonly string[];
  readonly notIpBlocks?: readonly string[];
  readonly remoteIpBlocks?: readonly string[];
  readonly notRemoteIpBlocks?: readonly string[];
}
/** `AuthorizationPolicy.spec.rules[].to[].operation`. */
export interface PolicyOperation {
  readonly hosts?: readonly string[];
  readonly notHosts?: readonly string[];
  readonly ports?: readonly string[];
  readonly notPorts?: readonly string[];
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
}
/** One rule of an AuthorizationPolicy. */
export interface PolicyRule {
  readonly from?: readonly { readonly source: PolicySource }[];
  readonly to?: readonly { readonly operation: PolicyOperation }[];
  readonly when?: readonly {
    readonly key: string;
    readonly values?: readonly string[];
    readonly notValues?: readonly string[];
  }[];
}
/** `AuthorizationPolicy.spec`. */
export interface AuthorizationPolicySpec {
  readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
  readonly targetRef?: TargetRef;
  readonly targetRefs?: readonly TargetRef[];
  readonly action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  readonly provider?: { readonly name: string };
  readonly rules?: readonly PolicyRule[];
}
/** `AuthorizationPolicy` (Istio security API). */
export type AuthorizationPolicyResource = Base<
  'AuthorizationPolicy',
  IstioSecurityVersion,
  AuthorizationPolicySpec
>;

/** mTLS mode of a PeerAuthentication. */
export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';
/** `PeerAuthentication`: STRICT / PERMISSIVE mTLS. */
export type PeerAuthenticationResource = Base<
  'PeerAuthentication',
  IstioSecurityVersion,
  {
    readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
    readonly mtls?: { readonly mode?: MtlsMode };
    readonly portLevelMtls?: Readonly<Record<string, { readonly mode?: MtlsMode }>>;
  }
>;

/** A JWT rule of a RequestAuthentication. */
export interface JwtRule {
  readonly issuer: string;
  readonly audiences?: readonly string[];
  readonly jwksUri?: string;
  readonly jwks?: string;
  readonly fromHeaders?: readonly { readonly name: string; readonly prefix?: string }[];
  readonly fromParams?: readonly string[];
  readonly outputPayloadToHeader?: string;
  readonly forwardOriginalToken?: boolean;
}
/** `RequestAuthentication`: JWT validation at waypoints. */
export type RequestAuthenticationResource = Base<
  'RequestAuthentication',
  IstioSecurityVersion,
  {
    readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
    readonly targetRef?: TargetRef;
    readonly targetRefs?: readonly TargetRef[];
    readonly jwtRules?: readonly JwtRule[];
  }
>;

/** A listener of a Gateway. */
export interface GatewayListener {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly hostname?: string;
  readonly allowedRoutes?: unknown;
  readonly tls?: unknown;
}
/** `Gateway` (Gateway API): class `istio-waypoint` for waypoints, others for ingress. */
export type GatewayResource = Base<
  'Gateway',
  GatewayApiVersion,
  {
    readonly gatewayClassName: string;
    readonly listeners: readonly GatewayListener[];
    readonly addresses?: readonly { readonly type?: string; readonly value: string }[];
  }
>;

/** A parent reference of an HTTPRoute. */
export interface ParentRef {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
  readonly sectionName?: string;
}
/** A match of an HTTPRoute rule. */
export interface HttpRouteMatch {
  readonly path?: { readonly type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; readonly value?: string };
  readonly headers?: readonly {
    readonly type?: 'Exact' | 'RegularExpression';
    readonly name: string;
    readonly value: string;
  }[];
  readonly queryParams?: readonly {
    readonly type?: 'Exact' | 'RegularExpression';
    readonly name: string;
    readonly value: string;
  }[];
  readonly method?: string;
}
/** A backend of an HTTPRoute rule. */
export interface HttpBackendRef {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
  readonly weight?: number;
}
/** `HTTPRoute` (Gateway API). */
export type HttpRouteResource = Base<
  'HTTPRoute',
  GatewayApiVersion,
  {
    readonly parentRefs?: readonly ParentRef[];
    readonly hostnames?: readonly string[];
    readonly rules?: readonly {
      readonly matches?: readonly HttpRouteMatch[];
      readonly filters?: readonly unknown[];
      readonly backendRefs?: readonly HttpBackendRef[];
      readonly timeouts?: { readonly request?: string; readonly backendRequest?: string };
    }[];
  }
>;

/** `DestinationRule`: traffic policy and subsets for a host. */
export type DestinationRuleResource = Base<
  'DestinationRule',
  IstioNetworkingVersion,
  {
    readonly host: string;
    readonly trafficPolicy?: Readonly<Record<string, unknown>>;
    readonly subsets?: readonly {
      readonly name: string;
      readonly labels?: Readonly<Record<string, string>>;
      readonly trafficPolicy?: Readonly<Record<string, unknown>>;
    }[];
    readonly exportTo?: readonly string[];
  }
>;

/** Every resource kind amesh understands, as a discriminated union on `kind`. */
export type MeshResource =
  | NamespaceResource
  | PodResource
  | ServiceResource
  | ServiceAccountResource
  | WorkloadEntryResource
  | ServiceEntryResource
  | AuthorizationPolicyResource
  | PeerAuthenticationResource
  | RequestAuthenticationResource
  | GatewayResource
  | HttpRouteResource
  | DestinationRuleResource;

/** The `kind` of a {@link MeshResource}. */
export type ResourceKind = MeshResource['kind'];

/** Every kind, in a stable order. */
export const RESOURCE_KINDS: readonly ResourceKind[] = [
  'Namespace',
  'Pod',
  'Service',
  'ServiceAccount',
  'WorkloadEntry',
  'ServiceEntry',
  'AuthorizationPolicy',
  'PeerAuthentication',
  'RequestAuthentication',
  'Gateway',
  'HTTPRoute',
  'DestinationRule',
];

/** Identifies one resource: kind, namespace (empty for cluster-scoped) and name. */
export interface ResourceRef {
  readonly kind: ResourceKind;
  readonly namespace: string;
  readonly name: string;
}

/** The stable string key of a resource: `Kind/namespace/name` (`Namespace//name`). */
export function resourceKey(ref: ResourceRef | MeshResource): string {
  if ('metadata' in ref) {
    return `${ref.kind}/${ref.kind === 'Namespace' ? '' : (ref.metadata.namespace ?? 'default')}/${ref.metadata.name}`;
  }
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** The {@link ResourceRef} of a resource. */
export function resourceRef(resource: MeshResource): ResourceRef {
  return {
    kind: resource.kind,
    namespace: resource.kind === 'Namespace' ? '' : (resource.metadata.namespace ?? 'default'),
    name: resource.metadata.name,
  };
}

/** Parses a key made by {@link resourceKey}; `undefined` when malformed. */
export function parseResourceKey(key: string): ResourceRef | undefined {
  const [kind, namespace, name, ...rest] = key.split('/');
  if (rest.length > 0 || kind === undefined || namespace === undefined || !name) return undefined;
  if (!(RESOURCE_KINDS as readonly string[]).includes(kind)) return undefined;
  return { kind: kind as ResourceKind, namespace, name };
}

/** A set of resource changes: resources added or replaced, and resources removed. */
export interface ConfigChange {
  readonly upserted: readonly MeshResource[];
  readonly removed: readonly ResourceRef[];
}
