import { OctetString } from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import { decodeAsn1, equalBytes, pinEncoding, toArrayBuffer, toDer } from './asn1.js';
import {
  type CertificateInfo,
  ecdsaWithSha256,
  parseCertificate,
  parseCertificateChain,
} from './certificate.js';
import { type ParsedCsr, parseCsr, verifyCsr } from './csr.js';
import { DEFAULT_MAX_INPUT_BYTES, IdentityError } from './errors.js';
import {
  type EcdsaP256,
  importPrivateKey,
  keyIdentifier,
  nobleEcdsaP256,
  type P256Key,
  toSpki,
} from './keys.js';
import { encodePem } from './pem.js';
import { type SpiffeId, toSpiffeId, validateTrustDomain } from './spiffe-id.js';

const HOUR = 3600;
/** Istio's default workload certificate lifetime. */
export const DEFAULT_TTL_SECONDS: number = 24 * HOUR;
/** Istio's default cap on workload certificate lifetime (90 days). */
export const DEFAULT_MAX_TTL_SECONDS: number = 90 * 24 * HOUR;
/** How far notBefore is set in the past to absorb clock skew between nodes. */
export const DEFAULT_BACKDATE_SECONDS = 60;
const ID_AT_ORGANIZATION = '2.5.4.10';

/** Options shared by every way to build a {@link CertificateAuthority}. */
export interface CertificateAuthorityCommonOptions {
  /** Lifetime when a request does not name one. Default 24 h. */
  readonly defaultTtlSeconds?: number;
  /** Requests over this are refused. Default 90 days. */
  readonly maxTtlSeconds?: number;
  /** notBefore = now − backdate. Default 60 s. */
  readonly backdateSeconds?: number;
  /** Extra trusted roots published in the trust bundle (root rotation). */
  readonly additionalRoots?: readonly string[];
  /** Clock in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
  readonly ecdsa?: EcdsaP256;
  /** CSPRNG for serial numbers. Default `crypto.getRandomValues`. */
  readonly randomBytes?: (length: number) => Uint8Array;
  /** Largest CSR accepted. Default 64 KiB. */
  readonly maxCsrBytes?: number;
}

/** Options of {@link CertificateAuthority.fromKeyAndChain} (the plug-in CA). */
export interface PluggedCaOptions extends CertificateAuthorityCommonOptions {
  readonly trustDomain: string;
  /** The signing key: PEM (PKCS#8 or SEC 1) or a key. */
  readonly key: string | P256Key;
  /** The signing certificate first, then its issuers up to the root (PEM: one string or one per element). */
  readonly certChain: string | readonly string[];
}

/** Options of {@link CertificateAuthority.createRoot}. */
export interface SelfSignedCaOptions extends CertificateAuthorityCommonOptions {
  readonly trustDomain: string;
  /** The root key; generated when absent. */
  readonly key?: P256Key;
  /** Root lifetime. Default 10 years. */
  readonly rootTtlSeconds?: number;
}

/** A request to {@link CertificateAuthority.issue}. */
export interface IssueRequest {
  /** The CSR (PEM or DER), or one already parsed by {@link parseCsr}. */
  readonly csr: string | Uint8Array | ParsedCsr;
  /**
   * The identity to issue for, already authorised by the caller. Defaults to
   * the CSR's SAN. When given, it replaces the CSR's SAN (as Istio's CA does).
   */
  readonly identity?: SpiffeId | string;
  /** Requested lifetime; default {@link CertificateAuthorityCommonOptions.defaultTtlSeconds}. */
  readonly ttlSeconds?: number;
}

