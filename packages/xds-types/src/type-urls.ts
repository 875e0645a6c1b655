/** Type URL prefix used by every xDS resource. */
export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Type URLs of the resources amesh knows. */
export const TypeUrl = {
  /** Istio ambient workload or service (`istio.workload.Address`). */
  address: 'type.googleapis.com/istio.workload.Address',
  /** Istio ambient L4 policy (`istio.security.Authorization`). */
  authorization: 'type.googleapis.com/istio.security.Authorization',
  /** Envoy Listener (LDS). */
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  /** Envoy RouteConfiguration (RDS). */
  routeConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  /** Envoy Cluster (CDS). */
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  /** Envoy ClusterLoadAssignment (EDS). */
  clusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  /** Envoy HttpConnectionManager (inside a Listener's api_listener). */
  httpConnectionManager:
    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  /** Envoy router HTTP filter config. */
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
} as const;

/** The message name a type URL points at (`type.googleapis.com/a.b.C` → `a.b.C`). */
export function messageNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash === -1 ? typeUrl : typeUrl.slice(slash + 1);
}
