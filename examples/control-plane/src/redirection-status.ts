import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigChange, MeshResource, PodResource } from '@amesh/mesh-config';

/** Istio's pod annotation the CNI node agent owns. */
export const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';

/** What a node agent reports for a pod: captured (`enabled`), rules in place but not acked (`pending`), or not captured (`none`). */
export type ReportedRedirection = 'enabled' | 'pending' | 'none';

const podKey = (namespace: string, name: string): string => `Pod/${namespace}/${name}`;

/** One reported status, as kept across restarts (see `RedirectionStateFile`). */
export interface PersistedRedirection {
  readonly namespace: string;
  readonly name: string;
  /** The pod's `metadata.uid` when reported, if the config carries one (Kubernetes does). */
  readonly uid?: string;
  readonly status: ReportedRedirection;
}

/** Options of {@link RedirectionOverlay}. */
export interface RedirectionOverlayOptions {
  /** Statuses reported before a restart (loaded from the state directory). */
  readonly initial?: Iterable<PersistedRedirection>;
  /** Called after every change of the reported statuses (to persist them). */
  readonly onChange?: (entries: readonly PersistedRedirection[]) => void;
}

/**
 * Redirection status reported by node agents, laid over the Pods of the
 * config source: in Kubernetes the agent writes the
 * `ambient.istio.io/redirection` annotation on the Pod object; with a YAML
 * directory the file is the spec and this overlay is the status. A reported
 * status replaces the config's annotation (`none` removes it); the entry is
 * dropped when the pod leaves the config, or when a pod of the same name
 * comes back with another `metadata.uid` (a new pod the agent has not
 * captured yet).
 */
export class RedirectionOverlay {
  readonly #reported = new Map<string, PersistedRedirection>();
  readonly #onChange: ((entries: readonly PersistedRedirection[]) => void) | undefined;

  /** @param options - statuses kept from before a restart, and a change callback */
  constructor(options: RedirectionOverlayOptions = {}) {
    for (const entry of options.initial ?? []) this.#reported.set(podKey(entry.namespace, entry.name), entry);
    this.#onChange = options.onChange;
  }

  /** The change with every reported pod's annotation applied; forgets pods the change removes. */
  overlay(change: ConfigChange): ConfigChange {
    let changed = false;
    for (const ref of change.removed) {
      if (ref.kind === 'Pod') changed = this.#reported.delete(podKey(ref.namespace, ref.name)) || changed;
    }
    for (const resource of change.upserted) {
      if (resource.kind !== 'Pod') continue;
      const key = podKey(resource.metadata.namespace ?? 'default', resource.metadata.name);
      const entry = this.#reported.get(key);
      if (
        entry?.uid !== undefined &&
        resource.metadata.uid !== undefined &&
        entry.uid !== resource.metadata.uid
      ) {
        this.#reported.delete(key);
        changed = true;
      }
    }
    if (changed) this.#changed();
    return { upserted: change.upserted.map((r) => this.#annotate(r)), removed: change.removed };
  }

  /**
   * Drops statuses of pods the config does not hold (after the initial sync:
   * pods deleted while the control plane was down).
   * @returns the keys dropped (`Pod/<ns>/<name>`)
   */
  retainKnown(isKnown: (namespace: string, name: string) => boolean): string[] {
    const dropped: string[] = [];
    for (const [key, entry] of this.#reported) {
      if (!isKnown(entry.namespace, entry.name)) {
        this.#reported.delete(key);
        dropped.push(key);
      }
    }
    if (dropped.length > 0) this.#changed();
    return dropped;
  }

  /** Records a report; returns the annotated pod to re-apply, or undefined when nothing changed. */
  report(pod: PodResource, status: ReportedRedirection): PodResource | undefined {
    const namespace = pod.metadata.namespace ?? 'default';
    const key = podKey(namespace, pod.metadata.name);
    const previous = this.#reported.get(key);
    if (previous?.status === status && previous.uid === pod.metadata.uid) return undefined;
    this.#reported.set(key, {
      namespace,
      name: pod.metadata.name,
      ...(pod.metadata.uid === undefined ? {} : { uid: pod.metadata.uid }),
      status,
    });
    this.#changed();
    const next = this.#annotate(pod) as PodResource;
    return next.metadata.annotations?.[REDIRECTION_ANNOTATION] ===
      pod.metadata.annotations?.[REDIRECTION_ANNOTATION]
      ? undefined
      : next;
  }

  /** The reported status of a pod, if any. */
  reported(namespace: string, name: string): ReportedRedirection | undefined {
    return this.#reported.get(podKey(namespace, name))?.status;
  }

  /** Every reported status, for persisting. */
  entries(): PersistedRedirection[] {
    return [...this.#reported.values()];
  }

  #changed(): void {
    this.#onChange?.(this.entries());
  }

  #annotate(resource: MeshResource): MeshResource {
    if (resource.kind !== 'Pod') return resource;
    const status = this.#reported.get(
      podKey(resource.metadata.namespace ?? 'default', resource.metadata.name),
    )?.status;
    if (status === undefined) return resource;
    const { [REDIRECTION_ANNOTATION]: _previous, ...others } = resource.metadata.annotations ?? {};
    const annotations = status === 'none' ? others : { ...others, [REDIRECTION_ANNOTATION]: status };
    return { ...resource, metadata: { ...resource.metadata, annotations } };
  }
}

