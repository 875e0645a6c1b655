import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { OctetString } from '@peculiar/asn1-schema';
import {
  Attribute,
  Extension,
  Extensions,
  GeneralName,
  id_ce_subjectAltName,
  Name,
  SubjectAlternativeName,
} from '@peculiar/asn1-x509';
import { mapAsn1, parseDer, toArrayBuffer, toDer } from './asn1.js';
import { checkSignatureAlgorithm, ecdsaWithSha256, extensionValue, findExtension } from './certificate.js';
import { DecodedCsr } from './csr-schema.js';
import { DEFAULT_MAX_INPUT_BYTES, IdentityError } from './errors.js';
import { type EcdsaP256, fromSpki, nobleEcdsaP256, type P256Key, toSpki } from './keys.js';
import { decodePem, encodePem } from './pem.js';
import { parseSpiffeId, type SpiffeId, toSpiffeId } from './spiffe-id.js';

/** PKCS#9 extensionRequest attribute (RFC 2985 §5.4.2). */
const ID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/** A PKCS#10 certificate signing request. */
export interface Csr {
  readonly der: Uint8Array;
  readonly pem: string;
}

/** Options of {@link buildCsr}. */
export interface BuildCsrOptions {
  /** The identity to request: the only URI SAN. */
  readonly identity: SpiffeId | string;
  /** The key the certificate is for; it signs the CSR (proof of possession). */
  readonly key: P256Key;
  readonly ecdsa?: EcdsaP256;
}

/**
 * Builds a PKCS#10 CSR (RFC 2986) the way Istio's agents do: empty subject,
 * the SPIFFE ID as the only URI SAN in a critical subjectAltName extension
 * (RFC 5280 §4.2.1.6 requires critical when the subject is empty), signed
 * with ecdsa-with-SHA256 by `key`.
 * @throws {IdentityError} `IDENTITY_ERR_SPIFFE_ID_INVALID`
 * @example
 * ```ts
 * const key = generateKey();
 * const csr = buildCsr({ identity: 'spiffe://cluster.local/ns/default/sa/web', key });
 * csr.pem; // '-----BEGIN CERTIFICATE REQUEST-----...'
 * ```
 */
export function buildCsr(options: BuildCsrOptions): Csr {
  const identity = toSpiffeId(options.identity);
  const ecdsa = options.ecdsa ?? nobleEcdsaP256;
  const san = new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: identity.uri })]);
  const extensions = new Extensions([
    new Extension({ extnID: id_ce_subjectAltName, critical: true, extnValue: new OctetString(toDer(san)) }),
  ]);
  const info = new CertificationRequestInfo({
    version: 0,
    subject: new Name(),
    subjectPKInfo: toSpki(options.key.publicKey),
    attributes: new Attributes([
      new Attribute({ type: ID_EXTENSION_REQUEST, values: [toArrayBuffer(toDer(extensions))] }),
    ]),
  });
  const infoDer = toDer(info);
  const request = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: ecdsaWithSha256(),
    signature: toArrayBuffer(ecdsa.sign(infoDer, options.key)),
  });
  const der = toDer(request);
  return { der, pem: encodePem('CERTIFICATE REQUEST', der) };
}

/** What {@link parseCsr} found in a CSR. Its signature is checked by {@link verifyCsr}. */
export interface ParsedCsr {
  readonly der: Uint8Array;
  /** The requested identity: the CSR's one URI SAN. */
  readonly identity: SpiffeId;
  /** Uncompressed P-256 public point the certificate will be for. */
  readonly publicKey: Uint8Array;
  /** The signed part and its DER signature. */
  readonly infoDer: Uint8Array;
  readonly signature: Uint8Array;
}

function csrFail(message: string, rule: string): never {
  throw new IdentityError('IDENTITY_ERR_CSR_INVALID', `invalid CSR: ${message}`, { rule });
}

