import { p256 } from '@noble/curves/nist.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { ECParameters, ECPrivateKey, id_ecPublicKey, id_secp256r1 } from '@peculiar/asn1-ecc';
import { PrivateKeyInfo } from '@peculiar/asn1-pkcs8';
import { OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { decodeAsn1, equalBytes, parseDer, pinEncoding, toArrayBuffer, toDer } from './asn1.js';
import { DEFAULT_MAX_INPUT_BYTES, IdentityError } from './errors.js';
import { decodePem, encodePem } from './pem.js';

/**
 * An ECDSA P-256 key pair. `secretKey` is the 32-byte scalar; `publicKey` the
 * 65-byte uncompressed SEC1 point. The private key never leaves the node.
 */
export interface P256Key {
  readonly algorithm: 'ecdsa-p256';
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/**
 * ECDSA P-256 with SHA-256: the one signature algorithm of Istio identities.
 * The default is {@link nobleEcdsaP256} (pure JS, `@noble/curves`);
 * `@amesh/mtls-identity/node` offers an OpenSSL-backed one that is faster.
 * Implementations must agree byte for byte on inputs and on DER signatures.
 */
export interface EcdsaP256 {
  /** A name for logs and benchmarks. */
  readonly name: string;
  /** Generates a fresh key pair from a CSPRNG. */
  generateKey(): P256Key;
  /** Signs SHA-256(`data`); returns a DER `Ecdsa-Sig-Value` (RFC 5480 / RFC 3279 §2.2.3). */
  sign(data: Uint8Array, key: P256Key): Uint8Array;
  /** Verifies a DER signature over SHA-256(`data`) with an uncompressed public point; high-S accepted (OpenSSL signs without normalising). */
  verify(data: Uint8Array, signatureDer: Uint8Array, publicKey: Uint8Array): boolean;
}

/** ECDSA P-256 on `@noble/curves`: pure, no I/O, runs anywhere. */
export const nobleEcdsaP256: EcdsaP256 = {
  name: 'noble',
  generateKey(): P256Key {
    const { secretKey } = p256.keygen();
    return { algorithm: 'ecdsa-p256', secretKey, publicKey: p256.getPublicKey(secretKey, false) };
  },
  sign(data, key) {
    return p256.sign(data, key.secretKey, { format: 'der', lowS: false });
  },
  verify(data, signatureDer, publicKey) {
    try {
      return p256.verify(signatureDer, data, publicKey, { format: 'der', lowS: false });
    } catch {
      return false;
    }
  },
};

/**
 * Generates an ECDSA P-256 key pair.
 * @example
 * ```ts
 * const key = generateKey();
 * const pem = exportPrivateKeyPem(key);
 * ```
 */
export function generateKey(ecdsa: EcdsaP256 = nobleEcdsaP256): P256Key {
  return ecdsa.generateKey();
}

/**
 * Builds a key from a 32-byte secret scalar (validating the range).
 * @throws {IdentityError} `IDENTITY_ERR_KEY_INVALID`
 */
export function keyFromSecret(secretKey: Uint8Array): P256Key {
  if (secretKey.length !== 32 || !p256.utils.isValidSecretKey(secretKey)) {
    throw new IdentityError(
      'IDENTITY_ERR_KEY_INVALID',
      'P-256 secret key must be a 32-byte scalar in [1, n-1]',
      {
        rule: 'secret-range',
      },
    );
  }
  return {
    algorithm: 'ecdsa-p256',
    secretKey: secretKey.slice(),
    publicKey: p256.getPublicKey(secretKey, false),
  };
}

const P256_PARAMETERS_DER = toDer(new ECParameters({ namedCurve: id_secp256r1 }));
const P256_PARAMETERS = toArrayBuffer(P256_PARAMETERS_DER);

function checkP256Algorithm(algorithm: AlgorithmIdentifier, what: string): void {
  if (algorithm.algorithm !== id_ecPublicKey) {
    throw new IdentityError(
      'IDENTITY_ERR_UNSUPPORTED_ALGORITHM',
      `${what} uses algorithm ${algorithm.algorithm}; only EC (1.2.840.10045.2.1) on P-256 is supported`,
      { rule: 'key-algorithm' },
    );
  }
  const parameters = algorithm.parameters;
  // The one encoding a P-256 key carries in practice (DER of namedCurve
  // secp256r1) needs no decoding; anything else is decoded and checked.
  if (parameters && equalBytes(new Uint8Array(parameters), P256_PARAMETERS_DER)) return;
  let curve: string | undefined;
  try {
    curve = parameters ? decodeAsn1(parameters, ECParameters).namedCurve : undefined;
  } catch (cause) {
    throw new IdentityError('IDENTITY_ERR_DER_INVALID', `${what} has malformed EC parameters`, { cause });
  }
  if (curve !== id_secp256r1) {
    throw new IdentityError(
      'IDENTITY_ERR_UNSUPPORTED_ALGORITHM',
      `${what} is on curve ${curve ?? '(explicit or missing parameters)'}; only P-256 (1.2.840.10045.3.1.7) is supported`,
      { rule: 'curve' },
    );
  }
}

/** Checks that `point` is an uncompressed P-256 point on the curve. @internal */
export function checkPublicPoint(point: Uint8Array, what: string): Uint8Array {
  if (point.length !== 65 || point[0] !== 0x04 || !p256.utils.isValidPublicKey(point, false)) {
    throw new IdentityError(
      'IDENTITY_ERR_KEY_INVALID',
      `${what} is not an uncompressed P-256 point on the curve`,
      {
        rule: 'public-point',
      },
    );
  }
  return point;
}

/** id-ecPublicKey on namedCurve P-256 (RFC 5480 §2.1.1), encoding pinned: the same in every key. */
const P256_KEY_ALGORITHM = pinEncoding(
  new AlgorithmIdentifier({ algorithm: id_ecPublicKey, parameters: P256_PARAMETERS }),
);

/** Encodes a public point as a `SubjectPublicKeyInfo` structure. @internal */
export function toSpki(publicKey: Uint8Array): SubjectPublicKeyInfo {
  return new SubjectPublicKeyInfo({
    algorithm: P256_KEY_ALGORITHM,
    subjectPublicKey: toArrayBuffer(publicKey),
  });
}

/**
 * Reads the P-256 point out of a `SubjectPublicKeyInfo`.
 * @throws {IdentityError} `IDENTITY_ERR_UNSUPPORTED_ALGORITHM` for other algorithms or curves, `IDENTITY_ERR_KEY_INVALID`
 * @internal
 */
export function fromSpki(spki: SubjectPublicKeyInfo, what: string): Uint8Array {
  checkP256Algorithm(spki.algorithm, what);
  return checkPublicPoint(new Uint8Array(spki.subjectPublicKey), `${what} public key`);
}

/** DER `SubjectPublicKeyInfo` of a public point (RFC 5480). */
export function exportPublicKeyDer(publicKey: Uint8Array): Uint8Array {
  return toDer(toSpki(checkPublicPoint(publicKey, 'public key')));
}

/** PEM `PUBLIC KEY` of a public point. */
export function exportPublicKeyPem(publicKey: Uint8Array): string {
  return encodePem('PUBLIC KEY', exportPublicKeyDer(publicKey));
}

/**
 * Reads a `PUBLIC KEY` PEM or SPKI DER.
 * @throws {IdentityError} `IDENTITY_ERR_PEM_INVALID`, `IDENTITY_ERR_DER_INVALID`, `IDENTITY_ERR_UNSUPPORTED_ALGORITHM`, `IDENTITY_ERR_KEY_INVALID`
 */
export function importPublicKey(input: string | Uint8Array): Uint8Array {
  const der = typeof input === 'string' ? decodePem(input, ['PUBLIC KEY']).der : input;
  return fromSpki(parseDer(der, SubjectPublicKeyInfo, 'public key'), 'public key');
}

/** DER PKCS#8 `PrivateKeyInfo` of a key (RFC 5208 / RFC 5915; what OpenSSL and Node write). */
export function exportPrivateKeyDer(key: P256Key): Uint8Array {
  const ecPrivateKey = new ECPrivateKey({
    version: 1,
    privateKey: new OctetString(key.secretKey),
    publicKey: toArrayBuffer(key.publicKey),
  });
  return toDer(
    new PrivateKeyInfo({
      version: 0,
      privateKeyAlgorithm: new AlgorithmIdentifier({
        algorithm: id_ecPublicKey,
        parameters: P256_PARAMETERS,
      }),
      privateKey: new OctetString(toDer(ecPrivateKey)),
    }),
  );
}

/** PEM `PRIVATE KEY` (PKCS#8) of a key. */
export function exportPrivateKeyPem(key: P256Key): string {
  return encodePem('PRIVATE KEY', exportPrivateKeyDer(key));
}

function fromEcPrivateKey(ec: ECPrivateKey, what: string): P256Key {
  if (ec.version !== 1) {
    throw new IdentityError('IDENTITY_ERR_KEY_INVALID', `${what}: ECPrivateKey version must be 1`, {
      rule: 'version',
    });
  }
  if (ec.parameters && ec.parameters.namedCurve !== id_secp256r1) {
    throw new IdentityError('IDENTITY_ERR_UNSUPPORTED_ALGORITHM', `${what} is not on P-256`, {
      rule: 'curve',
    });
  }
  const secret = new Uint8Array(ec.privateKey.buffer);
  const key = keyFromSecret(secret);
  if (ec.publicKey && !equalBytes(new Uint8Array(ec.publicKey), key.publicKey)) {
    throw new IdentityError(
      'IDENTITY_ERR_KEY_INVALID',
      `${what}: embedded public key does not match the secret`,
      {
        rule: 'public-mismatch',
      },
    );
  }
  return key;
}

/**
 * Reads a P-256 private key: PEM `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY`
 * (SEC 1, what `openssl ecparam -genkey` writes), or PKCS#8 DER.
 * @throws {IdentityError} `IDENTITY_ERR_PEM_INVALID`, `IDENTITY_ERR_DER_INVALID`, `IDENTITY_ERR_UNSUPPORTED_ALGORITHM`, `IDENTITY_ERR_KEY_INVALID`, `IDENTITY_ERR_INPUT_TOO_LARGE`
 * @example
 * ```ts
 * const key = importPrivateKey(exportPrivateKeyPem(generateKey()));
 * ```
 */
export function importPrivateKey(
  input: string | Uint8Array,
  maxBytes: number = DEFAULT_MAX_INPUT_BYTES,
): P256Key {
  if (typeof input === 'string') {
    const block = decodePem(input, ['PRIVATE KEY', 'EC PRIVATE KEY'], maxBytes);
    if (block.label === 'EC PRIVATE KEY') {
      const ec = parseDer(block.der, ECPrivateKey, 'EC private key');
      if (!ec.parameters) {
        throw new IdentityError('IDENTITY_ERR_KEY_INVALID', 'SEC 1 EC private key names no curve', {
          rule: 'curve',
        });
      }
      return fromEcPrivateKey(ec, 'EC private key');
    }
    input = block.der;
  }
  const info = parseDer(input, PrivateKeyInfo, 'PKCS#8 private key');
  checkP256Algorithm(info.privateKeyAlgorithm, 'private key');
  let ec: ECPrivateKey;
  try {
    ec = decodeAsn1(info.privateKey.buffer, ECPrivateKey);
  } catch (cause) {
    throw new IdentityError('IDENTITY_ERR_DER_INVALID', 'PKCS#8 private key holds no valid ECPrivateKey', {
      cause,
    });
  }
  return fromEcPrivateKey(ec, 'private key');
}

/**
 * The key identifier of a public key: SHA-1 of the public key bits (RFC 5280
 * §4.2.1.2, method 1), as used for SKI/AKI.
 */
export function keyIdentifier(publicKey: Uint8Array): Uint8Array {
  return sha1(publicKey);
}
