import {
  type Address,
  type Authorization,
  decodeAddress,
  decodeAuthorization,
  decodeMessage,
  TypeUrl,
} from '@amesh/xds-types';
import type { DecodeResult, XdsResourceType } from './resource-type.js';

/** A decoded Envoy message in protobufjs `toObject` form (same options as the Istio types). */
export type EnvoyMessage = Record<string, unknown>;

function invalid<T>(message: string, name?: string): DecodeResult<T> {
  const error = new Error(message);
  return name === undefined ? { ok: false, error } : { ok: false, error, name };
}

function safely<T>(typeName: string, decode: () => DecodeResult<T>): DecodeResult<T> {
  try {
    return decode();
  } catch (cause) {
    return invalid(`undecodable ${typeName}: ${(cause as Error).message}`);
  }
}

/** The name of an `istio.workload.Address`: a workload's `uid`, or `<namespace>/<hostname>` for a service. */
export function addressName(address: Address): string {
  return address.type === 'workload'
    ? address.workload.uid
    : `${address.service.namespace}/${address.service.hostname}`;
}

function decodeAddressResource(bytes: Uint8Array, start: number, end: number): DecodeResult<Address> {
  // try/catch inline rather than through safely(): no closure per resource on the full-sync path.
  let address: Address;
  try {
    address = decodeAddress(bytes, start, end);
  } catch (cause) {
    return invalid(`undecodable istio.workload.Address: ${(cause as Error).message}`);
  }
  if (address.type === 'workload') {
    const workload = address.workload;
    if (!workload.uid) return invalid('Address.workload has no uid');
    for (const ip of workload.addresses) {
      if (ip.length !== 4 && ip.length !== 16) {
        return invalid(
          `workload ${workload.uid} has an address of ${ip.length} bytes (want 4 or 16)`,
          workload.uid,
        );
      }
    }
    return { ok: true, name: workload.uid, value: address };
  }
  if (address.type === 'service') {
    if (!address.service.hostname) return invalid('Address.service has no hostname');
    return { ok: true, name: addressName(address), value: address };
  }
  return invalid('Address has neither workload nor service');
}

/** `istio.workload.Address`: must be a workload with a uid or a service with a hostname. */
export const addressResourceType: XdsResourceType<Address> = {
  typeUrl: TypeUrl.address,
  allResourcesRequiredInSotW: true,
  decode: (bytes) => decodeAddressResource(bytes, 0, bytes.length),
  decodeRange: decodeAddressResource,
};

function decodeAuthorizationResource(
  bytes: Uint8Array,
  start: number,
  end: number,
): DecodeResult<Authorization> {
  let policy: Authorization;
  try {
    policy = decodeAuthorization(bytes, start, end);
  } catch (cause) {
    return invalid(`undecodable istio.security.Authorization: ${(cause as Error).message}`);
  }
  if (!policy.name) return invalid('Authorization has no name');
  return { ok: true, name: `${policy.namespace}/${policy.name}`, value: policy };
}

/** `istio.security.Authorization`: needs a name; named `<namespace>/<name>`. */
export const authorizationResourceType: XdsResourceType<Authorization> = {
  typeUrl: TypeUrl.authorization,
  allResourcesRequiredInSotW: true,
  decode: (bytes) => decodeAuthorizationResource(bytes, 0, bytes.length),
  decodeRange: decodeAuthorizationResource,
};

function envoyType(
  typeUrl: string,
  fullName: string,
  allResourcesRequiredInSotW: boolean,
  nameField: string,
): XdsResourceType<EnvoyMessage> {
  return {
    typeUrl,
    allResourcesRequiredInSotW,
    decode: (bytes) =>
      safely(fullName, () => {
        const value = decodeMessage<EnvoyMessage>(fullName, bytes);
        const name = value[nameField];
        if (typeof name !== 'string' || name === '') return invalid(`${fullName} has no ${nameField}`);
        return { ok: true, name, value };
      }),
  };
}

/** Envoy Listener (LDS): the full set in every SotW response. */
export const listenerResourceType: XdsResourceType<EnvoyMessage> = envoyType(
  TypeUrl.listener,
  'envoy.config.listener.v3.Listener',
  true,
  'name',
);
/** Envoy RouteConfiguration (RDS). */
export const routeConfigurationResourceType: XdsResourceType<EnvoyMessage> = envoyType(
  TypeUrl.routeConfiguration,
  'envoy.config.route.v3.RouteConfiguration',
  false,
  'name',
);
/** Envoy Cluster (CDS): the full set in every SotW response. */
export const clusterResourceType: XdsResourceType<EnvoyMessage> = envoyType(
  TypeUrl.cluster,
  'envoy.config.cluster.v3.Cluster',
  true,
  'name',
);
/** Envoy ClusterLoadAssignment (EDS), named by `clusterName`. */
export const clusterLoadAssignmentResourceType: XdsResourceType<EnvoyMessage> = envoyType(
  TypeUrl.clusterLoadAssignment,
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  false,
  'clusterName',
);

/** Every built-in resource type: the two Istio types and LDS/RDS/CDS/EDS. */
export const builtinResourceTypes: readonly XdsResourceType[] = [
  addressResourceType,
  authorizationResourceType,
  listenerResourceType,
  routeConfigurationResourceType,
  clusterResourceType,
  clusterLoadAssignmentResourceType,
];
