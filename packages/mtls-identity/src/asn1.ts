import { AsnConvert, AsnParser, type IAsnParseOptions } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { IdentityError } from './errors.js';

/**
 * Parser options for every decode in this package. asn1js by default also
 * tries to decode the contents of every OCTET STRING and BIT STRING as BER
 * (`parseEmbedded`); the schema mapping never reads those trees (it takes the
 * content octets), and where this package needs what an OCTET STRING holds
 * (extension values) it decodes it against its schema explicitly. Turning
 * it off removes that wasted work (a CSR's signature, key and extension
 * values) and changes no result. The library's depth, node and length
 * limits stay at their defaults. `copyInput: false` skips a redundant copy
 * (asn1-schema already copies a view it is given, and the values it maps
 * out are copies too); inputs are never written to.
 */
const PARSE_OPTIONS: IAsnParseOptions = { berOptions: { parseEmbedded: false, copyInput: false } };

/**
 * Decodes DER with the ASN.1 library (limits as {@link PARSE_OPTIONS}); the
 * library's exception propagates. @internal
 */
export function decodeAsn1<T>(der: ArrayBuffer | Uint8Array, type: new () => T): T {
  return AsnConvert.parse(der, type, PARSE_OPTIONS);
}

/**
 * Maps an asn1js block that an earlier decode produced onto `type`'s schema,
 * without decoding its octets again; the library's exception propagates.
 * @internal
 */
export function mapAsn1<T>(block: asn1js.AsnType, type: new () => T): T {
  return AsnParser.fromASN(block, type, PARSE_OPTIONS);
}

/** Decodes DER strictly into `type`, mapping library failures to a typed error. @internal */
export function parseDer<T>(der: Uint8Array, type: new () => T, what: string): T {
  let value: T;
  try {
    value = decodeAsn1(der, type);
  } catch (cause) {
    throw new IdentityError('IDENTITY_ERR_DER_INVALID', `${what} is not valid DER`, { cause, rule: 'der' });
  }
  // asn1js tolerates bytes after the outer element; DER does not.
  const length = outerLength(der);
  if (length !== der.byteLength) {
    throw new IdentityError(
      'IDENTITY_ERR_DER_INVALID',
      `${what} has ${der.byteLength - length} bytes that are not part of the structure`,
      { rule: 'trailing-bytes' },
    );
  }
  return value;
}

/** Total length (header + content) of the first DER element, or -1 when the header is malformed. */
function outerLength(der: Uint8Array): number {
  if (der.length < 2) return -1;
  const first = der[1]!;
  if (first < 0x80) return 2 + first;
  const count = first & 0x7f;
  if (count === 0 || count > 4 || der.length < 2 + count) return -1;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + der[2 + i]!;
  return 2 + count + length;
}

/** Serializes an ASN.1 object to DER bytes. @internal */
export function toDer(value: unknown): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(value));
}

/**
 * Pins the DER encoding of an ASN.1 schema object: the library encodes it
 * once, and every later serialization of a structure that contains the
 * object reuses those octets instead of rebuilding and re-encoding the
 * object's tree (asn1js costs a few microseconds per node and level). For
 * the parts of a certificate that are the same for every leaf a CA issues.
 *
 * The object keeps its type and fields (it can still be read) and is frozen
 * (shallowly): it must not change afterwards, as its encoding no longer
 * would. It becomes encode-only: the schema parser refuses to decode into it.
 *
 * How: the object gets `toASN` (asn1-schema's `IAsnConvertible`), returning
 * an asn1js block with the same identifier octets whose content octets are
 * the library's encoding, as is; asn1js writes the identifier, the length
 * and those octets. Checked once here: that block must encode to exactly the
 * library's encoding of the object.
 * @internal
 */
export function pinEncoding<T extends object>(value: T): T {
  const der = toDer(value);
  const parsed = asn1js.fromBER(der, { parseEmbedded: false });
  if (parsed.offset !== der.length || parsed.result.error !== '') {
    throw new TypeError(`cannot pin the encoding of ${value.constructor.name}: ${parsed.result.error}`);
  }
  const { idBlock, lenBlock } = parsed.result;
  const block = new asn1js.Primitive({
    idBlock: { tagClass: idBlock.tagClass, tagNumber: idBlock.tagNumber },
    valueHex: der.slice(der.length - lenBlock.length),
  });
  // Primitive clears the constructed bit; SEQUENCE, SET and explicit tags need it back.
  block.idBlock.isConstructed = idBlock.isConstructed;
  if (!equalBytes(new Uint8Array(block.toBER(false)), der)) {
    throw new TypeError(
      `cannot pin the encoding of ${value.constructor.name}: the block does not round-trip`,
    );
  }
  Object.defineProperties(value, {
    toASN: { value: () => block },
    fromASN: {
      value: () => {
        throw new TypeError('an object with a pinned encoding is encode-only');
      },
    },
  });
  return Object.freeze(value);
}

/** Copies bytes into a fresh ArrayBuffer. @internal */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

/** Hex of bytes. @internal */
export function toHex(bytes: Uint8Array | ArrayBuffer): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');
}

/** Byte equality. @internal */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
