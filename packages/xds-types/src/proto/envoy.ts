/**
 * The subset of Envoy's v3 API that amesh serves and consumes, written from
 * the published field numbers (envoyproxy/envoy `api/envoy/...`). Fields we do
 * not use are left out; protobuf skips unknown fields on decode, so messages
 * from a full implementation still decode.
 */
export const ENVOY_CORE_PROTO = `
syntax = "proto3";
package envoy.config.core.v3;

message Locality { string region = 1; string zone = 2; string sub_zone = 3; }
message BuildVersion { SemanticVersion version = 1; google.protobuf.Struct metadata = 2; }
message SemanticVersion { uint32 major_number = 1; uint32 minor_number = 2; uint32 patch = 3; }
message Extension { string name = 1; string category = 2; string type_descriptor = 3; BuildVersion version = 4; bool disabled = 5; repeated string type_urls = 6; }
message Node {
  string id = 1;
  string cluster = 2;
  google.protobuf.Struct metadata = 3;
  Locality locality = 4;
  string user_agent_name = 6;
  oneof user_agent_version_type {
    string user_agent_version = 7;
    BuildVersion user_agent_build_version = 8;
  }
  repeated Extension extensions = 9;
  repeated string client_features = 10;
}
message ControlPlane { string identifier = 1; }

message SocketAddress {
  enum Protocol { TCP = 0; UDP = 1; }
  Protocol protocol = 1;
  string address = 2;
  oneof port_specifier { uint32 port_value = 3; string named_port = 4; }
  string resolver_name = 5;
  bool ipv4_compat = 6;
}
message Pipe { string path = 1; uint32 mode = 2; }
message Address { oneof address { SocketAddress socket_address = 1; Pipe pipe = 2; } }

enum ApiVersion { AUTO = 0; V2 = 1; V3 = 2; }
message AggregatedConfigSource {}
message SelfConfigSource { ApiVersion transport_api_version = 1; }
message ConfigSource {
  oneof config_source_specifier {
    string path = 1;
    AggregatedConfigSource ads = 3;
    SelfConfigSource self = 5;
  }
  google.protobuf.Duration initial_fetch_timeout = 4;
  ApiVersion resource_api_version = 6;
}
enum HealthStatus { UNKNOWN = 0; HEALTHY = 1; UNHEALTHY = 2; DRAINING = 3; TIMEOUT = 4; DEGRADED = 5; }
`;

/** Discovery messages and the ADS service. */
export const ENVOY_DISCOVERY_PROTO = `
syntax = "proto3";
package envoy.service.discovery.v3;

message DiscoveryRequest {
  string version_info = 1;
  envoy.config.core.v3.Node node = 2;
  repeated string resource_names = 3;
  string type_url = 4;
  string response_nonce = 5;
  google.rpc.Status error_detail = 6;
}
message DiscoveryResponse {
  string version_info = 1;
  repeated google.protobuf.Any resources = 2;
  bool canary = 3;
  string type_url = 4;
  string nonce = 5;
  envoy.config.core.v3.ControlPlane control_plane = 6;
}
message DeltaDiscoveryRequest {
  envoy.config.core.v3.Node node = 1;
  string type_url = 2;
  repeated string resource_names_subscribe = 3;
  repeated string resource_names_unsubscribe = 4;
  map<string, string> initial_resource_versions = 5;
  string response_nonce = 6;
  google.rpc.Status error_detail = 7;
}
message DeltaDiscoveryResponse {
  string system_version_info = 1;
  repeated Resource resources = 2;
  string type_url = 4;
  repeated string removed_resources = 6;
  string nonce = 5;
  envoy.config.core.v3.ControlPlane control_plane = 7;
}
message Resource {
  string name = 3;
  repeated string aliases = 4;
  string version = 1;
  google.protobuf.Any resource = 2;
  google.protobuf.Duration ttl = 6;
}
service AggregatedDiscoveryService {
  rpc StreamAggregatedResources(stream DiscoveryRequest) returns (stream DiscoveryResponse);
  rpc DeltaAggregatedResources(stream DeltaDiscoveryRequest) returns (stream DeltaDiscoveryResponse);
}
`;

