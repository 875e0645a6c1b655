import { id_ecdsaWithSHA256 } from '@peculiar/asn1-ecc';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  type Extension,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  KeyUsage,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { decodeAsn1, equalBytes, parseDer, toDer, toHex } from './asn1.js';
import { DEFAULT_MAX_INPUT_BYTES, IdentityError } from './errors.js';
import { type EcdsaP256, fromSpki, nobleEcdsaP256 } from './keys.js';
import { decodePem, decodePemBlocks, encodePem } from './pem.js';
import { parseSpiffeId, type SpiffeId } from './spiffe-id.js';

/** What this package reads out of an X.509 certificate. */
export interface CertificateInfo {
  readonly der: Uint8Array;
  readonly pem: string;
  /** Serial number, lowercase hex. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** `basicConstraints.cA`. */
  readonly isCa: boolean;
  /** keyUsage bits as in RFC 5280 §4.2.1.3 (`digitalSignature` = 1, `keyCertSign` = 32, ...), 0 when absent. */
  readonly keyUsage: number;
  /** Extended key usage OIDs. */
  readonly extendedKeyUsage: readonly string[];
  /** Every URI SAN. */
  readonly uris: readonly string[];
  /** The SPIFFE ID when the certificate has exactly one URI SAN and it is a valid Istio SPIFFE ID. */
  readonly identity: SpiffeId | undefined;
  /** Uncompressed P-256 public point. */
  readonly publicKey: Uint8Array;
  readonly subjectKeyId: Uint8Array | undefined;
  readonly authorityKeyId: Uint8Array | undefined;
  /** DER of the subject and issuer names (for chain building). */
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  /** The signed part and its DER ECDSA signature. */
  readonly tbsDer: Uint8Array;
  readonly signature: Uint8Array;
}

/** Parsed extensions shared by certificates and CSRs. @internal */
export function findExtension(
  extensions: readonly Extension[] | undefined,
  id: string,
): Extension | undefined {
  const found = extensions?.filter((e) => e.extnID === id) ?? [];
  if (found.length > 1) {
    throw new IdentityError(
      'IDENTITY_ERR_DER_INVALID',
      `extension ${id} appears more than once (RFC 5280 §4.2)`,
      {
        rule: 'duplicate-extension',
      },
    );
  }
  return found[0];
}

/** Decodes an extension's value, mapping failures to a typed error. @internal */
export function extensionValue<T>(extension: Extension, type: new () => T): T {
  try {
    return decodeAsn1(extension.extnValue.buffer, type);
  } catch (cause) {
    throw new IdentityError('IDENTITY_ERR_DER_INVALID', `extension ${extension.extnID} is malformed`, {
      cause,
    });
  }
}

/** Checks an algorithm identifier is ecdsa-with-SHA256 without parameters. @internal */
export function checkSignatureAlgorithm(algorithm: AlgorithmIdentifier, what: string): void {
  if (
    algorithm.algorithm !== id_ecdsaWithSHA256 ||
    (algorithm.parameters !== undefined && algorithm.parameters !== null)
  ) {
    throw new IdentityError(
      'IDENTITY_ERR_UNSUPPORTED_ALGORITHM',
      `${what} is signed with ${algorithm.algorithm}; only ecdsa-with-SHA256 (1.2.840.10045.4.3.2) is supported`,
      { rule: 'signature-algorithm' },
    );
  }
}

/** The ecdsa-with-SHA256 algorithm identifier (RFC 5758 §3.2: parameters absent). @internal */
export function ecdsaWithSha256(): AlgorithmIdentifier {
  return new AlgorithmIdentifier({ algorithm: id_ecdsaWithSHA256 });
}

function uriNames(san: SubjectAlternativeName | undefined): string[] {
  return san
    ? san.filter((n) => n.uniformResourceIdentifier !== undefined).map((n) => n.uniformResourceIdentifier!)
    : [];
}

/**
 * Parses an X.509 certificate (PEM `CERTIFICATE` or DER) signed with
 * ecdsa-with-SHA256 over a P-256 key.
 * @throws {IdentityError} `IDENTITY_ERR_PEM_INVALID`, `IDENTITY_ERR_DER_INVALID`, `IDENTITY_ERR_UNSUPPORTED_ALGORITHM`, `IDENTITY_ERR_KEY_INVALID`, `IDENTITY_ERR_INPUT_TOO_LARGE`
 * @example
 * ```ts
 * const info = parseCertificate(chain[0]);
 * info.identity?.uri; // 'spiffe://cluster.local/ns/default/sa/web'
 * ```
 */
