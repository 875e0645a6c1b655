import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  Certificate,
  Extension,
  Extensions,
  Name,
  TBSCertificate,
  Validity,
} from '@peculiar/asn1-x509';
import { afterAll, describe, expect, it } from 'vitest';
import { pinEncoding, toDer } from '../src/asn1.js';
import {
  buildCsr,
  CertificateAuthority,
  decodePem,
  generateKey,
  IdentityError,
  parseCertificate,
  parseCsr,
} from '../src/index.js';
import { nodeEcdsaP256 } from '../src/node/index.js';
import { hasOpenssl, openssl, scratch } from './helpers.js';

const TRUST_DOMAIN = 'cluster.local';
const ID = `spiffe://${TRUST_DOMAIN}/ns/default/sa/web`;
const tmp = scratch();
afterAll(() => tmp.cleanup());

const hex = (bytes: ArrayBuffer | Uint8Array) =>
  Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');
const leafDer = (pem: string) => decodePem(pem, ['CERTIFICATE']).der;

/**
 * Decodes a certificate with the ASN.1 library into fresh objects and
 * encodes its TBS again: what the library alone makes of the same content.
 */
function libraryTbs(der: Uint8Array): { encoded: string; signed: string } {
  const cert = AsnConvert.parse(der, Certificate);
  return {
    encoded: hex(AsnConvert.serialize(new TBSCertificate({ ...cert.tbsCertificate }))),
    signed: hex(cert.tbsCertificateRaw!),
  };
}

describe('pinned encodings (constant parts of a certificate encoded once by the ASN.1 library)', () => {
  it('a pinned object encodes as before, alone and inside another structure; it stays readable and frozen', () => {
    const fresh = () => new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
    const before = hex(toDer(fresh()));
    const pinned = pinEncoding(fresh());
    expect(hex(toDer(pinned))).toBe(before);
    expect(pinned.algorithm).toBe('1.2.840.10045.4.3.2');
    expect(Object.isFrozen(pinned)).toBe(true);
    const inside = (signature: AlgorithmIdentifier) =>
      hex(toDer(new TBSCertificate({ serialNumber: Uint8Array.of(1).buffer, signature })));
    expect(inside(pinned)).toBe(inside(fresh()));
  });

  it('pins SEQUENCE, SET-based names, empty names and explicit-tagged structures byte for byte', () => {
    const root = CertificateAuthority.createRoot({ trustDomain: TRUST_DOMAIN });
    const tbs = AsnConvert.parse(leafDer(root.rootPem), Certificate).tbsCertificate;
    for (const value of [tbs.issuer, new Name(), tbs.validity, tbs.extensions!, tbs.extensions![0]!]) {
      const before = hex(toDer(value));
      expect(hex(toDer(pinEncoding(value)))).toBe(before);
    }
  });

  it('a pinned object is encode-only: decoding into its structure is refused', () => {
    const pinned = pinEncoding(new Extensions([new Extension({ extnID: '2.5.29.19', critical: true })]));
    expect(() => (pinned as unknown as { fromASN(x: unknown): unknown }).fromASN({})).toThrow(TypeError);
  });
});

describe('leaf certificates are the bytes the ASN.1 library makes of them (RFC 5280 §4.1, X.690 DER)', () => {
  it('the signed TBS of a leaf equals the library encoding of its content, with each ECDSA provider', () => {
    for (const ecdsa of [nodeEcdsaP256, undefined]) {
      const ca = CertificateAuthority.createRoot({ trustDomain: TRUST_DOMAIN, ...(ecdsa ? { ecdsa } : {}) });
      for (let i = 0; i < 3; i++) {
        const { chain } = ca.issue({ csr: buildCsr({ identity: `${ID}-${i}`, key: generateKey() }).pem });
        const { encoded, signed } = libraryTbs(leafDer(chain[0]!));
        expect(signed).toBe(encoded);
        expect(parseCertificate(chain[0]!).identity?.uri).toBe(`${ID}-${i}`);
      }
    }
  });

  it('an intermediate CA issues leaves whose issuer is the intermediate subject, encoded as the library does', () => {
    const root = CertificateAuthority.createRoot({ trustDomain: TRUST_DOMAIN });
    const key = generateKey();
    const intermediate = CertificateAuthority.fromKeyAndChain({
      trustDomain: TRUST_DOMAIN,
      key,
      certChain: root.issueIntermediate(key),
    });
    const { chain } = intermediate.issue({ csr: buildCsr({ identity: ID, key: generateKey() }).pem });
    const leaf = parseCertificate(chain[0]!);
    expect(hex(leaf.issuerDer)).toBe(hex(parseCertificate(chain[1]!).subjectDer));
    const { encoded, signed } = libraryTbs(leaf.der);
    expect(signed).toBe(encoded);
  });

  it.skipIf(!hasOpenssl)('openssl verify accepts leaves issued back to back (pinned parts reused)', () => {
    const ca = CertificateAuthority.createRoot({ trustDomain: TRUST_DOMAIN, ecdsa: nodeEcdsaP256 });
    const rootPath = tmp.write('root.pem', ca.rootPem);
    for (let i = 0; i < 3; i++) {
      const { chain } = ca.issue({ csr: buildCsr({ identity: `${ID}-${i}`, key: generateKey() }).pem });
      const leafPath = tmp.write(`leaf-${i}.pem`, chain[0]!);
      const result = openssl(['verify', '-x509_strict', '-CAfile', rootPath, leafPath]);
      expect(result.output).toContain(': OK');
      expect(result.status).toBe(0);
      expect(openssl(['x509', '-in', leafPath, '-noout', '-ext', 'subjectAltName']).output).toContain(
        `URI:${ID}-${i}`,
      );
    }
  });
});

