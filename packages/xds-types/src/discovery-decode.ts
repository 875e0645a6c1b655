/*
 * Hand-written decoders for the two discovery responses (the hot path of
 * every client): plain objects with every declared field (defaults filled,
 * `null` for unset messages), resource bodies as Buffer views into the
 * message (no copy), and short strings interned, so the 10 000 type URLs and
 * versions of a full sync share a few strings and each resource name is the
 * same string as the name inside the resource.
 */
import type { Any, DeltaDiscoveryResponse, DeltaResource, DiscoveryResponse } from './discovery-types.js';
import { messageType } from './root.js';
import { WireReader } from './wire.js';

/** `envoy.config.core.v3.ControlPlane`. */
interface ControlPlane {
  identifier: string;
}

/** Decodes an `envoy.service.discovery.v3.DeltaDiscoveryResponse`; throws on malformed input. */
export function readDeltaDiscoveryResponse(bytes: Uint8Array): DeltaDiscoveryResponse {
  const r = new WireReader(bytes);
  const end = r.buf.length;
  const d: DeltaDiscoveryResponse & { controlPlane: ControlPlane | null } = {
    systemVersionInfo: '',
    resources: [],
    typeUrl: '',
    removedResources: [],
    nonce: '',
    controlPlane: null,
  };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        d.systemVersionInfo = r.string(end);
        break;
      case 2:
        d.resources.push(readResource(r, r.length(end)));
        break;
      case 4:
        d.typeUrl = r.string(end);
        break;
      case 6:
        d.removedResources.push(r.string(end));
        break;
      case 5:
        d.nonce = r.string(end);
        break;
      case 7:
        d.controlPlane = readControlPlane(r, r.length(end));
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  return d;
}

/** Decodes an `envoy.service.discovery.v3.DiscoveryResponse` (SotW); throws on malformed input. */
export function readDiscoveryResponse(bytes: Uint8Array): DiscoveryResponse {
  const r = new WireReader(bytes);
  const end = r.buf.length;
  const d: DiscoveryResponse & { controlPlane: ControlPlane | null } = {
    versionInfo: '',
    resources: [],
    canary: false,
    typeUrl: '',
    nonce: '',
    controlPlane: null,
  };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        d.versionInfo = r.string(end);
        break;
      case 2:
        d.resources.push(readAny(r, r.length(end)));
        break;
      case 3:
        d.canary = r.uint32(end) !== 0;
        break;
      case 4:
        d.typeUrl = r.string(end);
        break;
      case 5:
        d.nonce = r.string(end);
        break;
      case 6:
        d.controlPlane = readControlPlane(r, r.length(end));
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  return d;
}

function readResource(r: WireReader, end: number): DeltaResource {
  const d: DeltaResource & { ttl: unknown } = {
    name: '',
    aliases: [],
    version: '',
    resource: null,
    ttl: null,
  };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 3:
        d.name = r.string(end);
        break;
      case 4:
        d.aliases.push(r.string(end));
        break;
      case 1:
        d.version = r.string(end);
        break;
      case 2:
        d.resource = readAny(r, r.length(end));
        break;
      case 6: {
        // google.protobuf.Duration (int64 seconds): rare; protobufjs keeps its Long handling.
        const stop = r.length(end);
        const body = r.buf.subarray(r.pos, stop);
        r.pos = stop;
        d.ttl = messageType('google.protobuf.Duration').decode(body);
        break;
      }
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return d;
}

function readAny(r: WireReader, end: number): Any {
  let typeUrl = '';
  let value: Uint8Array | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        typeUrl = r.string(end);
        break;
      case 2:
        value = r.bytes(end);
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return { typeUrl, value: value ?? Buffer.alloc(0) };
}

function readControlPlane(r: WireReader, end: number): ControlPlane {
  const d: ControlPlane = { identifier: '' };
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag >>> 3 === 1) d.identifier = r.string(end);
    else r.skip(tag & 7, end);
  }
  r.finish(end);
  return d;
}
