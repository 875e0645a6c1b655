/**
 * The ztunnel xDS resources this package produces, in the protobufjs
 * `toObject` shape (`{ enums: String, longs: Number, bytes: Uint8Array,
 * defaults: true }`): camelCase proto field names, enums as strings, bytes
 * as `Uint8Array`. Field numbers: see `istio/ztunnel` `workload.proto` and
 * `authorization.proto` (mirrored in amesh's protocol-facts).
 */

/** `istio.workload.NetworkAddress`. */
export interface NetworkAddress {
  readonly network: string;
  /** 4 (IPv4) or 16 (IPv6) bytes. */
  readonly address: Uint8Array;
}

/** `istio.workload.NamespacedHostname`. */
export interface NamespacedHostname {
  readonly namespace: string;
  readonly hostname: string;
}

/** `istio.workload.GatewayAddress` (oneof destination: hostname or address). */
export type GatewayAddress =
  | { readonly hostname: NamespacedHostname; readonly hboneMtlsPort: number }
  | { readonly address: NetworkAddress; readonly hboneMtlsPort: number };

/** `istio.workload.AppProtocol`. */
export type AppProtocol = 'UNKNOWN' | 'HTTP11' | 'HTTP2' | 'GRPC' | 'TCP' | 'TLS';

/** `istio.workload.Port`. */
export interface Port {
  readonly servicePort: number;
  /** 0 on a Service when the target is a named port resolved per workload. */
  readonly targetPort: number;
  readonly appProtocol?: AppProtocol;
}

/** `istio.workload.PortList`. */
export interface PortList {
  readonly ports: Port[];
}

/** `istio.workload.TunnelProtocol`. */
export type TunnelProtocol = 'NONE' | 'HBONE';
/** `istio.workload.WorkloadStatus`. */
export type WorkloadStatus = 'HEALTHY' | 'UNHEALTHY';
/** `istio.workload.WorkloadType`. */
export type WorkloadType = 'DEPLOYMENT' | 'CRONJOB' | 'POD' | 'JOB';

/** `istio.workload.Workload`. */
export interface Workload {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly addresses: Uint8Array[];
  readonly hostname: string;
  readonly network: string;
  readonly tunnelProtocol: TunnelProtocol;
  /** Empty for the default trust domain. */
  readonly trustDomain: string;
  readonly serviceAccount: string;
  readonly waypoint?: GatewayAddress;
  readonly node: string;
  readonly canonicalName: string;
  readonly canonicalRevision: string;
  readonly workloadType: WorkloadType;
  readonly workloadName: string;
  /** Key `<namespace>/<hostname>` of each service this workload backs. */
  readonly services: Readonly<Record<string, PortList>>;
  /** `<namespace>/<name>` of each WORKLOAD_SELECTOR policy selecting it. */
  readonly authorizationPolicies: string[];
  readonly status: WorkloadStatus;
  readonly clusterId: string;
}

/** `istio.workload.LoadBalancing`. */
export interface LoadBalancing {
  readonly routingPreference: ('NETWORK' | 'REGION' | 'ZONE' | 'SUBZONE' | 'NODE' | 'CLUSTER')[];
  readonly mode: 'UNSPECIFIED_MODE' | 'STRICT' | 'FAILOVER';
}

/** `istio.workload.Service`. */
export interface Service {
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly addresses: NetworkAddress[];
  readonly ports: Port[];
  readonly subjectAltNames: string[];
  readonly waypoint?: GatewayAddress;
  readonly loadBalancing?: LoadBalancing;
}

/** `istio.workload.Address`: a oneof of workload or service. */
export type Address = { readonly workload: Workload } | { readonly service: Service };

/** `istio.security.StringMatch` (oneof). */
export type StringMatch =
  | { readonly exact: string }
  | { readonly prefix: string }
  | { readonly suffix: string }
  | { readonly presence: Record<string, never> };

/** `istio.security.Address` (a CIDR). */
export interface AuthorizationAddress {
  readonly address: Uint8Array;
  readonly length: number;
}

/** `istio.security.ServiceAccountMatch`. */
export interface ServiceAccountMatch {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** `istio.security.Match`: kinds AND-ed, values of a kind OR-ed. */
export interface AuthorizationMatch {
  readonly namespaces: StringMatch[];
  readonly notNamespaces: StringMatch[];
  readonly principals: StringMatch[];
  readonly notPrincipals: StringMatch[];
  readonly sourceIps: AuthorizationAddress[];
  readonly notSourceIps: AuthorizationAddress[];
  readonly destinationIps: AuthorizationAddress[];
  readonly notDestinationIps: AuthorizationAddress[];
  readonly destinationPorts: number[];
  readonly notDestinationPorts: number[];
  readonly serviceAccounts: ServiceAccountMatch[];
  readonly notServiceAccounts: ServiceAccountMatch[];
}

/** `istio.security.Authorization`: what ztunnel enforces. */
export interface WireAuthorization {
  readonly name: string;
  readonly namespace: string;
  readonly scope: 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';
  readonly action: 'ALLOW' | 'DENY';
  readonly rules: {
    readonly clauses: { readonly matches: AuthorizationMatch[] }[];
  }[];
  readonly dryRun: boolean;
}
