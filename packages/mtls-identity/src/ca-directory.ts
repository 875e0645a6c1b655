/**
 * Istio's CA directory layouts (plug-in `cacerts`, self-signed
 * `istio-ca-secret`) read into a {@link CertificateAuthority}, pure.
 */
import { equalBytes } from './asn1.js';
import { CertificateAuthority } from './ca.js';
import { type CertificateInfo, parseCertificateChain } from './certificate.js';
import { IdentityError } from './errors.js';
import { type EcdsaP256, importPrivateKey, type P256Key } from './keys.js';

/**
 * Why a CA directory was refused (the `rule` of its
 * `IDENTITY_ERR_CA_CONFIG` error): `incomplete` (a file of the pair is
 * missing), `unreadable`, `bad-key` / `bad-cert` (not a P-256 key / ECDSA
 * P-256 certificate in PEM), `key-mismatch`, `not-ca`, `expired`,
 * `not-yet-valid`, `chain` (the chain does not link up), `untrusted-root`
 * (the chain ends at a root not in `root-cert.pem`), `write-failed`.
 */
export type CaDirectoryProblem =
  | 'incomplete'
  | 'unreadable'
  | 'bad-key'
  | 'bad-cert'
  | 'key-mismatch'
  | 'not-ca'
  | 'expired'
  | 'not-yet-valid'
  | 'chain'
  | 'untrusted-root'
  | 'write-failed';

/**
 * File names of a CA directory: Istio's plug-in CA layout (the `cacerts`
 * secret: `ca-cert.pem`, `ca-key.pem`, `root-cert.pem`, `cert-chain.pem`),
 * whose first two also make up Istio's self-signed `istio-ca-secret`.
 */
export const CA_DIRECTORY_FILES = {
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  rootCert: 'root-cert.pem',
  certChain: 'cert-chain.pem',
} as const;

/** The text of each CA directory file that exists (and is not empty). */
export interface CaDirectoryFiles {
  readonly caCert?: string | undefined;
  readonly caKey?: string | undefined;
  readonly rootCert?: string | undefined;
  readonly certChain?: string | undefined;
}

