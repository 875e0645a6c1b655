import type { Labels } from './enrolment.js';

/** What the node agent needs to know about a pod on its node. */
export interface PodInfo {
  /** Stable id (Kubernetes pod UID); the key ztunnel uses. */
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  /** Service account; empty or absent means `default`. */
  readonly serviceAccount?: string;
  readonly labels: Labels;
  /** Labels of the pod's namespace (a namespace label change re-emits its pods). */
  readonly namespaceLabels: Labels;
  /**
   * The pod's network namespace (`/proc/<pid>/ns/net` or `/var/run/netns/<name>`),
   * when the source knows it; otherwise the agent uses the one CNI ADD reported.
   */
  readonly netnsPath?: string;
  readonly ips?: readonly string[];
}

/** A change in the set of pods on the node. */
export type PodEvent =
  | { readonly type: 'upsert'; readonly pod: PodInfo }
  | { readonly type: 'delete'; readonly uid: string };

/**
 * Where the node agent learns about pods: the control plane, a YAML
 * directory or Kubernetes implement it. `list()` is the current state;
 * `watch()` delivers every later change until the returned function is called.
 */
export interface PodSource {
  list(): readonly PodInfo[];
  watch(listener: (event: PodEvent) => void): () => void;
}

/**
 * A {@link PodSource} held in memory: for tests, local mode and as the
 * building block of other sources. Namespace labels are kept per namespace
 * and applied to every pod in it.
 *
 * @example
 * ```ts
 * const pods = new InMemoryPodSource();
 * pods.setNamespaceLabels('shop', { 'istio.io/dataplane-mode': 'ambient' });
 * pods.upsert({ uid: 'u1', name: 'cart-1', namespace: 'shop', labels: {} , netnsPath: '/var/run/netns/cart-1' });
 * ```
 */
export class InMemoryPodSource implements PodSource {
  private readonly pods = new Map<string, Omit<PodInfo, 'namespaceLabels'>>();
  private readonly namespaces = new Map<string, Labels>();
  private readonly listeners = new Set<(event: PodEvent) => void>();

  list(): readonly PodInfo[] {
    return [...this.pods.values()].map((pod) => this.withNamespace(pod));
  }

  watch(listener: (event: PodEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Adds or replaces a pod (its `namespaceLabels` come from {@link InMemoryPodSource.setNamespaceLabels}). */
  upsert(pod: Omit<PodInfo, 'namespaceLabels'>): void {
    this.pods.set(pod.uid, pod);
    this.emit({ type: 'upsert', pod: this.withNamespace(pod) });
  }

  /** Removes a pod; a no-op for an unknown uid. */
  delete(uid: string): void {
    if (this.pods.delete(uid)) this.emit({ type: 'delete', uid });
  }

  /** Sets a namespace's labels and re-emits every pod in it. */
  setNamespaceLabels(namespace: string, labels: Labels): void {
    this.namespaces.set(namespace, { ...labels });
    for (const pod of this.pods.values()) {
      if (pod.namespace === namespace) this.emit({ type: 'upsert', pod: this.withNamespace(pod) });
    }
  }

  private withNamespace(pod: Omit<PodInfo, 'namespaceLabels'>): PodInfo {
    return { ...pod, namespaceLabels: this.namespaces.get(pod.namespace) ?? {} };
  }

  private emit(event: PodEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}
