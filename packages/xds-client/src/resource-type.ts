import { XdsClientError } from './errors.js';

/** What decoding one resource produced: a named value, or an error (which becomes part of a NACK). */
export type DecodeResult<T> =
  | { readonly ok: true; readonly name: string; readonly value: T }
  | {
      readonly ok: false;
      readonly error: Error /** Known when the bytes decoded but failed validation. */;
      readonly name?: string;
    };

/**
 * One xDS resource type: how to decode and validate its bytes, and whether a
 * SotW response always carries the full set (LDS, CDS and Istio's types) so
 * that a missing resource means it was deleted.
 */
export interface XdsResourceType<T = unknown> {
  readonly typeUrl: string;
  /** SotW responses carry every resource of this type (absent means removed). */
  readonly allResourcesRequiredInSotW: boolean;
  /** Decodes and validates one resource; must not throw. */
  decode(bytes: Uint8Array): DecodeResult<T>;
  /**
   * Optional: the same as `decode(bytes.subarray(start, end))` without that
   * view (a client decodes every resource of a response in place); must not throw.
   */
  decodeRange?(bytes: Uint8Array, start: number, end: number): DecodeResult<T>;
}

/**
 * Resource types by type URL. `register` is idempotent for the same object
 * and refuses a second, different type for a URL.
 */
export class ResourceTypeRegistry {
  readonly #types = new Map<string, XdsResourceType>();

  /** @param types - types to register at once */
  constructor(types: readonly XdsResourceType[] = []) {
    for (const type of types) this.register(type);
  }

  /**
   * Registers a resource type.
   * @throws {XdsClientError} `XDS_ERR_UNKNOWN_TYPE_URL` when another type already holds that URL
   */
  register(type: XdsResourceType): void {
    const existing = this.#types.get(type.typeUrl);
    if (existing !== undefined && existing !== type) {
      throw new XdsClientError(
        'XDS_ERR_UNKNOWN_TYPE_URL',
        `a different resource type is already registered for ${type.typeUrl}`,
      );
    }
    this.#types.set(type.typeUrl, type);
  }

  /** The type registered for a URL, if any. */
  get(typeUrl: string): XdsResourceType | undefined {
    return this.#types.get(typeUrl);
  }

  /** Every registered type URL. */
  typeUrls(): string[] {
    return [...this.#types.keys()];
  }
}
