import type { IpAddress } from './ip-address.js';
import type { PolicyTargetReference } from './resource-types.js';

/** The destination a request is for: decides which policies apply. */
export interface RequestDestination {
  /** The destination workload's namespace. */
  readonly namespace: string;
  /**
   * `ns/name` of the WORKLOAD_SELECTOR policies that select the workload
   * (the wire form's `Workload.authorization_policies`).
   */
  readonly policies?: readonly string[];
  /** The destination workload's labels, for user-facing policies with a `selector`. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * What the request is addressed to (the waypoint's Gateway, the Service or
   * ServiceEntry), for user-facing policies with `targetRefs`.
   */
  readonly targetRefs?: readonly PolicyTargetReference[];
}

/** HTTP attributes of a request, seen by a waypoint. All optional. */
export interface HttpAttributes {
  /** `:authority` / `Host`, with or without port. */
  readonly host?: string;
  readonly method?: string;
  /** Path, with or without query string (the query is ignored). */
  readonly path?: string;
  /** Header values by lower-case name; repeated headers joined with `,` as Envoy does. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Authenticated JWT identity `<iss>/<sub>`. */
  readonly requestPrincipal?: string;
  /** JWT `aud` values. */
  readonly audiences?: readonly string[];
  /** JWT `azp`. */
  readonly presenter?: string;
  /** JWT claims; nested objects are reached with `request.auth.claims[a][b]`. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Original client IP (from X-Forwarded-For); defaults to the source IP. */
  readonly remoteIp?: string | IpAddress;
  /** TLS server name of the downstream connection. */
  readonly sni?: string;
}

/**
 * A request to authorize. The L4 part is what ztunnel knows about a
 * connection; a waypoint adds `http`.
 */
export interface AuthzRequest {
  /**
   * The peer's SPIFFE identity without `spiffe://`
   * (`cluster.local/ns/foo/sa/a`); absent for plaintext traffic.
   */
  readonly sourcePrincipal?: string;
  readonly sourceIp: string | IpAddress;
  readonly destinationIp: string | IpAddress;
  readonly destinationPort: number;
  readonly destination: RequestDestination;
  readonly http?: HttpAttributes;
}