export function parseCertificate(
  input: string | Uint8Array,
  maxBytes: number = DEFAULT_MAX_INPUT_BYTES,
): CertificateInfo {
  const der = typeof input === 'string' ? decodePem(input, ['CERTIFICATE'], maxBytes).der : input;
  if (der.length > maxBytes) {
    throw new IdentityError('IDENTITY_ERR_INPUT_TOO_LARGE', `certificate is over ${maxBytes} bytes`, {
      rule: 'max-size',
    });
  }
  const cert = parseDer(der, Certificate, 'certificate');
  checkSignatureAlgorithm(cert.signatureAlgorithm, 'certificate');
  const tbs = cert.tbsCertificate;
  checkSignatureAlgorithm(tbs.signature, 'certificate (inner signature field)');
  const extensions = tbs.extensions;
  const basic = findExtension(extensions, id_ce_basicConstraints);
  const keyUsageExt = findExtension(extensions, id_ce_keyUsage);
  const ekuExt = findExtension(extensions, id_ce_extKeyUsage);
  const sanExt = findExtension(extensions, id_ce_subjectAltName);
  const skiExt = findExtension(extensions, id_ce_subjectKeyIdentifier);
  const akiExt = findExtension(extensions, id_ce_authorityKeyIdentifier);
  const uris = uriNames(sanExt ? extensionValue(sanExt, SubjectAlternativeName) : undefined);
  let identity: SpiffeId | undefined;
  if (uris.length === 1) {
    try {
      identity = parseSpiffeId(uris[0]!);
    } catch {
      identity = undefined;
    }
  }
  const aki = akiExt ? extensionValue(akiExt, AuthorityKeyIdentifier) : undefined;
  const keyUsage = keyUsageExt ? extensionValue(keyUsageExt, KeyUsage).toNumber() : 0;
  return {
    der,
    pem: encodePem('CERTIFICATE', der),
    serialNumber: toHex(tbs.serialNumber),
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    isCa: basic ? extensionValue(basic, BasicConstraints).cA : false,
    keyUsage,
    extendedKeyUsage: ekuExt ? [...extensionValue(ekuExt, ExtendedKeyUsage)] : [],
    uris,
    identity,
    publicKey: fromSpki(tbs.subjectPublicKeyInfo, 'certificate'),
    subjectKeyId: skiExt ? new Uint8Array(extensionValue(skiExt, SubjectKeyIdentifier).buffer) : undefined,
    authorityKeyId: aki?.keyIdentifier ? new Uint8Array(aki.keyIdentifier.buffer) : undefined,
    subjectDer: toDer(tbs.subject),
    issuerDer: toDer(tbs.issuer),
    tbsDer: new Uint8Array(cert.tbsCertificateRaw ?? AsnConvert.serialize(tbs)),
    signature: new Uint8Array(cert.signatureValue),
  };
}

/**
 * Parses every certificate of a PEM chain (or a list of PEM/DER certificates).
 * @throws {IdentityError} as {@link parseCertificate}; `IDENTITY_ERR_PEM_INVALID` for non-certificate blocks
 */
export function parseCertificateChain(
  input: string | readonly (string | Uint8Array)[],
  maxBytes: number = DEFAULT_MAX_INPUT_BYTES,
): CertificateInfo[] {
  if (typeof input === 'string') {
    return decodePemBlocks(input, maxBytes).map((block) => {
      if (block.label !== 'CERTIFICATE') {
        throw new IdentityError('IDENTITY_ERR_PEM_INVALID', `expected CERTIFICATE, found ${block.label}`, {
          rule: 'label',
        });
      }
      return parseCertificate(block.der, maxBytes);
    });
  }
  return input.map((item) => parseCertificate(item, maxBytes));
}

/** Options of {@link verifyCertificateChain}. */
export interface VerifyChainOptions {
  /** Trusted roots (PEM, DER or parsed). */
  readonly roots: readonly (string | Uint8Array | CertificateInfo)[];
  /** The time to check validity at, in ms since the epoch. */
  readonly now: number;
  readonly ecdsa?: EcdsaP256;
}

function asInfo(value: string | Uint8Array | CertificateInfo): CertificateInfo {
  return typeof value === 'string' || value instanceof Uint8Array ? parseCertificate(value) : value;
}

function chainFail(message: string, rule: string): never {
  throw new IdentityError('IDENTITY_ERR_CERT_INVALID', message, { rule });
}

/**
 * Verifies a leaf-first chain up to one of the trusted roots: names chain,
 * every signature verifies, issuers are CAs with keyCertSign, and every
 * certificate is valid at `now`. The chain may end with the root itself.
 * Returns the verified chain.
 * @throws {IdentityError} `IDENTITY_ERR_CERT_INVALID` naming the rule
 */
export function verifyCertificateChain(
  chain: readonly (string | Uint8Array | CertificateInfo)[],
  options: VerifyChainOptions,
): CertificateInfo[] {
  const ecdsa = options.ecdsa ?? nobleEcdsaP256;
  const certs = chain.map(asInfo);
  const roots = options.roots.map(asInfo);
  if (certs.length === 0) chainFail('certificate chain is empty', 'empty');
  const checkTime = (cert: CertificateInfo, index: number): void => {
    if (options.now < cert.notBefore.getTime())
      chainFail(`certificate ${index} is not yet valid`, 'not-yet-valid');
    if (options.now > cert.notAfter.getTime()) chainFail(`certificate ${index} has expired`, 'expired');
  };
  const signedBy = (child: CertificateInfo, issuer: CertificateInfo): boolean =>
    equalBytes(child.issuerDer, issuer.subjectDer) &&
    ecdsa.verify(child.tbsDer, child.signature, issuer.publicKey);
  const checkIssuer = (issuer: CertificateInfo, index: number): void => {
    if (!issuer.isCa) chainFail(`certificate ${index} issues certificates but is not a CA`, 'issuer-not-ca');
    if (issuer.keyUsage !== 0 && (issuer.keyUsage & 32) === 0) {
      chainFail(`certificate ${index} lacks keyCertSign`, 'issuer-key-usage');
    }
  };
  for (let i = 0; i < certs.length; i++) {
    const cert = certs[i]!;
    checkTime(cert, i);
    if (roots.some((root) => equalBytes(root.der, cert.der))) return certs.slice(0, i + 1);
    const next = certs[i + 1];
    if (next) {
      checkIssuer(next, i + 1);
      if (!signedBy(cert, next))
        chainFail(`certificate ${i} is not signed by certificate ${i + 1}`, 'signature');
      continue;
    }
    const root = roots.find((candidate) => signedBy(cert, candidate));
    if (!root) chainFail(`certificate ${i} is not signed by any trusted root`, 'unknown-root');
    checkIssuer(root, i + 1);
    checkTime(root, i + 1);
    return certs;
  }
  return certs;
}
