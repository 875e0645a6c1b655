import { CertificateAuthority, type CertificateAuthorityCommonOptions } from './ca.js';
import { parseCertificate } from './certificate.js';
import type { CaClient, WorkloadCertificate } from './certificate-manager.js';
import { buildCsr } from './csr.js';
import { type EcdsaP256, exportPrivateKeyPem, nobleEcdsaP256 } from './keys.js';
import { type SpiffeId, toSpiffeId } from './spiffe-id.js';

/**
 * A {@link CaClient} that calls a {@link CertificateAuthority} in the same
 * process (no network): for tests, and for a control plane that also runs
 * its own node agent. The CA issues for the requested identity, so only use
 * it where the caller is trusted.
 */
export function inProcessCaClient(ca: CertificateAuthority): CaClient {
  return {
    async createCertificate(request) {
      return ca.issue({ csr: request.csrPem, identity: request.identity, ttlSeconds: request.ttlSeconds })
        .chain;
    },
  };
}

/** What {@link createTestCa} returns. */
export interface TestCa {
  readonly ca: CertificateAuthority;
  /** The trust bundle (PEM roots). */
  readonly roots: readonly string[];
  /** Mints a key and certificate for `identity` (`ns/sa` or a full SPIFFE ID). */
  issue(identity: SpiffeId | string, options?: { readonly ttlSeconds?: number }): WorkloadCertificate;
  /** A {@link CaClient} backed by this CA. */
  readonly client: CaClient;
}

/**
 * A real self-signed CA for tests elsewhere in the mesh: mint identities in
 * one line. It is the production CA code with a fresh root.
 * @example
 * ```ts
 * const testCa = createTestCa();
 * const web = testCa.issue('default/web'); // spiffe://cluster.local/ns/default/sa/web
 * ```
 */
export function createTestCa(
  options: CertificateAuthorityCommonOptions & { readonly trustDomain?: string } = {},
): TestCa {
  const trustDomain = options.trustDomain ?? 'cluster.local';
  const ca = CertificateAuthority.createRoot({ ...options, trustDomain });
  const ecdsa: EcdsaP256 = options.ecdsa ?? nobleEcdsaP256;
  return {
    ca,
    roots: ca.trustBundle(),
    client: inProcessCaClient(ca),
    issue(identity, issueOptions = {}) {
      const id =
        typeof identity === 'string' && !identity.startsWith('spiffe://')
          ? toSpiffeId(`spiffe://${trustDomain}/ns/${identity.split('/')[0]}/sa/${identity.split('/')[1]}`)
          : toSpiffeId(identity);
      const key = ecdsa.generateKey();
      const csr = buildCsr({ identity: id, key, ecdsa });
      const issued = ca.issue({
        csr: csr.der,
        ...(issueOptions.ttlSeconds === undefined ? {} : { ttlSeconds: issueOptions.ttlSeconds }),
      });
      const leaf = parseCertificate(issued.chain[0]!);
      return {
        identity: id,
        key,
        privateKeyPem: exportPrivateKeyPem(key),
        chain: issued.chain,
        roots: ca.trustBundle(),
        leaf,
        notBefore: leaf.notBefore,
        notAfter: leaf.notAfter,
      };
    },
  };
}