/** What {@link CertificateAuthority.issue} returns. */
export interface IssuedCertificate {
  /** PEM certificates, leaf first, root last (Istio's `cert_chain`). */
  readonly chain: readonly string[];
  readonly identity: SpiffeId;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * An X.509-SVID certificate authority (SPIFFE X.509-SVID spec §4, §5):
 * issues leaves with an empty subject, the SPIFFE ID as the only URI SAN
 * (critical), CA false, keyUsage digitalSignature, extKeyUsage serverAuth +
 * clientAuth, a 128-bit random serial, SKI/AKI, and a short backdate.
 *
 * Sans-IO: pure computation; clock and randomness are injectable.
 *
 * @example
 * ```ts
 * const ca = CertificateAuthority.createRoot({ trustDomain: 'cluster.local' });
 * const key = generateKey();
 * const csr = buildCsr({ identity: 'spiffe://cluster.local/ns/default/sa/web', key });
 * const { chain } = ca.issue({ csr: csr.pem });
 * ```
 */
export class CertificateAuthority {
  /** The trust domain this CA issues for. */
  readonly trustDomain: string;
  /** The signing certificate first, root last (parsed). */
  readonly chain: readonly CertificateInfo[];
  readonly #key: P256Key;
  readonly #chainPem: readonly string[];
  readonly #roots: string[];
  readonly #defaultTtl: number;
  readonly #maxTtl: number;
  readonly #backdate: number;
  readonly #now: () => number;
  readonly #ecdsa: EcdsaP256;
  readonly #random: (length: number) => Uint8Array;
  readonly #maxCsrBytes: number;
  /** The signer's subject, its encoding pinned (the issuer of everything this CA signs). */
  readonly #issuerName: Name;
  readonly #authorityKeyId: Uint8Array;
  /** The authorityKeyIdentifier extension of every leaf, its encoding pinned. */
  readonly #leafAuthorityKeyId: Extension;
  /** The last leaf validity, by whole seconds (all the encoding holds), its encoding pinned. */
  #lastValidity:
    | { readonly notBefore: number; readonly notAfter: number; readonly value: Validity }
    | undefined;

