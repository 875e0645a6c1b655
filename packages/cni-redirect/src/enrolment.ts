/** Labels of a Kubernetes-style object. */
export type Labels = Readonly<Record<string, string>>;

/** The label that enrols a namespace or pod in ambient mode. */
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';
/** The pod annotation Istio uses to report redirection status. */
export const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';

/** Why a pod is, or is not, enrolled: for logs and status. */
export type EnrolmentDecision =
  | { readonly enrolled: true; readonly reason: 'pod-label' | 'namespace-label' }
  | { readonly enrolled: false; readonly reason: 'pod-opt-out' | 'pod-label-other' | 'not-labelled' };

/**
 * Decides whether a pod is captured, from its own labels and its namespace's
 * (Istio ambient): `istio.io/dataplane-mode=ambient` on the pod or its
 * namespace enrols it; `none` on the pod opts it out; the pod label wins over
 * the namespace label. Any other pod value is treated as "not ambient" (Istio
 * ignores unknown modes rather than guessing).
 *
 * @example
 * ```ts
 * decideEnrolment({ 'istio.io/dataplane-mode': 'ambient' }, {}).enrolled; // true
 * decideEnrolment({ 'istio.io/dataplane-mode': 'ambient' }, { 'istio.io/dataplane-mode': 'none' }).enrolled; // false
 * ```
 */
export function decideEnrolment(namespaceLabels: Labels, podLabels: Labels): EnrolmentDecision {
  const pod = Object.hasOwn(podLabels, DATAPLANE_MODE_LABEL) ? podLabels[DATAPLANE_MODE_LABEL] : undefined;
  if (pod === 'ambient') return { enrolled: true, reason: 'pod-label' };
  if (pod === 'none') return { enrolled: false, reason: 'pod-opt-out' };
  if (pod !== undefined) return { enrolled: false, reason: 'pod-label-other' };
  const ns = Object.hasOwn(namespaceLabels, DATAPLANE_MODE_LABEL)
    ? namespaceLabels[DATAPLANE_MODE_LABEL]
    : undefined;
  if (ns === 'ambient') return { enrolled: true, reason: 'namespace-label' };
  return { enrolled: false, reason: 'not-labelled' };
}

/** Shorthand for `decideEnrolment(...).enrolled`. */
export function isEnrolled(namespaceLabels: Labels, podLabels: Labels): boolean {
  return decideEnrolment(namespaceLabels, podLabels).enrolled;
}
