import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigChange, MeshResource, PodResource } from '@amesh/mesh-config';

/** Istio's pod annotation the CNI node agent owns. */
export const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';

/** What a node agent reports for a pod: captured (`enabled`), rules in place but not acked (`pending`), or not captured (`none`). */
export type ReportedRedirection = 'enabled' | 'pending' | 'none';

const podKey = (namespace: string, name: string): string => `Pod/${namespace}/${name}`;

/**
 * Redirection status reported by node agents, laid over the Pods of the
 * config source: in Kubernetes the agent writes the
 * `ambient.istio.io/redirection` annotation on the Pod object; with a YAML
 * directory the file is the spec and this overlay is the status. A reported
 * status replaces the file's annotation (`none` removes it); the entry is
 * dropped when the pod leaves the config.
 */
export class RedirectionOverlay {
  readonly #reported = new Map<string, ReportedRedirection>();

  /** The change with every reported pod's annotation applied; forgets pods the change removes. */
  overlay(change: ConfigChange): ConfigChange {
    for (const ref of change.removed) {
      if (ref.kind === 'Pod') this.#reported.delete(podKey(ref.namespace, ref.name));
    }
    return { upserted: change.upserted.map((r) => this.#annotate(r)), removed: change.removed };
  }

  /** Records a report; returns the annotated pod to re-apply, or undefined when nothing changed. */
  report(pod: PodResource, status: ReportedRedirection): PodResource | undefined {
    const key = podKey(pod.metadata.namespace ?? 'default', pod.metadata.name);
    if (this.#reported.get(key) === status) return undefined;
    this.#reported.set(key, status);
    const next = this.#annotate(pod) as PodResource;
    return next.metadata.annotations?.[REDIRECTION_ANNOTATION] ===
      pod.metadata.annotations?.[REDIRECTION_ANNOTATION]
      ? undefined
      : next;
  }

  /** The reported status of a pod, if any. */
  reported(namespace: string, name: string): ReportedRedirection | undefined {
    return this.#reported.get(podKey(namespace, name));
  }

  #annotate(resource: MeshResource): MeshResource {
    if (resource.kind !== 'Pod') return resource;
    const status = this.#reported.get(
      podKey(resource.metadata.namespace ?? 'default', resource.metadata.name),
    );
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
  readonly overlay: RedirectionOverlay;
  /** Current resources by key (`Pod/<ns>/<name>`), as the translator holds them. */
  readonly resources: () => ReadonlyMap<string, MeshResource>;
  /** Re-applies a change through the translator and pushes the result. */
  readonly apply: (change: ConfigChange) => void;
  readonly log: (line: string) => void;
}

const PATH = /^\/v1\/namespaces\/([a-z0-9.-]{1,253})\/pods\/([a-z0-9.-]{1,253})\/redirection$/;
const MAX_BODY = 64;

/**
 * `PUT /v1/namespaces/<ns>/pods/<name>/redirection` (body `enabled` or
 * `pending`) and `DELETE` on the same path (not captured): a node agent
 * reports a pod's redirection status, authenticated by its bearer token and
 * only for pods on its own node. Answers 204 on success, 400 for a bad body,
 * 401 without a valid token, 403 for a pod on another node, 404 for an
 * unknown pod, 405 for other methods.
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
    const annotated = options.overlay.report(pod, status);
    if (annotated) {
      options.apply({ upserted: [annotated], removed: [] });
      options.log(`redirection: ${namespace}/${name} is ${status} (reported by ${node})`);
    }
    reply(204);
  });
  return true;
}

function parseStatus(body: string): ReportedRedirection | undefined {
  const text = body.trim();
  return text === 'enabled' || text === 'pending' ? text : undefined;
}