  private constructor(
    trustDomain: string,
    key: P256Key,
    chain: CertificateInfo[],
    options: CertificateAuthorityCommonOptions,
  ) {
    this.trustDomain = validateTrustDomain(trustDomain);
    this.#ecdsa = options.ecdsa ?? nobleEcdsaP256;
    this.#now = options.now ?? Date.now;
    this.#random = options.randomBytes ?? ((n) => crypto.getRandomValues(new Uint8Array(n)));
    this.#defaultTtl = options.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS;
    this.#maxTtl = options.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
    this.#backdate = options.backdateSeconds ?? DEFAULT_BACKDATE_SECONDS;
    this.#maxCsrBytes = options.maxCsrBytes ?? DEFAULT_MAX_INPUT_BYTES;
    for (const [name, value] of [
      ['defaultTtlSeconds', this.#defaultTtl],
      ['maxTtlSeconds', this.#maxTtl],
    ] as const) {
      if (!Number.isSafeInteger(value) || value <= 0) configFail(`${name} must be a positive integer`, 'ttl');
    }
    if (this.#defaultTtl > this.#maxTtl) configFail('defaultTtlSeconds is over maxTtlSeconds', 'ttl');
    if (!Number.isSafeInteger(this.#backdate) || this.#backdate < 0)
      configFail('backdateSeconds must be ≥ 0', 'backdate');
    if (chain.length === 0) configFail('the certificate chain is empty', 'chain');
    const signer = chain[0]!;
    if (!equalBytes(signer.publicKey, key.publicKey)) {
      configFail('the key does not match the signing certificate', 'key-mismatch');
    }
    if (!signer.isCa || (signer.keyUsage !== 0 && (signer.keyUsage & KeyUsageFlags.keyCertSign) === 0)) {
      configFail('the signing certificate is not a CA with keyCertSign', 'not-ca');
    }
    for (let i = 0; i + 1 < chain.length; i++) {
      const child = chain[i]!;
      const parent = chain[i + 1]!;
      if (
        !equalBytes(child.issuerDer, parent.subjectDer) ||
        !this.#ecdsa.verify(child.tbsDer, child.signature, parent.publicKey)
      ) {
        configFail(`chain certificate ${i} is not signed by certificate ${i + 1}`, 'chain-order');
      }
    }
    const root = chain[chain.length - 1]!;
    if (
      !equalBytes(root.issuerDer, root.subjectDer) ||
      !this.#ecdsa.verify(root.tbsDer, root.signature, root.publicKey)
    ) {
      configFail('the last certificate of the chain is not a self-signed root', 'root');
    }
    this.#key = key;
    this.chain = chain;
    this.#chainPem = chain.map((c) => c.pem);
    this.#roots = [root.pem];
    for (const extra of options.additionalRoots ?? []) this.addTrustedRoot(extra);
    this.#issuerName = pinEncoding(decodeAsn1(signer.subjectDer, Name));
    this.#authorityKeyId = signer.subjectKeyId ?? keyIdentifier(signer.publicKey);
    this.#leafAuthorityKeyId = pinEncoding(
      extension(
        id_ce_authorityKeyIdentifier,
        false,
        new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(this.#authorityKeyId) }),
      ),
    );
  }

  /**
   * A CA from a provided signing key and chain (Istio's "plug-in CA"): a
   * root, or an intermediate followed by its issuers up to the root.
   * @throws {IdentityError} `IDENTITY_ERR_CA_CONFIG` and the key/PEM/certificate errors
   */
  static fromKeyAndChain(options: PluggedCaOptions): CertificateAuthority {
    const key = typeof options.key === 'string' ? importPrivateKey(options.key) : options.key;
    const chain =
      typeof options.certChain === 'string'
        ? parseCertificateChain(options.certChain)
        : options.certChain.flatMap((pem) => parseCertificateChain(pem));
    return new CertificateAuthority(options.trustDomain, key, chain, options);
  }

  /**
   * A CA with a fresh self-signed root (subject `O=<trust domain>`, CA true,
   * keyCertSign + cRLSign), like Istio's self-signed CA.
   * @throws {IdentityError} `IDENTITY_ERR_CA_CONFIG`, `IDENTITY_ERR_SPIFFE_ID_INVALID` for a bad trust domain
   */
  static createRoot(options: SelfSignedCaOptions): CertificateAuthority {
    validateTrustDomain(options.trustDomain);
    const ecdsa = options.ecdsa ?? nobleEcdsaP256;
    const key = options.key ?? ecdsa.generateKey();
    const now = (options.now ?? Date.now)();
    const random = options.randomBytes ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
    const name = organizationName(options.trustDomain);
    const ski = keyIdentifier(key.publicKey);
    const rootTtl = options.rootTtlSeconds ?? 10 * 365 * 24 * HOUR;
    const der = signTbs(
      new TBSCertificate({
        version: Version.v3,
        serialNumber: serialNumber(random),
        signature: ecdsaWithSha256(),
        issuer: name,
        validity: new Validity({
          notBefore: new Date(now - (options.backdateSeconds ?? DEFAULT_BACKDATE_SECONDS) * 1000),
          notAfter: new Date(now + rootTtl * 1000),
        }),
        subject: name,
        subjectPublicKeyInfo: toSpki(key.publicKey),
        extensions: new Extensions([
          extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
          extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
          extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(ski)),
        ]),
      }),
      key,
      ecdsa,
    );
    return new CertificateAuthority(options.trustDomain, key, [parseCertificate(der)], options);
  }

  /** The root certificate (PEM) this CA chains to. */
  get rootPem(): string {
    return this.#chainPem[this.#chainPem.length - 1]!;
  }

  /** The signing key (for persisting a generated root; keep it secret). */
  get signingKey(): P256Key {
    return this.#key;
  }

  /**
   * Every trusted root (PEM): this CA's root first, then additional roots.
   * During root rotation, publish this bundle so workloads trust both.
   */
  trustBundle(): readonly string[] {
    return [...this.#roots];
  }

  /**
   * Adds a root to the trust bundle (root rotation).
   * @throws {IdentityError} when `pem` is not a CA certificate
   */
  addTrustedRoot(pem: string): void {
    const root = parseCertificate(pem);
    if (!root.isCa) configFail('an additional root is not a CA certificate', 'not-ca');
    if (!this.#roots.includes(root.pem)) this.#roots.push(root.pem);
  }

  /**
   * Issues an X.509-SVID for a CSR. Verifies the CSR (structure and proof of
   * possession) and the lifetime before signing; nothing is issued on error.
   * The chain is leaf first, root last; the leaf's notAfter never exceeds
   * the signing certificate's.
   * @throws {IdentityError} `IDENTITY_ERR_TTL_EXCEEDED`, `IDENTITY_ERR_PERMISSION_DENIED` (other trust domain), `IDENTITY_ERR_CA_CONFIG` (signer expired), and the CSR errors of {@link parseCsr} / {@link verifyCsr}
   */
  issue(request: IssueRequest): IssuedCertificate {
    const ttl = request.ttlSeconds ?? this.#defaultTtl;
    if (!Number.isSafeInteger(ttl) || ttl <= 0) {
      throw new IdentityError(
        'IDENTITY_ERR_TTL_EXCEEDED',
        `requested TTL ${ttl} s is not a positive integer`,
        {
          rule: 'ttl-positive',
        },
      );
    }
    if (ttl > this.#maxTtl) {
      throw new IdentityError(
        'IDENTITY_ERR_TTL_EXCEEDED',
        `requested TTL ${ttl} s is over the maximum of ${this.#maxTtl} s`,
        { rule: 'ttl-max' },
      );
    }
    const csr =
      typeof request.csr === 'string' || request.csr instanceof Uint8Array
        ? parseCsr(request.csr, this.#maxCsrBytes)
        : request.csr;
    verifyCsr(csr, this.#ecdsa);
    const identity = request.identity === undefined ? csr.identity : toSpiffeId(request.identity);
    if (identity.trustDomain !== this.trustDomain) {
      throw new IdentityError(
        'IDENTITY_ERR_PERMISSION_DENIED',
        `identity ${identity.uri} is not in this CA's trust domain ${this.trustDomain}`,
        { rule: 'trust-domain' },
      );
    }
    const now = this.#now();
    const signer = this.chain[0]!;
    if (now >= signer.notAfter.getTime()) {
      configFail('the signing certificate has expired', 'signer-expired');
    }
    const notBefore = new Date(Math.max(now - this.#backdate * 1000, signer.notBefore.getTime()));
    const notAfter = new Date(Math.min(now + ttl * 1000, signer.notAfter.getTime()));
    const serial = serialNumber(this.#random);
    // Everything but serial, validity, key, SAN and SKI is the same for every
    // leaf of this CA and goes in with its encoding pinned (see pinEncoding).
    const der = signTbs(
      new TBSCertificate({
        version: Version.v3,
        serialNumber: serial,
        signature: SIGNATURE_ALGORITHM,
        issuer: this.#issuerName,
        validity: this.#leafValidity(notBefore, notAfter),
        subject: EMPTY_NAME,
        subjectPublicKeyInfo: toSpki(csr.publicKey),
        extensions: new Extensions([
          LEAF_BASIC_CONSTRAINTS,
          LEAF_KEY_USAGE,
          LEAF_EXTENDED_KEY_USAGE,
          extension(
            id_ce_subjectAltName,
            true,
            new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: identity.uri })]),
          ),
          extension(
            id_ce_subjectKeyIdentifier,
            false,
            new SubjectKeyIdentifier(keyIdentifier(csr.publicKey)),
          ),
          this.#leafAuthorityKeyId,
        ]),
      }),
      this.#key,
      this.#ecdsa,
    );
    return {
      chain: [encodePem('CERTIFICATE', der), ...this.#chainPem],
      identity,
      serialNumber: Buffer.from(serial).toString('hex'),
      notBefore: new Date(Math.floor(notBefore.getTime() / 1000) * 1000),
      notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000),
    };
  }

  /**
   * The leaf Validity for these times. Its encoding holds whole seconds only
   * (`Time` drops the milliseconds), so every leaf issued within the same
   * second with the same lifetime shares one, encoded once.
   */
  #leafValidity(notBefore: Date, notAfter: Date): Validity {
    const key = {
      notBefore: Math.floor(notBefore.getTime() / 1000),
      notAfter: Math.floor(notAfter.getTime() / 1000),
    };
    const last = this.#lastValidity;
    if (last !== undefined && last.notBefore === key.notBefore && last.notAfter === key.notAfter) {
      return last.value;
    }
    const value = pinEncoding(new Validity({ notBefore, notAfter }));
    this.#lastValidity = { ...key, value };
    return value;
  }

  /**
   * Issues an intermediate CA certificate for `key` under this CA (for
   * building plug-in CA hierarchies and rotation tests). Returns its chain,
   * intermediate first, root last.
   */
  issueIntermediate(key: P256Key, ttlSeconds: number = 365 * 24 * HOUR): readonly string[] {
    const now = this.#now();
    const signer = this.chain[0]!;
    const der = signTbs(
      new TBSCertificate({
        version: Version.v3,
        serialNumber: serialNumber(this.#random),
        signature: ecdsaWithSha256(),
        issuer: this.#issuerName,
        validity: new Validity({
          notBefore: new Date(Math.max(now - this.#backdate * 1000, signer.notBefore.getTime())),
          notAfter: new Date(Math.min(now + ttlSeconds * 1000, signer.notAfter.getTime())),
        }),
        subject: organizationName(
          this.trustDomain,
          `intermediate ${Buffer.from(this.#random(4)).toString('hex')}`,
        ),
        subjectPublicKeyInfo: toSpki(key.publicKey),
        extensions: new Extensions([
          extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
          extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
          extension(
            id_ce_subjectKeyIdentifier,
            false,
            new SubjectKeyIdentifier(keyIdentifier(key.publicKey)),
          ),
          extension(
            id_ce_authorityKeyIdentifier,
            false,
            new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(this.#authorityKeyId) }),
          ),
        ]),
      }),
      this.#key,
      this.#ecdsa,
    );
    return [encodePem('CERTIFICATE', der), ...this.#chainPem];
  }
}

/** The signature algorithm field of every TBS (RFC 5758 §3.2), encoding pinned. */
const SIGNATURE_ALGORITHM = pinEncoding(ecdsaWithSha256());
/** The empty subject of every leaf (the identity is in the URI SAN), encoding pinned. */
const EMPTY_NAME = pinEncoding(new Name());
/** The leaf extensions that never change (SPIFFE X.509-SVID §4), encodings pinned. */
const LEAF_BASIC_CONSTRAINTS = pinEncoding(
  extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
);
const LEAF_KEY_USAGE = pinEncoding(
  extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
);
const LEAF_EXTENDED_KEY_USAGE = pinEncoding(
  extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth])),
);

function configFail(message: string, rule: string): never {
  throw new IdentityError('IDENTITY_ERR_CA_CONFIG', `CA configuration: ${message}`, { rule });
}

function organizationName(trustDomain: string, commonName?: string): Name {
  const rdns = [
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({
        type: ID_AT_ORGANIZATION,
        value: new AttributeValue({ utf8String: trustDomain }),
      }),
    ]),
  ];
  if (commonName !== undefined) {
    rdns.push(
      new RelativeDistinguishedName([
        new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: commonName }) }),
      ]),
    );
  }
  return new Name(rdns);
}

function extension(id: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: id, critical, extnValue: new OctetString(toDer(value)) });
}

/** A positive, minimally encoded 128-bit serial (RFC 5280 §4.1.2.2: ≤ 20 octets, positive). */
function serialNumber(random: (length: number) => Uint8Array): ArrayBuffer {
  const bytes = random(16).slice(0, 16);
  if (bytes.length !== 16) throw new TypeError('randomBytes must return the requested length');
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return toArrayBuffer(bytes);
}

function signTbs(tbs: TBSCertificate, key: P256Key, ecdsa: EcdsaP256): Uint8Array {
  const tbsDer = toDer(tbs);
  const signature = ecdsa.sign(tbsDer, key);
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
  // (RFC 5280 §4.1). The TBS is encoded once by the ASN.1 library and reused
  // as is: re-serialising it through the Certificate class would double the
  // cost of issuance. Only this outer wrapper is assembled here.
  const bitString = concat([
    Uint8Array.of(0x03),
    derLength(signature.length + 1),
    Uint8Array.of(0),
    signature,
  ]);
  const body = concat([tbsDer, ECDSA_WITH_SHA256_DER, bitString]);
  return concat([Uint8Array.of(0x30), derLength(body.length), body]);
}

const ECDSA_WITH_SHA256_DER = toDer(ecdsaWithSha256());

/** DER definite length octets (X.690 §8.1.3). */
function derLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
