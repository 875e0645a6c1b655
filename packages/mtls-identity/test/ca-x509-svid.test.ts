import { X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildCsr,
  CertificateAuthority,
  createTestCa,
  generateKey,
  IdentityError,
  parseCertificate,
  verifyCertificateChain,
} from '../src/index.js';
import { nodeEcdsaP256 } from '../src/node/index.js';
import { hasOpenssl, openssl, scratch } from './helpers.js';

const ID = 'spiffe://cluster.local/ns/default/sa/web';
const tmp = scratch();
afterAll(() => tmp.cleanup());

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(IdentityError);
    return (error as IdentityError).code;
  }
}

const csr = (identity = ID) => buildCsr({ identity, key: generateKey() }).pem;

describe('X.509-SVID issuance (SPIFFE X.509-SVID spec §4-5, RFC 5280)', () => {
  const now = Date.now();
  const ca = CertificateAuthority.createRoot({ trustDomain: 'cluster.local', now: () => now });

  it('issues a leaf with one URI SAN, CA false, digitalSignature, server+client auth, SKI/AKI', () => {
    const issued = ca.issue({ csr: csr() });
    expect(issued.chain).toHaveLength(2);
    const leaf = parseCertificate(issued.chain[0]!);
    const root = parseCertificate(issued.chain[1]!);
    expect(leaf.uris).toEqual([ID]);
    expect(leaf.identity?.uri).toBe(ID);
    expect(leaf.isCa).toBe(false);
    expect(leaf.keyUsage).toBe(1);
    expect(leaf.extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(leaf.subjectKeyId).toBeDefined();
    expect(leaf.authorityKeyId).toEqual(root.subjectKeyId);
    expect(root.isCa).toBe(true);
    // Default TTL 24 h, backdated 60 s for clock skew.
    expect(leaf.notAfter.getTime() - Math.floor(now / 1000) * 1000).toBe(24 * 3600 * 1000);
    expect(Math.floor(now / 1000) * 1000 - leaf.notBefore.getTime()).toBe(60_000);
    expect(verifyCertificateChain(issued.chain, { roots: ca.trustBundle(), now })).toHaveLength(2);
  });

  it('uses random 128-bit positive serials', () => {
    const a = ca.issue({ csr: csr() }).serialNumber;
    const b = ca.issue({ csr: csr() }).serialNumber;
    expect(a).not.toBe(b);
    expect(a).toHaveLength(32);
    expect(Number.parseInt(a.slice(0, 2), 16) & 0x80).toBe(0);
  });

  it('Node X509Certificate parses every certificate', () => {
    const issued = ca.issue({ csr: csr() });
    const leaf = new X509Certificate(issued.chain[0]!);
    const root = new X509Certificate(issued.chain[1]!);
    expect(leaf.subjectAltName).toBe(`URI:${ID}`);
    expect(leaf.ca).toBe(false);
    expect(root.ca).toBe(true);
    expect(leaf.checkIssued(root)).toBe(true);
    expect(leaf.verify(root.publicKey)).toBe(true);
  });

  it.skipIf(!hasOpenssl)(
    'openssl verify accepts the chain; x509 -text shows the URI SAN and CA:FALSE',
    () => {
      const issued = ca.issue({ csr: csr() });
      const rootPath = tmp.write('root.pem', issued.chain[1]!);
      const leafPath = tmp.write('leaf.pem', issued.chain[0]!);
      const verified = openssl([
        'verify',
        '-x509_strict',
        '-purpose',
        'sslclient',
        '-CAfile',
        rootPath,
        leafPath,
      ]);
      expect(verified.output).toContain(': OK');
      expect(
        openssl(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', rootPath, leafPath]).status,
      ).toBe(0);
      const text = openssl(['x509', '-in', leafPath, '-noout', '-text']).output;
      expect(text).toContain(`URI:${ID}`);
      expect(text).toContain('CA:FALSE');
      expect(text).toMatch(/Subject Alternative Name: critical/);
      expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    },
  );

  it('caps TTL: over the maximum is refused, nothing issued; zero/negative too', () => {
    const small = CertificateAuthority.createRoot({
      trustDomain: 'cluster.local',
      maxTtlSeconds: 3600,
      defaultTtlSeconds: 600,
    });
    expect(codeOf(() => small.issue({ csr: csr(), ttlSeconds: 3601 }))).toBe('IDENTITY_ERR_TTL_EXCEEDED');
    expect(codeOf(() => small.issue({ csr: csr(), ttlSeconds: 0 }))).toBe('IDENTITY_ERR_TTL_EXCEEDED');
    expect(codeOf(() => small.issue({ csr: csr(), ttlSeconds: -5 }))).toBe('IDENTITY_ERR_TTL_EXCEEDED');
    const leaf = parseCertificate(small.issue({ csr: csr(), ttlSeconds: 3600 }).chain[0]!);
    expect(leaf.notAfter.getTime() - leaf.notBefore.getTime()).toBe(3660_000);
  });

  it('refuses identities of another trust domain', () => {
    expect(codeOf(() => ca.issue({ csr: csr('spiffe://other.td/ns/a/sa/b') }))).toBe(
      'IDENTITY_ERR_PERMISSION_DENIED',
    );
  });

  it('rewrites the SAN to the approved identity (Istio CA behaviour)', () => {
    const issued = ca.issue({ csr: csr(), identity: 'spiffe://cluster.local/ns/other/sa/approved' });
    expect(parseCertificate(issued.chain[0]!).uris).toEqual(['spiffe://cluster.local/ns/other/sa/approved']);
  });

  it.skipIf(!hasOpenssl)(
    'plug-in CA: an intermediate key and chain; chains are leaf first, root last',
    () => {
      const intermediateKey = generateKey();
      const intermediateChain = ca.issueIntermediate(intermediateKey);
      const plugged = CertificateAuthority.fromKeyAndChain({
        trustDomain: 'cluster.local',
        key: intermediateKey,
        certChain: intermediateChain.join(''),
        ecdsa: nodeEcdsaP256,
      });
      const issued = plugged.issue({ csr: csr() });
      expect(issued.chain).toHaveLength(3);
      expect(issued.chain.slice(1)).toEqual(intermediateChain);
      expect(plugged.rootPem).toBe(ca.rootPem);
      const rootPath = tmp.write('p-root.pem', issued.chain[2]!);
      const untrusted = tmp.write('p-int.pem', issued.chain[1]!);
      const leafPath = tmp.write('p-leaf.pem', issued.chain[0]!);
      expect(
        openssl(['verify', '-x509_strict', '-CAfile', rootPath, '-untrusted', untrusted, leafPath]).output,
      ).toContain(': OK');
      expect(verifyCertificateChain(issued.chain, { roots: [ca.rootPem], now: Date.now() })).toHaveLength(3);
    },
  );

  it('plug-in CA refuses a key that does not match, a leaf as signer, and a broken chain', () => {
    const leafChain = createTestCa().issue('default/web');
    expect(
      codeOf(() =>
        CertificateAuthority.fromKeyAndChain({
          trustDomain: 'cluster.local',
          key: generateKey(),
          certChain: [ca.rootPem],
        }),
      ),
    ).toBe('IDENTITY_ERR_CA_CONFIG');
    expect(
      codeOf(() =>
        CertificateAuthority.fromKeyAndChain({
          trustDomain: 'cluster.local',
          key: leafChain.key,
          certChain: leafChain.chain,
        }),
      ),
    ).toBe('IDENTITY_ERR_CA_CONFIG');
    const intermediateKey = generateKey();
    const [intermediate] = ca.issueIntermediate(intermediateKey);
    const otherRoot = createTestCa().ca.rootPem;
    expect(
      codeOf(() =>
        CertificateAuthority.fromKeyAndChain({
          trustDomain: 'cluster.local',
          key: intermediateKey,
          certChain: [intermediate!, otherRoot],
        }),
      ),
    ).toBe('IDENTITY_ERR_CA_CONFIG');
  });

  it('root rotation: the trust bundle holds old and new roots; both chains verify against it', () => {
    const oldCa = createTestCa();
    const newCa = CertificateAuthority.createRoot({
      trustDomain: 'cluster.local',
      additionalRoots: [oldCa.ca.rootPem],
    });
    const bundle = newCa.trustBundle();
    expect(bundle).toEqual([newCa.rootPem, oldCa.ca.rootPem]);
    const fromOld = oldCa.issue('default/web').chain;
    const fromNew = newCa.issue({ csr: csr() }).chain;
    expect(verifyCertificateChain(fromOld, { roots: bundle, now: Date.now() })).toHaveLength(2);
    expect(verifyCertificateChain(fromNew, { roots: bundle, now: Date.now() })).toHaveLength(2);
    expect(codeOf(() => verifyCertificateChain(fromOld, { roots: [newCa.rootPem], now: Date.now() }))).toBe(
      'IDENTITY_ERR_CERT_INVALID',
    );
  });

  it('chain verification reports expired and not-yet-valid certificates', () => {
    const issued = ca.issue({ csr: csr(), ttlSeconds: 3600 });
    const fail = (at: number) => {
      try {
        verifyCertificateChain(issued.chain, { roots: ca.trustBundle(), now: at });
        return undefined;
      } catch (error) {
        return (error as IdentityError).rule;
      }
    };
    expect(fail(now + 2 * 3600_000)).toBe('expired');
    expect(fail(now - 3600_000)).toBe('not-yet-valid');
    expect(fail(now)).toBeUndefined();
  });

  it('never issues past the signing certificate and refuses once it expired', () => {
    const shortRoot = CertificateAuthority.createRoot({
      trustDomain: 'cluster.local',
      rootTtlSeconds: 7200,
      now: () => now,
    });
    const leaf = parseCertificate(shortRoot.issue({ csr: csr(), ttlSeconds: 86_400 }).chain[0]!);
    expect(leaf.notAfter.getTime()).toBe(parseCertificate(shortRoot.rootPem).notAfter.getTime());
    const later = CertificateAuthority.fromKeyAndChain({
      trustDomain: 'cluster.local',
      key: shortRoot.signingKey,
      certChain: [shortRoot.rootPem],
      now: () => now + 3 * 3600_000,
    });
    expect(codeOf(() => later.issue({ csr: csr() }))).toBe('IDENTITY_ERR_CA_CONFIG');
  });

  it('node:crypto and noble CAs produce certificates the other verifies', () => {
    const fast = CertificateAuthority.createRoot({ trustDomain: 'cluster.local', ecdsa: nodeEcdsaP256 });
    const issued = fast.issue({ csr: csr() });
    expect(verifyCertificateChain(issued.chain, { roots: fast.trustBundle(), now: Date.now() })).toHaveLength(
      2,
    );
  });
});