describe('leaf validity (RFC 5280 §4.1.2.5: whole seconds) is shared only by leaves with the same times', () => {
  const seconds = (date: Date) => date.getTime() / 1000;

  it('same second and lifetime: same validity; a later second or another lifetime: its own', () => {
    let now = Date.UTC(2026, 10, 25, 11, 0, 0, 0);
    const ca = CertificateAuthority.createRoot({ trustDomain: TRUST_DOMAIN, now: () => now });
    now = Date.UTC(2026, 10, 25, 12, 0, 0, 100);
    const issue = (ttlSeconds?: number) => {
      const { chain } = ca.issue({
        csr: buildCsr({ identity: ID, key: generateKey() }).pem,
        ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
      });
      return parseCertificate(chain[0]!);
    };
    const first = issue();
    now += 800; // still the same second
    const sameSecond = issue();
    expect(seconds(sameSecond.notBefore)).toBe(seconds(first.notBefore));
    expect(seconds(sameSecond.notAfter)).toBe(seconds(first.notAfter));
    const otherTtl = issue(3600);
    expect(seconds(otherTtl.notBefore)).toBe(seconds(first.notBefore));
    expect(seconds(otherTtl.notAfter)).toBe(seconds(first.notBefore) + 60 + 3600);
    now += 200; // the next second
    const nextSecond = issue();
    expect(seconds(nextSecond.notBefore)).toBe(seconds(first.notBefore) + 1);
    expect(seconds(nextSecond.notAfter)).toBe(seconds(first.notAfter) + 1);
    now -= 5000; // a clock that steps back is honoured too
    const earlier = issue();
    expect(seconds(earlier.notBefore)).toBe(seconds(first.notBefore) - 4);
    for (const leaf of [first, sameSecond, otherTtl, nextSecond, earlier]) {
      const { encoded, signed } = libraryTbs(leaf.der);
      expect(signed).toBe(encoded);
    }
  });

  it('the validity of a leaf matches what issue() reports', () => {
    const now = Date.UTC(2026, 10, 25, 12, 0, 0, 999);
    const ca = CertificateAuthority.createRoot({ trustDomain: TRUST_DOMAIN, now: () => now });
    const issued = ca.issue({ csr: buildCsr({ identity: ID, key: generateKey() }).pem, ttlSeconds: 600 });
    const leaf = parseCertificate(issued.chain[0]!);
    expect(leaf.notBefore.getTime()).toBe(issued.notBefore.getTime());
    expect(leaf.notAfter.getTime()).toBe(issued.notAfter.getTime());
  });
});

describe('CSR decoding: decoded once, extensionRequest mapped from that decode (RFC 2986 §4, RFC 2985 §5.4.2)', () => {
  const ca = CertificateAuthority.createRoot({ trustDomain: TRUST_DOMAIN });

  it.skipIf(!hasOpenssl)(
    'a CSR with another attribute next to extensionRequest (challengePassword) is accepted',
    () => {
      const keyPath = tmp.write('key.pem', '');
      expect(
        openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath])
          .status,
      ).toBe(0);
      const config = tmp.write(
        'req.cnf',
        [
          '[req]',
          'distinguished_name = dn',
          'attributes = attrs',
          'prompt = no',
          '[dn]',
          'O = ignored by the CA',
          '[attrs]',
          'challengePassword = secret-1234',
          '',
        ].join('\n'),
      );
      const result = openssl([
        'req',
        '-new',
        '-key',
        keyPath,
        '-config',
        config,
        '-addext',
        `subjectAltName=critical,URI:${ID}`,
      ]);
      expect(result.status).toBe(0);
      const pem = result.output.slice(result.output.indexOf('-----BEGIN'));
      expect(openssl(['req', '-noout', '-text'], pem).output).toContain('challengePassword');
      expect(parseCsr(pem).identity.uri).toBe(ID);
      expect(parseCertificate(ca.issue({ csr: pem }).chain[0]!).identity?.uri).toBe(ID);
    },
  );

  it('an extensionRequest value that is not Extensions is a typed DER error, nothing issued', () => {
    const good = buildCsr({ identity: ID, key: generateKey() }).der;
    // The extensionRequest value is the SEQUENCE OF Extension right after the
    // attribute's OID and SET header; turn its tag into an INTEGER (same length).
    const oid = Buffer.from('06092a864886f70d01090e', 'hex');
    const at = Buffer.from(good).indexOf(oid) + oid.length + 2;
    expect(good[at]).toBe(0x30);
    const bad = good.slice();
    bad[at] = 0x02;
    let caught: unknown;
    try {
      ca.issue({ csr: bad });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(IdentityError);
    expect((caught as IdentityError).code).toBe('IDENTITY_ERR_DER_INVALID');
  });

  it('decoding a CSR leaves the caller input untouched and its parts independent of it', () => {
    const der = buildCsr({ identity: ID, key: generateKey() }).der;
    const copy = der.slice();
    const parsed = parseCsr(der);
    expect(hex(der)).toBe(hex(copy));
    const info = hex(parsed.infoDer);
    der.fill(0);
    expect(hex(parsed.infoDer)).toBe(info);
    expect(parsed.identity.uri).toBe(ID);
  });
});

describe('Validity pins by value', () => {
  it('two Validity objects with the same seconds encode identically', () => {
    const a = new Validity({ notBefore: new Date(1_000_000_000_100), notAfter: new Date(1_000_000_360_900) });
    const b = new Validity({ notBefore: new Date(1_000_000_000_900), notAfter: new Date(1_000_000_360_000) });
    expect(hex(toDer(pinEncoding(a)))).toBe(hex(toDer(b)));
  });
});