/** Listener, HttpConnectionManager, Router, RouteConfiguration, Cluster, ClusterLoadAssignment. */
export const ENVOY_CONFIG_PROTO = `
syntax = "proto3";
package envoy.config.listener.v3;
message ApiListener { google.protobuf.Any api_listener = 1; }
message Filter { string name = 1; oneof config_type { google.protobuf.Any typed_config = 4; } }
message FilterChain { repeated Filter filters = 3; string name = 7; }
message Listener {
  string name = 1;
  envoy.config.core.v3.Address address = 2;
  repeated FilterChain filter_chains = 3;
  ApiListener api_listener = 19;
}
`;

export const ENVOY_HCM_PROTO = `
syntax = "proto3";
package envoy.extensions.filters.network.http_connection_manager.v3;
message HttpConnectionManager {
  enum CodecType { AUTO = 0; HTTP1 = 1; HTTP2 = 2; HTTP3 = 3; }
  CodecType codec_type = 1;
  string stat_prefix = 2;
  oneof route_specifier {
    Rds rds = 3;
    envoy.config.route.v3.RouteConfiguration route_config = 4;
  }
  repeated HttpFilter http_filters = 5;
}
message Rds { envoy.config.core.v3.ConfigSource config_source = 1; string route_config_name = 2; }
message HttpFilter {
  string name = 1;
  oneof config_type { google.protobuf.Any typed_config = 4; }
  bool is_optional = 6;
}
`;

export const ENVOY_ROUTER_PROTO = `
syntax = "proto3";
package envoy.extensions.filters.http.router.v3;
message Router { google.protobuf.BoolValue dynamic_stats = 1; bool suppress_envoy_headers = 4; }
`;

export const ENVOY_ROUTE_PROTO = `
syntax = "proto3";
package envoy.config.route.v3;
message RouteConfiguration { string name = 1; repeated VirtualHost virtual_hosts = 2; }
message VirtualHost { string name = 1; repeated string domains = 2; repeated Route routes = 3; }
message Route {
  string name = 14;
  RouteMatch match = 1;
  oneof action { RouteAction route = 2; NonForwardingAction non_forwarding_action = 18; }
}
message NonForwardingAction {}
message RouteMatch {
  oneof path_specifier { string prefix = 1; string path = 2; }
  google.protobuf.BoolValue case_sensitive = 4;
}
message WeightedCluster {
  message ClusterWeight { string name = 1; google.protobuf.UInt32Value weight = 2; }
  repeated ClusterWeight clusters = 1;
}
message RouteAction {
  oneof cluster_specifier { string cluster = 1; WeightedCluster weighted_clusters = 3; }
  google.protobuf.Duration timeout = 8;
}
`;

export const ENVOY_CLUSTER_PROTO = `
syntax = "proto3";
package envoy.config.cluster.v3;
message Cluster {
  enum DiscoveryType { STATIC = 0; STRICT_DNS = 1; LOGICAL_DNS = 2; EDS = 3; ORIGINAL_DST = 4; }
  enum LbPolicy { ROUND_ROBIN = 0; LEAST_REQUEST = 1; RING_HASH = 2; RANDOM = 3; MAGLEV = 5; CLUSTER_PROVIDED = 6; }
  message EdsClusterConfig { envoy.config.core.v3.ConfigSource eds_config = 1; string service_name = 2; }
  string name = 1;
  oneof cluster_discovery_type { DiscoveryType type = 2; }
  EdsClusterConfig eds_cluster_config = 3;
  google.protobuf.Duration connect_timeout = 4;
  LbPolicy lb_policy = 6;
}
`;

export const ENVOY_ENDPOINT_PROTO = `
syntax = "proto3";
package envoy.config.endpoint.v3;
message ClusterLoadAssignment { string cluster_name = 1; repeated LocalityLbEndpoints endpoints = 2; }
message LocalityLbEndpoints {
  envoy.config.core.v3.Locality locality = 1;
  repeated LbEndpoint lb_endpoints = 2;
  google.protobuf.UInt32Value load_balancing_weight = 3;
  uint32 priority = 5;
}
message Endpoint { envoy.config.core.v3.Address address = 1; string hostname = 3; }
message LbEndpoint {
  oneof host_identifier { Endpoint endpoint = 1; }
  envoy.config.core.v3.HealthStatus health_status = 2;
  google.protobuf.UInt32Value load_balancing_weight = 4;
}
`;