/**
 * Parses a CSR (PEM `CERTIFICATE REQUEST` / `NEW CERTIFICATE REQUEST`, or
 * DER) strictly: version 1, ecdsa-with-SHA256, a P-256 key, and exactly one
 * subjectAltName entry that is a URI holding a valid Istio SPIFFE ID. The
 * subject is ignored (the CA issues with an empty subject). Does not check
 * the signature; see {@link verifyCsr}.
 * @throws {IdentityError} `IDENTITY_ERR_CSR_INVALID`, `IDENTITY_ERR_PEM_INVALID`, `IDENTITY_ERR_DER_INVALID`, `IDENTITY_ERR_UNSUPPORTED_ALGORITHM`, `IDENTITY_ERR_KEY_INVALID`, `IDENTITY_ERR_INPUT_TOO_LARGE`
 */
export function parseCsr(input: string | Uint8Array, maxBytes: number = DEFAULT_MAX_INPUT_BYTES): ParsedCsr {
  const der =
    typeof input === 'string'
      ? decodePem(input, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], maxBytes).der
      : input;
  if (der.length > maxBytes) {
    throw new IdentityError('IDENTITY_ERR_INPUT_TOO_LARGE', `CSR is over ${maxBytes} bytes`, {
      rule: 'max-size',
    });
  }
  // One decode: the extensionRequest below is mapped from the blocks this produced.
  const request = parseDer(der, DecodedCsr, 'CSR');
  const info = request.certificationRequestInfo;
  if (info.version !== 0) csrFail(`version must be 1 (encoded 0), got ${info.version}`, 'version');
  checkSignatureAlgorithm(request.signatureAlgorithm, 'CSR');
  const publicKey = fromSpki(info.subjectPKInfo, 'CSR');
  const requests = info.attributes.filter((a) => a.type === ID_EXTENSION_REQUEST);
  if (requests.length !== 1 || requests[0]!.values.length !== 1) {
    csrFail('must carry exactly one extensionRequest attribute with one value', 'extension-request');
  }
  let extensions: Extensions;
  try {
    extensions = mapAsn1(requests[0]!.values[0]!, Extensions);
  } catch (cause) {
    throw new IdentityError('IDENTITY_ERR_DER_INVALID', 'CSR extensionRequest is malformed', { cause });
  }
  const sanExtension = findExtension(extensions, id_ce_subjectAltName);
  if (!sanExtension) csrFail('has no subjectAltName', 'san-missing');
  const names = extensionValue(sanExtension, SubjectAlternativeName);
  if (names.length !== 1) csrFail(`must have exactly one SAN, found ${names.length}`, 'san-count');
  const uri = names[0]!.uniformResourceIdentifier;
  if (uri === undefined) csrFail('the SAN must be a URI (a SPIFFE ID)', 'san-not-uri');
  let identity: SpiffeId;
  try {
    identity = parseSpiffeId(uri);
  } catch (cause) {
    throw new IdentityError('IDENTITY_ERR_CSR_INVALID', `invalid CSR: the URI SAN is not a SPIFFE ID`, {
      cause,
      rule: 'san-not-spiffe',
    });
  }
  return {
    der,
    identity,
    publicKey,
    infoDer: new Uint8Array(request.certificationRequestInfoRaw ?? toDer(info)),
    signature: new Uint8Array(request.signature),
  };
}

/**
 * Checks proof of possession: the CSR's own key signed it.
 * @throws {IdentityError} `IDENTITY_ERR_CSR_SIGNATURE`
 */
export function verifyCsr(csr: ParsedCsr, ecdsa: EcdsaP256 = nobleEcdsaP256): ParsedCsr {
  if (!ecdsa.verify(csr.infoDer, csr.signature, csr.publicKey)) {
    throw new IdentityError('IDENTITY_ERR_CSR_SIGNATURE', 'CSR signature does not verify with its own key', {
      rule: 'proof-of-possession',
    });
  }
  return csr;
}
