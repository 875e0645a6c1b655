import {
  AsnArray,
  AsnProp,
  AsnPropTypes,
  AsnType,
  AsnTypeTypes,
  type IAsnConverter,
} from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Name, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import type * as asn1js from 'asn1js';

/**
 * The PKCS#10 structures (RFC 2986 §4) as `@peculiar/asn1-csr` declares
 * them, for decoding only, with one difference: attribute values stay the
 * asn1js blocks the one decode of the CSR produced. `@peculiar/asn1-csr`
 * hands them over as bytes, so the extensionRequest had to be decoded a
 * second time; here it is only mapped onto its schema (see `mapAsn1`).
 * Accepts exactly what `@peculiar/asn1-csr` accepts.
 * @internal
 */

/** Keeps a decoded value as the asn1js block it is. */
const KEEP_DECODED: IAsnConverter<asn1js.AsnType> = {
  fromASN: (value) => value,
  toASN: (value) => value,
};

/** Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY } (RFC 2986 §4.1). @internal */
export class DecodedAttribute {
  type = '';
  values: asn1js.AsnType[] = [];
}
AsnProp({ type: AsnPropTypes.ObjectIdentifier })(DecodedAttribute.prototype, 'type');
AsnProp({ type: AsnPropTypes.Any, repeated: 'set', converter: KEEP_DECODED })(
  DecodedAttribute.prototype,
  'values',
);

/** The attributes of a request (`[0] IMPLICIT SET OF Attribute`). @internal */
export class DecodedAttributes extends AsnArray<DecodedAttribute> {}
AsnType({ type: AsnTypeTypes.Sequence, itemType: DecodedAttribute })(DecodedAttributes);

/** CertificationRequestInfo (RFC 2986 §4.1). @internal */
export class DecodedCsrInfo {
  version = 0;
  subject: Name = new Name();
  subjectPKInfo: SubjectPublicKeyInfo = new SubjectPublicKeyInfo();
  attributes: DecodedAttributes = new DecodedAttributes();
}
AsnProp({ type: AsnPropTypes.Integer })(DecodedCsrInfo.prototype, 'version');
AsnProp({ type: Name })(DecodedCsrInfo.prototype, 'subject');
AsnProp({ type: SubjectPublicKeyInfo })(DecodedCsrInfo.prototype, 'subjectPKInfo');
AsnProp({ type: DecodedAttributes, implicit: true, context: 0, optional: true })(
  DecodedCsrInfo.prototype,
  'attributes',
);

/** CertificationRequest (RFC 2986 §4.2); the signed part's octets are kept as `certificationRequestInfoRaw`. @internal */
export class DecodedCsr {
  certificationRequestInfo: DecodedCsrInfo = new DecodedCsrInfo();
  certificationRequestInfoRaw: Uint8Array | undefined;
  signatureAlgorithm: AlgorithmIdentifier = new AlgorithmIdentifier();
  signature: ArrayBuffer = new ArrayBuffer(0);
}
AsnProp({ type: DecodedCsrInfo, raw: true })(DecodedCsr.prototype, 'certificationRequestInfo');
AsnProp({ type: AlgorithmIdentifier })(DecodedCsr.prototype, 'signatureAlgorithm');
AsnProp({ type: AsnPropTypes.BitString })(DecodedCsr.prototype, 'signature');