/** Options of {@link caFromDirectoryFiles} (and `openCaDirectory` in `./node`). */
export interface CaDirectoryOptions {
  readonly trustDomain: string;
  readonly ecdsa?: EcdsaP256;
  /** Clock in ms since the epoch (validity checks). Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * What a CA directory held: an intermediate plugged in by the operator, a
 * self-signed root kept from an earlier start, or nothing (a root must be
 * created).
 */
export type CaDirectoryContents =
  | { readonly kind: 'plug-in'; readonly ca: CertificateAuthority }
  | { readonly kind: 'self-signed'; readonly ca: CertificateAuthority }
  | { readonly kind: 'empty' };

/** How `openCaDirectory` (in `./node`) got its CA. */
export type OpenedCa =
  | { readonly kind: 'plug-in'; readonly ca: CertificateAuthority }
  | { readonly kind: 'self-signed'; readonly ca: CertificateAuthority; readonly created: boolean };

/**
 * Throws the `IDENTITY_ERR_CA_CONFIG` error of a refused CA directory.
 * @internal
 */
export const failCaDirectory = (reason: CaDirectoryProblem, message: string, cause?: unknown): never => {
  throw new IdentityError('IDENTITY_ERR_CA_CONFIG', `CA directory: ${message}`, {
    rule: reason,
    ...(cause === undefined ? {} : { cause }),
  });
};
const fail = failCaDirectory;

const F = CA_DIRECTORY_FILES;

/**
 * Builds the CA out of a CA directory's files (pure: no I/O).
 *
 * - `root-cert.pem` present → plug-in CA (Istio's `cacerts`): signs with
 *   `ca-key.pem` / `ca-cert.pem`; the chain handed out is `cert-chain.pem`
 *   (ca-cert first; ca-cert is put in front when missing, the root from
 *   `root-cert.pem` appended when missing) and must end at a root listed in
 *   `root-cert.pem`; every root there is trusted.
 * - only `ca-cert.pem` + `ca-key.pem` → a self-signed root (Istio's
 *   `istio-ca-secret`).
 * - nothing → `empty`.
 *
 * An `EC PARAMETERS` block in front of the key (what `openssl ecparam
 * -genkey` writes without `-noout`) is skipped.
 * @throws {IdentityError} `IDENTITY_ERR_CA_CONFIG` whose `rule` is a {@link CaDirectoryProblem}
 */
export function caFromDirectoryFiles(
  files: CaDirectoryFiles,
  options: CaDirectoryOptions,
): CaDirectoryContents {
  const present = (text: string | undefined): text is string => text !== undefined && text.trim() !== '';
  const { caCert, caKey, rootCert, certChain } = files;
  if (!present(caCert) && !present(caKey) && !present(rootCert) && !present(certChain))
    return { kind: 'empty' };
  if (!present(caCert) || !present(caKey)) {
    return fail(
      'incomplete',
      `${present(caCert) ? F.caKey : F.caCert} is missing (${F.caCert} and ${F.caKey} go together; with ${F.rootCert} they are a plug-in CA)`,
    );
  }
  if (!present(rootCert) && present(certChain)) {
    return fail('incomplete', `${F.certChain} is present but ${F.rootCert} is missing`);
  }
  const now = (options.now ?? Date.now)();
  const key = parseKey(caKey);
  const signer = parseCerts(caCert, F.caCert);
  if (signer.length !== 1) fail('bad-cert', `${F.caCert} must hold one certificate, found ${signer.length}`);
  const signing = signer[0]!;
  const caOptions = { trustDomain: options.trustDomain, key, ...(options.now ? { now: options.now } : {}) };
  const withEcdsa = options.ecdsa ? { ecdsa: options.ecdsa } : {};

  if (!present(rootCert)) {
    if (!selfIssued(signing)) {
      fail(
        'incomplete',
        `${F.caCert} is not a self-signed root; an intermediate needs ${F.rootCert} (and ${F.certChain})`,
      );
    }
    checkValidity([signing], now, F.caCert);
    return {
      kind: 'self-signed',
      ca: build(() =>
        CertificateAuthority.fromKeyAndChain({ ...caOptions, ...withEcdsa, certChain: [signing.pem] }),
      ),
    };
  }

  const roots = parseCerts(rootCert, F.rootCert);
  const chain = present(certChain) ? parseCerts(certChain, F.certChain) : [signing];
  if (!sameCert(chain[0]!, signing)) chain.unshift(signing);
  const last = chain[chain.length - 1]!;
  if (!selfIssued(last)) {
    const issuer = roots.find((r) => equalBytes(r.subjectDer, last.issuerDer));
    if (!issuer) {
      fail('untrusted-root', `no certificate of ${F.rootCert} issued the last certificate of the chain`);
    }
    chain.push(issuer!);
  }
  const root = chain[chain.length - 1]!;
  if (!roots.some((r) => sameCert(r, root))) {
    fail('untrusted-root', `the chain ends at a root that ${F.rootCert} does not list`);
  }
  checkValidity(chain, now, `${F.certChain} / ${F.caCert}`);
  const additionalRoots = roots.filter((r) => !sameCert(r, root)).map((r) => r.pem);
  return {
    kind: 'plug-in',
    ca: build(() =>
      CertificateAuthority.fromKeyAndChain({
        ...caOptions,
        ...withEcdsa,
        certChain: chain.map((c) => c.pem),
        additionalRoots,
      }),
    ),
  };
}

function parseKey(text: string): P256Key {
  // `openssl ecparam -genkey` writes the curve as an `EC PARAMETERS` block before the key.
  const withoutParameters = text.replace(
    /-----BEGIN EC PARAMETERS-----[\s\S]*?-----END EC PARAMETERS-----\s*/g,
    '',
  );
  try {
    return importPrivateKey(withoutParameters);
  } catch (cause) {
    return fail(
      'bad-key',
      `${F.caKey} is not a P-256 private key in PEM (PKCS#8 or SEC 1): ${(cause as Error).message}`,
      cause,
    );
  }
}

function parseCerts(text: string, file: string): CertificateInfo[] {
  try {
    return parseCertificateChain(text);
  } catch (cause) {
    return fail(
      'bad-cert',
      `${file} does not hold ECDSA P-256 certificates in PEM: ${(cause as Error).message}`,
      cause,
    );
  }
}

function checkValidity(chain: readonly CertificateInfo[], now: number, file: string): void {
  for (const cert of chain) {
    if (now >= cert.notAfter.getTime()) {
      fail(
        'expired',
        `a certificate of ${file} (serial ${cert.serialNumber}) expired at ${cert.notAfter.toISOString()}`,
      );
    }
    if (now < cert.notBefore.getTime()) {
      fail(
        'not-yet-valid',
        `a certificate of ${file} (serial ${cert.serialNumber}) is not valid before ${cert.notBefore.toISOString()}`,
      );
    }
  }
}

/** Maps the CA's own configuration rules to the directory's reasons. */
function build(make: () => CertificateAuthority): CertificateAuthority {
  try {
    return make();
  } catch (cause) {
    if (!(cause instanceof IdentityError)) throw cause;
    const reasons: Record<string, CaDirectoryProblem> = {
      'key-mismatch': 'key-mismatch',
      'not-ca': 'not-ca',
      'chain-order': 'chain',
      root: 'chain',
    };
    const detail =
      cause.rule === 'key-mismatch'
        ? `${F.caKey} does not match ${F.caCert}`
        : cause.rule === 'not-ca'
          ? `${F.caCert} is not a CA certificate (basicConstraints CA:TRUE and keyUsage keyCertSign are required)`
          : cause.message;
    return fail(reasons[cause.rule ?? ''] ?? 'bad-cert', detail, cause);
  }
}

function selfIssued(cert: CertificateInfo): boolean {
  return equalBytes(cert.subjectDer, cert.issuerDer);
}

function sameCert(a: CertificateInfo, b: CertificateInfo): boolean {
  return equalBytes(a.der, b.der);
}
