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

/**
 * One resource of a scanned Delta response: its name, version and the
 * position of its body in the response bytes. The object is reused from one
 * resource to the next; copy what outlives the visit.
 */
export interface DeltaResourceRef {
  /** `Resource.name`. */
  name: string;
  /** `Resource.version`. */
  version: string;
  /** Whether the Resource carries a body (`resource` set); `false` for `resource: null`. */
  hasBody: boolean;
  /** `resource.type_url` (empty without a body). */
  typeUrl: string;
  /** The whole response; the body (`resource.value`) is `bytes[start, end)`. */
  bytes: Buffer;
  start: number;
  end: number;
}

/**
 * A strictly validated Delta response whose resources are visited one at a
 * time: every bound of the envelope (response, `Resource`, `Any`, TTL) is
 * checked up front, exactly what {@link readDeltaDiscoveryResponse} refuses
 * is refused, but no object is built per resource until it is visited, so a
 * full sync keeps no per-resource envelope alive while it is processed.
 */
export interface DeltaDiscoveryResponseScan {
  readonly systemVersionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly removedResources: readonly string[];
  /** How many `resources` the response carries. */
  readonly resourceCount: number;
  /** Visits the resources in order, with one reused {@link DeltaResourceRef}. */
  forEachResource(visit: (resource: Readonly<DeltaResourceRef>) => void): void;
}

/** Scans an `envoy.service.discovery.v3.DeltaDiscoveryResponse`; throws on malformed input. */
export function scanDeltaDiscoveryResponse(bytes: Uint8Array): DeltaDiscoveryResponseScan {
  const r = new WireReader(bytes);
  const buf = r.buf;
  const end = buf.length;
  let systemVersionInfo = '';
  let typeUrl = '';
  let nonce = '';
  const removedResources: string[] = [];
  let resourceCount = 0;
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        systemVersionInfo = r.string(end);
        break;
      case 2:
        checkResource(r, r.length(end));
        resourceCount++;
        break;
      case 4:
        typeUrl = r.string(end);
        break;
      case 6:
        removedResources.push(r.string(end));
        break;
      case 5:
        nonce = r.string(end);
        break;
      case 7:
        readControlPlane(r, r.length(end));
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  return {
    systemVersionInfo,
    typeUrl,
    nonce,
    removedResources,
    resourceCount,
    forEachResource(visit) {
      if (resourceCount === 0) return;
      const ref: DeltaResourceRef = {
        name: '',
        version: '',
        hasBody: false,
        typeUrl: '',
        bytes: buf,
        start: 0,
        end: 0,
      };
      const w = new WireReader(buf);
      // The envelope was checked by the scan: this walk reads the same
      // fields the same way (every known field as length-delimited, whatever
      // its wire type, like the decoders), so it stays on the same bounds.
      while (w.pos < end) {
        const tag = w.uint32(end);
        switch (tag >>> 3) {
          case 2:
            visitResource(w, w.length(end), ref, typeUrl);
            visit(ref);
            break;
          case 1:
          case 4:
          case 5:
          case 6:
          case 7:
            w.pos = w.length(end);
            break;
          default:
            w.skip(tag & 7, end);
        }
      }
    },
  };
}

/** Checks one `Resource` the way {@link readResource} reads it, building nothing. */
function checkResource(r: WireReader, end: number): void {
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
      case 3:
      case 4:
        // Strings: a length and its bound, like WireReader.string.
        r.pos = r.length(end);
        break;
      case 2: {
        const stop = r.length(end);
        while (r.pos < stop) {
          const inner = r.uint32(stop);
          const field = inner >>> 3;
          if (field === 1 || field === 2) r.pos = r.length(stop);
          else r.skip(inner & 7, stop);
        }
        r.finish(stop);
        break;
      }
      case 6: {
        const stop = r.length(end);
        const body = r.buf.subarray(r.pos, stop);
        r.pos = stop;
        messageType('google.protobuf.Duration').decode(body);
        break;
      }
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
}

/**
 * Reads one already checked `Resource` into `ref` (last scalar wins; a
 * repeated `resource` replaces the earlier one). `typeUrl` is the response's:
 * what the type URL of every body should be.
 */
function visitResource(r: WireReader, end: number, ref: DeltaResourceRef, typeUrl: string): void {
  ref.name = '';
  ref.version = '';
  ref.hasBody = false;
  ref.typeUrl = '';
  ref.start = 0;
  ref.end = 0;
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 3:
        ref.name = r.string(end);
        break;
      case 1:
        ref.version = r.string(end);
        break;
      case 2: {
        const stop = r.length(end);
        ref.hasBody = true;
        ref.typeUrl = '';
        ref.start = 0;
        ref.end = 0;
        while (r.pos < stop) {
          const inner = r.uint32(stop);
          switch (inner >>> 3) {
            case 1:
              ref.typeUrl = r.expectedString(stop, typeUrl);
              break;
            case 2:
              ref.end = r.length(stop);
              ref.start = r.pos;
              r.pos = ref.end;
              break;
            default:
              r.skip(inner & 7, stop);
          }
        }
        break;
      }
      case 4:
      case 6:
        // aliases and ttl: checked by the scan, not needed here.
        r.pos = r.length(end);
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
}
