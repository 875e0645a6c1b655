import { AsnConvert } from '@peculiar/asn1-schema';
import { IdentityError } from './errors.js';

/** Decodes DER strictly into `type`, mapping library failures to a typed error. @internal */
export function parseDer<T>(der: Uint8Array, type: new () => T, what: string): T {
  let value: T;
  try {
    value = AsnConvert.parse(der, type);
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
