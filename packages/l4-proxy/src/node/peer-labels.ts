import type { Service, Workload } from '@amesh/xds-types';
import { type IstioPeerLabel, istioTcpLabels, type Labels } from '@amesh/telemetry';

/** The two ends of a connection, as known when it is counted. */
export interface ConnectionPeers {
  readonly reporter: 'source' | 'destination';
  readonly source: Workload | undefined;
  readonly sourcePrincipal: string | undefined;
  readonly destination: Workload | undefined;
  readonly destinationPrincipal: string | undefined;
  readonly service: Service | undefined;
  readonly mtls: boolean;
  readonly responseFlags?: string;
}

/** Istio's standard TCP metric labels for a connection, `unknown` where a side is not known. */
export function peerLabels(peers: ConnectionPeers): Labels<IstioPeerLabel> {
  const { source: s, destination: d, service } = peers;
  return istioTcpLabels({
    reporter: peers.reporter,
    ...(s
      ? {
          source_workload: s.workloadName || s.name,
          source_canonical_service: s.canonicalName,
          source_canonical_revision: s.canonicalRevision,
          source_workload_namespace: s.namespace,
          source_app: s.canonicalName,
          source_version: s.canonicalRevision,
          source_cluster: s.clusterId,
        }
      : {}),
    ...(peers.sourcePrincipal ? { source_principal: peers.sourcePrincipal } : {}),
    ...(d
      ? {
          destination_workload: d.workloadName || d.name,
          destination_canonical_service: d.canonicalName,
          destination_canonical_revision: d.canonicalRevision,
          destination_workload_namespace: d.namespace,
          destination_app: d.canonicalName,
          destination_version: d.canonicalRevision,
          destination_cluster: d.clusterId,
        }
      : {}),
    ...(peers.destinationPrincipal ? { destination_principal: peers.destinationPrincipal } : {}),
    ...(service
      ? {
          destination_service: service.hostname,
          destination_service_name: service.name,
          destination_service_namespace: service.namespace,
        }
      : {}),
    connection_security_policy: peers.mtls ? 'mutual_tls' : 'unknown',
    ...(peers.responseFlags ? { response_flags: peers.responseFlags } : {}),
  });
}
