/*
 * TypeScript shapes of Istio's ambient xDS resources, exactly as this package
 * decodes them: protobufjs `toObject` with { enums: String, longs: Number,
 * bytes: Uint8Array (in Node a Buffer, which is a Uint8Array), defaults: true,
 * oneofs: true, arrays: true }. Field names are camelCase. Unset message
 * fields are `null`; unset oneof members are absent and the oneof's own name
 * (`type`, `destination`, `matchType`) says which member is set.
 */

/** `istio.workload.TunnelProtocol`. */
export type TunnelProtocol = 'NONE' | 'HBONE';
/** `istio.workload.WorkloadStatus`. */
export type WorkloadStatus = 'HEALTHY' | 'UNHEALTHY';
/** `istio.workload.WorkloadType`. */
export type WorkloadType = 'DEPLOYMENT' | 'CRONJOB' | 'POD' | 'JOB';
/** `istio.workload.AppProtocol`. */
export type AppProtocol = 'UNKNOWN' | 'HTTP11' | 'HTTP2' | 'GRPC' | 'TCP' | 'TLS';
/** `istio.workload.IPFamilies`. */
export type IpFamilies = 'AUTOMATIC' | 'IPV4_ONLY' | 'IPV6_ONLY' | 'DUAL';
/** `istio.workload.NetworkMode`. */
export type NetworkMode = 'STANDARD' | 'HOST_NETWORK';

/** `istio.workload.NetworkAddress`: an IP (4 or 16 bytes) on a network. */
export interface NetworkAddress {
  network: string;
  address: Uint8Array;
}

/** `istio.workload.NamespacedHostname`. */
export interface NamespacedHostname {
  namespace: string;
  hostname: string;
}

/** `istio.workload.GatewayAddress` (a waypoint or network gateway). */
export interface GatewayAddress {
  /** Which member of the `destination` oneof is set. */
  destination?: 'hostname' | 'address';
  hostname?: NamespacedHostname;
  address?: NetworkAddress;
  hboneMtlsPort: number;
}

/** `istio.workload.Port`. */
export interface Port {
  servicePort: number;
  targetPort: number;
  appProtocol: AppProtocol;
}

/** `istio.workload.PortList`. */
export interface PortList {
  ports: Port[];
}

/** `istio.workload.Locality`. */
export interface Locality {
  region: string;
  zone: string;
  subzone: string;
}

/** `istio.workload.ApplicationTunnel`. */
export interface ApplicationTunnel {
  protocol: 'NONE' | 'PROXY';
  port: number;
}

/** `istio.workload.LoadBalancing`. */
export interface LoadBalancing {
  routingPreference: Array<
    'UNSPECIFIED_SCOPE' | 'REGION' | 'ZONE' | 'SUBZONE' | 'NODE' | 'CLUSTER' | 'NETWORK'
  >;
  mode: 'UNSPECIFIED_MODE' | 'STRICT' | 'FAILOVER';
  healthPolicy: 'ONLY_HEALTHY' | 'ALLOW_ALL';
}

/** `istio.workload.Workload`; its xDS resource name is `uid`. */
export interface Workload {
  uid: string;
  name: string;
  namespace: string;
  /** IPs, 4 or 16 bytes each. */
  addresses: Uint8Array[];
  hostname: string;
  network: string;
  tunnelProtocol: TunnelProtocol;
  /** Empty means the mesh default (`cluster.local`). */
  trustDomain: string;
  /** Empty means `default`. */
  serviceAccount: string;
  waypoint: GatewayAddress | null;
  networkGateway: GatewayAddress | null;
  node: string;
  canonicalName: string;
  canonicalRevision: string;
  workloadType: WorkloadType;
  workloadName: string;
  nativeTunnel: boolean;
  /** Key: `<namespace>/<hostname>` of a service this workload backs. */
  services: Record<string, PortList>;
  /** `<namespace>/<name>` of the selector policies that apply. */
  authorizationPolicies: string[];
  status: WorkloadStatus;
  clusterId: string;
  applicationTunnel: ApplicationTunnel | null;
  locality: Locality | null;
  networkMode: NetworkMode;
}

/** `istio.workload.Service`; its xDS resource name is `<namespace>/<hostname>`. */
export interface Service {
  name: string;
  namespace: string;
  hostname: string;
  addresses: NetworkAddress[];
  ports: Port[];
  subjectAltNames: string[];
  waypoint: GatewayAddress | null;
  loadBalancing: LoadBalancing | null;
  ipFamilies: IpFamilies;
}

/** `istio.workload.Address`: a workload or a service (oneof `type`). */
export type Address =
  | { type: 'workload'; workload: Workload; service?: undefined }
  | { type: 'service'; service: Service; workload?: undefined };

/** `istio.security.Scope`. */
export type AuthorizationScope = 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';
/** `istio.security.Action`. */
export type AuthorizationAction = 'ALLOW' | 'DENY';

/** `istio.security.StringMatch` (oneof `matchType`). `presence` is `{}` (Empty). */
export type StringMatch =
  | { matchType: 'exact'; exact: string }
  | { matchType: 'prefix'; prefix: string }
  | { matchType: 'suffix'; suffix: string }
  | { matchType: 'presence'; presence: Record<string, never> };

/** `istio.security.Address`: a CIDR, `address` 4 or 16 bytes, `length` the prefix length. */
export interface AuthorizationAddress {
  address: Uint8Array;
  length: number;
}

/** `istio.security.ServiceAccountMatch`. */
export interface ServiceAccountMatch {
  namespace: string;
  serviceAccount: string;
}

/** `istio.security.Match`: kinds are AND-ed, values of one kind OR-ed, `not*` must all miss. */
export interface AuthorizationMatch {
  namespaces: StringMatch[];
  notNamespaces: StringMatch[];
  principals: StringMatch[];
  notPrincipals: StringMatch[];
  sourceIps: AuthorizationAddress[];
  notSourceIps: AuthorizationAddress[];
  destinationIps: AuthorizationAddress[];
  notDestinationIps: AuthorizationAddress[];
  destinationPorts: number[];
  notDestinationPorts: number[];
  serviceAccounts: ServiceAccountMatch[];
  notServiceAccounts: ServiceAccountMatch[];
}

/** `istio.security.Clause`: matches are OR-ed. */
export interface AuthorizationClause {
  matches: AuthorizationMatch[];
}

/** `istio.security.Rule`: clauses are AND-ed. */
export interface AuthorizationRule {
  clauses: AuthorizationClause[];
}

/** `istio.security.Authorization`; its xDS resource name is `<namespace>/<name>`. */
export interface Authorization {
  name: string;
  namespace: string;
  scope: AuthorizationScope;
  action: AuthorizationAction;
  /** OR-ed; a policy without rules never matches. */
  rules: AuthorizationRule[];
  dryRun: boolean;
}

/**
 * The input shape of the encode functions: the decoded shape with every field
 * optional at every depth (missing fields take their protobuf defaults).
 */
export type DeepPartial<T> = T extends Uint8Array
  ? T
  : T extends Array<infer U>
    ? Array<DeepPartial<U>>
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> | undefined }
      : T;
