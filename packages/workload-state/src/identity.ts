import type { Workload } from '@amesh/xds-types';

/** The trust domain Istio uses when a workload names none. */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

/**
 * The SPIFFE ID a workload's certificate carries:
 * `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`, with
 * Istio's defaults for an empty trust domain and service account.
 */
export function workloadIdentity(
  workload: Pick<Workload, 'trustDomain' | 'namespace' | 'serviceAccount'>,
  defaultTrustDomain = DEFAULT_TRUST_DOMAIN,
): string {
  const td = workload.trustDomain || defaultTrustDomain;
  return `spiffe://${td}/ns/${workload.namespace}/sa/${workload.serviceAccount || 'default'}`;
}
