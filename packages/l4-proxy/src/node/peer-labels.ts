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

/** Stand-in key for a side that is not known. */
const NOBODY = {};
/** Most label sets kept per (source, destination, service) before the cache forgets them. */
const MAX_PER_TRIPLE = 256;

/**
 * Shares one frozen label set between the connections of the same peers:
 * building Istio's 23 labels per connection cost CPU, and each set, held
 * until the connection closed, cost more memory than the rest of a tunnel's
 * bookkeeping. Keyed by the workload and service objects themselves (the
 * store replaces an object when it changes, so a stale entry is never hit
 * and is collected with its object) plus the principals and flags.
 */
export class PeerLabelCache {
  readonly #cache = new WeakMap<
    object,
    WeakMap<object, WeakMap<object, Map<string, Labels<IstioPeerLabel>>>>
  >();

  /** {@link peerLabels} of `peers`, built once per distinct set of peers. */
  get(peers: ConnectionPeers): Labels<IstioPeerLabel> {
    let byDestination = this.#cache.get(peers.source ?? NOBODY);
    if (!byDestination) {
      byDestination = new WeakMap();
      this.#cache.set(peers.source ?? NOBODY, byDestination);
    }
    let byService = byDestination.get(peers.destination ?? NOBODY);
    if (!byService) {
      byService = new WeakMap();
      byDestination.set(peers.destination ?? NOBODY, byService);
    }
    let sets = byService.get(peers.service ?? NOBODY);
    if (!sets) {
      sets = new Map();
      byService.set(peers.service ?? NOBODY, sets);
    }
    const key = `${peers.reporter}\u0000${peers.sourcePrincipal ?? ''}\u0000${peers.destinationPrincipal ?? ''}\u0000${peers.mtls}\u0000${peers.responseFlags ?? ''}`;
    let labels = sets.get(key);
    if (!labels) {
      if (sets.size >= MAX_PER_TRIPLE) sets.clear();
      labels = Object.freeze(peerLabels(peers));
      sets.set(key, labels);
    }
    return labels;
  }
}
