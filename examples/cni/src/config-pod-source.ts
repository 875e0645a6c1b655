import type { PodEvent, PodInfo, PodSource } from '@amesh/cni-redirect';
import type { ConfigChange, MeshResource, PodResource } from '@amesh/mesh-config';

/** Options of {@link ConfigPodSource}. */
export interface ConfigPodSourceOptions {
  /** This node's name: only pods with `spec.nodeName` equal to it are listed. */
  readonly node: string;
  /** The control plane's cluster id, the prefix of workload uids (default `Kubernetes`). */
  readonly clusterId?: string;
}

type Labels = Readonly<Record<string, string>>;

/**
 * A `PodSource` fed by mesh-config changes (a `DirectorySource`, or any
 * other `ConfigSource`): the pods of one node with their namespace's labels.
 * Pure: call {@link ConfigPodSource.apply} with each change.
 *
 * A pod's `uid` is the workload uid the control plane gives it
 * (`<cluster>//Pod/<ns>/<name>`), so ztunnel finds the pod the node agent
 * hands over in its xDS state. YAML pods have no runtime UID, so CNI
 * requests are matched by namespace and name (the plugin does that when
 * `K8S_POD_UID` is absent from `CNI_ARGS`).
 *
 * @example
 * ```ts
 * const pods = new ConfigPodSource({ node: 'node1' });
 * await new DirectorySource({ directory: './mesh' }).start((e) => {
 *   if (e.type === 'change') pods.apply(e.change);
 * });
 * ```
 */
export class ConfigPodSource implements PodSource {
  readonly #node: string;
  readonly #clusterId: string;
  /** Pods on this node, by `<ns>/<name>`. */
  readonly #pods = new Map<string, PodResource>();
  readonly #namespaces = new Map<string, Labels>();
  readonly #listeners = new Set<(event: PodEvent) => void>();

  constructor(options: ConfigPodSourceOptions) {
    this.#node = options.node;
    this.#clusterId = options.clusterId ?? 'Kubernetes';
  }

  list(): readonly PodInfo[] {
    return [...this.#pods.values()].map((pod) => this.#info(pod));
  }

  watch(listener: (event: PodEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** The uid a pod of this source carries (the control plane's workload uid). */
  uidOf(namespace: string, name: string): string {
    return `${this.#clusterId}//Pod/${namespace}/${name}`;
  }

  /** Applies one config change and emits the pod events it implies. */
  apply(change: ConfigChange): void {
    const events: PodEvent[] = [];
    const touchedNamespaces = new Set<string>();
    const upsertPod = (key: string, pod: PodResource): void => {
      const previous = this.#pods.get(key);
      const live = pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
      if (pod.spec.nodeName === this.#node && live) {
        this.#pods.set(key, pod);
        events.push({ type: 'upsert', pod: this.#info(pod) });
      } else if (previous) {
        this.#pods.delete(key);
        events.push({ type: 'delete', uid: this.#uid(previous) });
      }
    };
    for (const resource of change.upserted) {
      if (resource.kind === 'Namespace') {
        const labels = resource.metadata.labels ?? {};
        if (!sameLabels(this.#namespaces.get(resource.metadata.name), labels))
          touchedNamespaces.add(resource.metadata.name);
        this.#namespaces.set(resource.metadata.name, labels);
      } else if (resource.kind === 'Pod') {
        upsertPod(podKey(resource), resource);
      }
    }
    for (const ref of change.removed) {
      if (ref.kind === 'Namespace') {
        if (this.#namespaces.delete(ref.name)) touchedNamespaces.add(ref.name);
      } else if (ref.kind === 'Pod') {
        const key = `${ref.namespace}/${ref.name}`;
        const previous = this.#pods.get(key);
        if (previous) {
          this.#pods.delete(key);
          events.push({ type: 'delete', uid: this.#uid(previous) });
        }
      }
    }
    // A namespace label change (enrolment by namespace) re-emits its pods.
    for (const pod of this.#pods.values()) {
      if (!touchedNamespaces.has(pod.metadata.namespace ?? 'default')) continue;
      const uid = this.#uid(pod);
      if (!events.some((e) => e.type === 'upsert' && e.pod.uid === uid))
        events.push({ type: 'upsert', pod: this.#info(pod) });
    }
    for (const event of events) for (const listener of [...this.#listeners]) listener(event);
  }

  #uid(pod: PodResource): string {
    return this.uidOf(pod.metadata.namespace ?? 'default', pod.metadata.name);
  }

  #info(pod: PodResource): PodInfo {
    const namespace = pod.metadata.namespace ?? 'default';
    const ips = pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []);
    return {
      uid: this.#uid(pod),
      name: pod.metadata.name,
      namespace,
      serviceAccount: pod.spec.serviceAccountName || 'default',
      labels: pod.metadata.labels ?? {},
      namespaceLabels: this.#namespaces.get(namespace) ?? {},
      ips,
    };
  }
}

function podKey(pod: MeshResource): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
}

function sameLabels(a: Labels | undefined, b: Labels): boolean {
  if (!a) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
