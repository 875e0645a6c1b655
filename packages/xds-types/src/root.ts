import protobuf from 'protobufjs';
import {
  ENVOY_CLUSTER_PROTO,
  ENVOY_CONFIG_PROTO,
  ENVOY_CORE_PROTO,
  ENVOY_DISCOVERY_PROTO,
  ENVOY_ENDPOINT_PROTO,
  ENVOY_HCM_PROTO,
  ENVOY_ROUTE_PROTO,
  ENVOY_ROUTER_PROTO,
} from './proto/envoy.js';
import { ISTIO_SECURITY_PROTO, ISTIO_WORKLOAD_PROTO } from './proto/istio.js';
import { RPC_STATUS_PROTO, WELL_KNOWN_PROTO } from './proto/well-known.js';

const SOURCES = [
  WELL_KNOWN_PROTO,
  RPC_STATUS_PROTO,
  ENVOY_CORE_PROTO,
  ENVOY_DISCOVERY_PROTO,
  ENVOY_CONFIG_PROTO,
  ENVOY_HCM_PROTO,
  ENVOY_ROUTER_PROTO,
  ENVOY_ROUTE_PROTO,
  ENVOY_CLUSTER_PROTO,
  ENVOY_ENDPOINT_PROTO,
  ISTIO_WORKLOAD_PROTO,
  ISTIO_SECURITY_PROTO,
];

let cached: protobuf.Root | undefined;

/**
 * The protobufjs reflection root holding every message amesh's xDS packages
 * know, built once (lazily) from the `.proto` text embedded in this package,
 * so nothing depends on file paths after bundling.
 */
export function xdsRoot(): protobuf.Root {
  if (cached === undefined) {
    const root = new protobuf.Root();
    for (const source of SOURCES) {
      protobuf.parse(source, root, { keepCase: false });
    }
    root.resolveAll();
    cached = root;
  }
  return cached;
}

/**
 * Looks up a message type by its full protobuf name (without the leading dot),
 * for example `istio.workload.Address`.
 * @throws {Error} when the type is unknown to this package
 */
export function messageType(fullName: string): protobuf.Type {
  return xdsRoot().lookupType(fullName);
}
