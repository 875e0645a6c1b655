/**
 * Istio's ambient xDS types, written from the published field numbers
 * (istio/istio `pkg/workloadapi/workload.proto` and
 * `pkg/workloadapi/security/authorization.proto`; see protocol-facts.md).
 */
export const ISTIO_WORKLOAD_PROTO = `
syntax = "proto3";
package istio.workload;

message Address { oneof type { Workload workload = 1; Service service = 2; } }

message Service {
  string name = 1;
  string namespace = 2;
  string hostname = 3;
  repeated NetworkAddress addresses = 4;
  repeated Port ports = 5;
  repeated string subject_alt_names = 6;
  GatewayAddress waypoint = 7;
  LoadBalancing load_balancing = 8;
  IPFamilies ip_families = 9;
}

enum IPFamilies { AUTOMATIC = 0; IPV4_ONLY = 1; IPV6_ONLY = 2; DUAL = 3; }

message LoadBalancing {
  enum Scope { UNSPECIFIED_SCOPE = 0; REGION = 1; ZONE = 2; SUBZONE = 3; NODE = 4; CLUSTER = 5; NETWORK = 6; }
  enum Mode { UNSPECIFIED_MODE = 0; STRICT = 1; FAILOVER = 2; }
  enum HealthPolicy { ONLY_HEALTHY = 0; ALLOW_ALL = 1; }
  repeated Scope routing_preference = 1;
  Mode mode = 2;
  HealthPolicy health_policy = 3;
}

message Workload {
  string uid = 20;
  string name = 1;
  string namespace = 2;
  repeated bytes addresses = 3;
  string hostname = 21;
  string network = 4;
  TunnelProtocol tunnel_protocol = 5;
  string trust_domain = 6;
  string service_account = 7;
  GatewayAddress waypoint = 8;
  GatewayAddress network_gateway = 19;
  string node = 9;
  string canonical_name = 10;
  string canonical_revision = 11;
  WorkloadType workload_type = 12;
  string workload_name = 13;
  bool native_tunnel = 14;
  map<string, PortList> services = 22;
  repeated string authorization_policies = 16;
  WorkloadStatus status = 17;
  string cluster_id = 18;
  ApplicationTunnel application_tunnel = 23;
  Locality locality = 24;
  NetworkMode network_mode = 25;
}

message Locality { string region = 1; string zone = 2; string subzone = 3; }
enum NetworkMode { STANDARD = 0; HOST_NETWORK = 1; }
message ApplicationTunnel {
  enum Protocol { NONE = 0; PROXY = 1; }
  Protocol protocol = 1;
  uint32 port = 2;
}
enum WorkloadStatus { HEALTHY = 0; UNHEALTHY = 1; }
enum WorkloadType { DEPLOYMENT = 0; CRONJOB = 1; POD = 2; JOB = 3; }
message PortList { repeated Port ports = 1; }
message Port { uint32 service_port = 1; uint32 target_port = 2; AppProtocol app_protocol = 3; }
enum AppProtocol { UNKNOWN = 0; HTTP11 = 1; HTTP2 = 2; GRPC = 3; TCP = 4; TLS = 5; }
enum TunnelProtocol { NONE = 0; HBONE = 1; }
message GatewayAddress {
  oneof destination { NamespacedHostname hostname = 1; NetworkAddress address = 2; }
  uint32 hbone_mtls_port = 3;
}
message NamespacedHostname { string namespace = 1; string hostname = 2; }
message NetworkAddress { string network = 1; bytes address = 2; }
`;

export const ISTIO_SECURITY_PROTO = `
syntax = "proto3";
package istio.security;

message Authorization {
  string name = 1;
  string namespace = 2;
  Scope scope = 3;
  Action action = 4;
  repeated Rule rules = 5;
  bool dry_run = 6;
}
enum Scope { GLOBAL = 0; NAMESPACE = 1; WORKLOAD_SELECTOR = 2; }
enum Action { ALLOW = 0; DENY = 1; }
message Rule { repeated Clause clauses = 1; }
message Clause { repeated Match matches = 2; }
message Match {
  repeated StringMatch namespaces = 1;
  repeated StringMatch not_namespaces = 2;
  repeated StringMatch principals = 3;
  repeated StringMatch not_principals = 4;
  repeated Address source_ips = 5;
  repeated Address not_source_ips = 6;
  repeated Address destination_ips = 7;
  repeated Address not_destination_ips = 8;
  repeated uint32 destination_ports = 9;
  repeated uint32 not_destination_ports = 10;
  repeated ServiceAccountMatch service_accounts = 11;
  repeated ServiceAccountMatch not_service_accounts = 12;
}
message Address { bytes address = 1; uint32 length = 2; }
message ServiceAccountMatch { string namespace = 1; string serviceAccount = 2; }
message StringMatch {
  oneof match_type {
    string exact = 1;
    string prefix = 2;
    string suffix = 3;
    google.protobuf.Empty presence = 4;
  }
}
`;
