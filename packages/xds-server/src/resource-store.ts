import { encodeAny, encodeDeltaResource, encodeDeltaResourceFields } from '@amesh/xds-types';

/** One resource as the caller gives it: its version and its encoded message bytes. */
export interface ResourceInput {
  /** Opaque version; a change of version is what the server pushes. */
  readonly version: string;
  /** The encoded resource message (for example from `encodeAddress`). */
  readonly resource: Uint8Array;
}

/** A stored resource with its wire forms encoded once and shared by every client. */
export interface StoredResource extends ResourceInput {
  readonly name: string;
  /** Encoded `google.protobuf.Any` (SotW). */
  readonly any: Uint8Array;
  /** Encoded `envoy.service.discovery.v3.Resource` (Delta). */
  readonly delta: Uint8Array;
}

/**
 * Every resource of a type at one version, built once and shared by every
 * client that needs all of it (each fresh wildcard subscriber: every ztunnel).
 */
export interface FullState {
  /** name → version of every resource; never changed after it is built. */
  readonly versions: ReadonlyMap<string, string>;
  /** The Delta `resources` fields of every resource, encoded. */
  readonly deltaResources: Uint8Array;
}

interface TypeEntry {
  readonly resources: Map<string, StoredResource>;
  /** Bumped on every change of this type; the SotW `version_info`. */
  version: number;
  /** The shared full state of this version, once asked for. */
  full: FullState | undefined;
}

/**
 * Versioned resources per type URL, with the names changed since the last
 * {@link ResourceStore.takeDirty}. Pure data; no I/O.
 */
export class ResourceStore {
  readonly #types = new Map<string, TypeEntry>();
  readonly #dirty = new Map<string, Set<string>>();

  /** Replaces every resource of a type; returns the names that changed. */
  set(typeUrl: string, resources: ReadonlyMap<string, ResourceInput>): string[] {
    const entry = this.#entry(typeUrl);
    const changes = new Map<string, ResourceInput | null>();
    for (const name of entry.resources.keys()) if (!resources.has(name)) changes.set(name, null);
    for (const [name, input] of resources) changes.set(name, input);
    return this.update(typeUrl, changes);
  }

  /** Adds, replaces (`ResourceInput`) or deletes (`null`) resources; returns the names that changed. */
  update(typeUrl: string, changes: ReadonlyMap<string, ResourceInput | null>): string[] {
    const entry = this.#entry(typeUrl);
    const changed: string[] = [];
    for (const [name, input] of changes) {
      const current = entry.resources.get(name);
      if (input === null) {
        if (current === undefined) continue;
        entry.resources.delete(name);
      } else {
        if (current !== undefined && current.version === input.version) continue;
        entry.resources.set(name, {
          name,
          version: input.version,
          resource: input.resource,
          any: encodeAny(typeUrl, input.resource),
          delta: encodeDeltaResource(name, input.version, typeUrl, input.resource),
        });
      }
      changed.push(name);
    }
    if (changed.length > 0) {
      entry.version++;
      entry.full = undefined;
      let dirty = this.#dirty.get(typeUrl);
      if (dirty === undefined) {
        dirty = new Set();
        this.#dirty.set(typeUrl, dirty);
      }
      for (const name of changed) dirty.add(name);
    }
    return changed;
  }

  /** One resource, if present. */
  get(typeUrl: string, name: string): StoredResource | undefined {
    return this.#types.get(typeUrl)?.resources.get(name);
  }

  /** Every resource of a type. */
  all(typeUrl: string): ReadonlyMap<string, StoredResource> {
    return this.#types.get(typeUrl)?.resources ?? new Map();
  }

  /** Every resource of a type as one shared {@link FullState}, built on first use after a change. */
  fullState(typeUrl: string): FullState {
    const entry = this.#entry(typeUrl);
    if (entry.full === undefined) {
      const versions = new Map<string, string>();
      const encoded: Uint8Array[] = [];
      for (const [name, stored] of entry.resources) {
        versions.set(name, stored.version);
        encoded.push(stored.delta);
      }
      entry.full = { versions, deltaResources: encodeDeltaResourceFields(encoded) };
    }
    return entry.full;
  }

  /** The SotW version of a type (`"0"` before any resource). */
  version(typeUrl: string): string {
    return String(this.#types.get(typeUrl)?.version ?? 0);
  }

  /** Type URLs that hold or held resources. */
  typeUrls(): string[] {
    return [...this.#types.keys()];
  }

  /** Names changed per type since the last call, and forgets them. */
  takeDirty(): Map<string, Set<string>> {
    const dirty = new Map(this.#dirty);
    this.#dirty.clear();
    return dirty;
  }

  /** True when changes wait to be pushed. */
  hasDirty(): boolean {
    return this.#dirty.size > 0;
  }

  #entry(typeUrl: string): TypeEntry {
    let entry = this.#types.get(typeUrl);
    if (entry === undefined) {
      entry = { resources: new Map(), version: 0, full: undefined };
      this.#types.set(typeUrl, entry);
    }
    return entry;
  }
}