/** What the redirection endpoint needs from the control plane. */
export interface RedirectionEndpointOptions {
  /** Bearer token → node name (the same tokens the CA accepts). */
  readonly nodeTokens: Readonly<Record<string, string>>;
  /** Current resources by key (`Pod/<ns>/<name>`), as the translator holds them. */
  readonly resources: () => ReadonlyMap<string, MeshResource>;
  /** Where a status goes: {@link overlayRecorder} or {@link podAnnotationRecorder}. */
  readonly record: RedirectionRecorder;
  readonly log: (line: string) => void;
}

/**
 * Records a pod's reported status; resolves to whether anything changed,
 * rejects when it could not be recorded (the agent is told 503 and reports again).
 */
export type RedirectionRecorder = (pod: PodResource, status: ReportedRedirection) => Promise<boolean>;

/**
 * Records statuses in a {@link RedirectionOverlay} and re-applies the
 * annotated pod through the translator (`apply`): the YAML directory mode,
 * where the files are the spec and the control plane holds the status.
 */
export function overlayRecorder(
  overlay: RedirectionOverlay,
  apply: (change: ConfigChange) => void,
): RedirectionRecorder {
  return async (pod, status) => {
    const annotated = overlay.report(pod, status);
    if (annotated) apply({ upserted: [annotated], removed: [] });
    return annotated !== undefined;
  };
}

/** What {@link podAnnotationRecorder} writes through (a `KubernetesSource` fits). */
export interface PodAnnotationWriter {
  /** Merge-patches the pod's annotations: a string sets, `null` removes. */
  patchPodAnnotations(
    namespace: string,
    name: string,
    annotations: Readonly<Record<string, string | null>>,
  ): Promise<void>;
}

/**
 * Records statuses as Istio's CNI agent does in Kubernetes: the
 * `ambient.istio.io/redirection` annotation on the Pod object, patched
 * through the API server; the change reaches xDS through the watch. A pod
 * that already carries the reported value is not patched again.
 */
export function podAnnotationRecorder(writer: PodAnnotationWriter): RedirectionRecorder {
  return async (pod, status) => {
    const wanted = status === 'none' ? undefined : status;
    if (pod.metadata.annotations?.[REDIRECTION_ANNOTATION] === wanted) return false;
    await writer.patchPodAnnotations(pod.metadata.namespace ?? 'default', pod.metadata.name, {
      [REDIRECTION_ANNOTATION]: wanted ?? null,
    });
    return true;
  };
}

const PATH = /^\/v1\/namespaces\/([a-z0-9.-]{1,253})\/pods\/([a-z0-9.-]{1,253})\/redirection$/;
const MAX_BODY = 64;

/**
 * `PUT /v1/namespaces/<ns>/pods/<name>/redirection` (body `enabled` or
 * `pending`) and `DELETE` on the same path (not captured): a node agent
 * reports a pod's redirection status, authenticated by its bearer token and
 * only for pods on its own node. Answers 204 on success, 400 for a bad body,
 * 401 without a valid token, 403 for a pod on another node, 404 for an
 * unknown pod, 405 for other methods, 503 when the status could not be
 * recorded (the API server refused the patch).
 * @returns false when the request is not for this endpoint
 */
export function handleRedirectionRequest(
  req: IncomingMessage,
  res: ServerResponse,
  options: RedirectionEndpointOptions,
): boolean {
  const match = PATH.exec((req.url ?? '/').split('?')[0] ?? '/');
  if (!match) return false;
  const [, namespace = '', name = ''] = match;
  const reply = (status: number, text = ''): void => {
    res.writeHead(status, { 'content-type': 'text/plain' }).end(text ? `${text}\n` : undefined);
  };
  if (req.method !== 'PUT' && req.method !== 'DELETE') {
    res.writeHead(405, { allow: 'PUT, DELETE' }).end();
    req.resume();
    return true;
  }
  const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  const node = auth?.[1] === undefined ? undefined : options.nodeTokens[auth[1]];
  let body = '';
  let tooLong = false;
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    if (body.length + chunk.length > MAX_BODY) tooLong = true;
    else body += chunk;
  });
  req.on('end', () => {
    if (node === undefined) return reply(401, 'a node bearer token is required');
    const status: ReportedRedirection | undefined =
      req.method === 'DELETE' ? 'none' : parseStatus(tooLong ? '' : body);
    if (status === undefined) return reply(400, 'body must be "enabled" or "pending"');
    const pod = options.resources().get(podKey(namespace, name));
    if (pod?.kind !== 'Pod') return reply(404, `pod ${namespace}/${name} is not known`);
    if (pod.spec.nodeName !== node) return reply(403, `pod ${namespace}/${name} is not on node ${node}`);
    options.record(pod, status).then(
      (changed) => {
        if (changed) options.log(`redirection: ${namespace}/${name} is ${status} (reported by ${node})`);
        reply(204);
      },
      (error: Error) => {
        options.log(`redirection: cannot record ${namespace}/${name} ${status}: ${error.message}`);
        reply(503, `cannot record the status: ${error.message}`);
      },
    );
  });
  return true;
}

function parseStatus(body: string): ReportedRedirection | undefined {
  const text = body.trim();
  return text === 'enabled' || text === 'pending' ? text : undefined;
}
