import { afterAll, describe, expect, it } from 'vitest';
import { OctetString } from '@peculiar/asn1-schema';
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import {
  Attribute,
  Extension,
  Extensions,
  GeneralName,
  id_ce_subjectAltName,
  Name,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  AlgorithmIdentifier,
} from '@peculiar/asn1-x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  buildCsr,
  CertificateAuthority,
  encodePem,
  exportPrivateKeyPem,
  exportPublicKeyDer,
  generateKey,
  IdentityError,
  nobleEcdsaP256,
  parseCertificate,
  parseCsr,
  verifyCsr,
} from '../src/index.js';
import { hasOpenssl, openssl, scratch } from './helpers.js';

const ID = 'spiffe://cluster.local/ns/default/sa/web';
const tmp = scratch();
afterAll(() => tmp.cleanup());

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(IdentityError);
    return (error as IdentityError).code;
  }
}

/** A hand-built CSR with arbitrary SANs, signed properly, to test the parser's rules. */
function csrWithNames(names: GeneralName[], options: { critical?: boolean; sign?: boolean } = {}): string {
  const key = generateKey();
  const extensions = new Extensions([
    new Extension({
      extnID: id_ce_subjectAltName,
      critical: options.critical ?? true,
      extnValue: new OctetString(AsnConvert.serialize(new SubjectAlternativeName(names))),
    }),
  ]);
  const info = new CertificationRequestInfo({
    version: 0,
    subject: new Name(),
    subjectPKInfo: AsnConvert.parse(exportPublicKeyDer(key.publicKey), SubjectPublicKeyInfo),
    attributes: new Attributes([
      new Attribute({ type: '1.2.840.113549.1.9.14', values: [AsnConvert.serialize(extensions)] }),
    ]),
  });
  const infoDer = new Uint8Array(AsnConvert.serialize(info));
  const signature = nobleEcdsaP256.sign(infoDer, key);
  if (options.sign === false) signature[signature.length - 1]! ^= 1;
  const der = AsnConvert.serialize(
    new CertificationRequest({
      certificationRequestInfo: info,
      signatureAlgorithm: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }),
      signature: signature.slice().buffer,
    }),
  );
  return encodePem('CERTIFICATE REQUEST', new Uint8Array(der));
}

describe('CSR (RFC 2986) as Istio agents build it', () => {
  it('has an empty subject, one critical URI SAN, and verifies (proof of possession)', () => {
    const key = generateKey();
    const csr = buildCsr({ identity: ID, key });
    const parsed = verifyCsr(parseCsr(csr.pem));
    expect(parsed.identity.uri).toBe(ID);
    expect(parsed.publicKey).toEqual(key.publicKey);
    expect(parseCsr(csr.der).identity.uri).toBe(ID);
  });

  it.skipIf(!hasOpenssl)('openssl req -verify accepts our CSR and sees the SAN', () => {
    const path = tmp.write('ours.csr', buildCsr({ identity: ID, key: generateKey() }).pem);
    const result = openssl(['req', '-in', path, '-verify', '-noout', '-text']);
    expect(result.status).toBe(0);
    expect(result.output).toMatch(/verify OK/i);
    expect(result.output).toContain(`URI:${ID}`);
    expect(result.output).toMatch(/Subject:\s*\n/);
  });

  it.skipIf(!hasOpenssl)('our CA issues for a CSR made by openssl req with a P-256 key', () => {
    const keyPath = tmp.write('ossl.key', '');
    expect(
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]).status,
    ).toBe(0);
    const csr = openssl([
      'req',
      '-new',
      '-key',
      keyPath,
      '-subj',
      '/O=ignored',
      '-addext',
      `subjectAltName=critical,URI:${ID}`,
    ]);
    expect(csr.status).toBe(0);
    const ca = CertificateAuthority.createRoot({ trustDomain: 'cluster.local' });
    const issued = ca.issue({ csr: csr.output });
    const leaf = parseCertificate(issued.chain[0]!);
    expect(leaf.identity?.uri).toBe(ID);
    const leafPath = tmp.write('ossl-leaf.pem', issued.chain[0]!);
    const pub = openssl(['x509', '-in', leafPath, '-noout', '-pubkey']).output;
    expect(pub).toBe(openssl(['pkey', '-in', keyPath, '-pubout']).output);
  });

  it('rejects two SANs, a DNS SAN, a non-SPIFFE URI, and no SAN', async () => {
    const two = csrWithNames([
      new GeneralName({ uniformResourceIdentifier: ID }),
      new GeneralName({ uniformResourceIdentifier: 'spiffe://cluster.local/ns/default/sa/other' }),
    ]);
    const dns = csrWithNames([new GeneralName({ dNSName: 'web.default.svc' })]);
    const https = csrWithNames([new GeneralName({ uniformResourceIdentifier: 'https://example.com/' })]);
    const none = csrWithNames([]);
    for (const [pem, rule] of [
      [two, 'san-count'],
      [dns, 'san-not-uri'],
      [https, 'san-not-spiffe'],
      [none, 'san-count'],
    ] as const) {
      try {
        parseCsr(pem);
        expect.unreachable();
      } catch (error) {
        expect((error as IdentityError).code).toBe('IDENTITY_ERR_CSR_INVALID');
        expect((error as IdentityError).rule).toBe(rule);
      }
    }
    const ca = CertificateAuthority.createRoot({ trustDomain: 'cluster.local' });
    expect(await codeOf(() => ca.issue({ csr: two }))).toBe('IDENTITY_ERR_CSR_INVALID');
  });

  it('rejects a bad signature: nothing is issued', async () => {
    const forged = csrWithNames([new GeneralName({ uniformResourceIdentifier: ID })], { sign: false });
    expect(await codeOf(() => verifyCsr(parseCsr(forged)))).toBe('IDENTITY_ERR_CSR_SIGNATURE');
    const ca = CertificateAuthority.createRoot({ trustDomain: 'cluster.local' });
    expect(await codeOf(() => ca.issue({ csr: forged }))).toBe('IDENTITY_ERR_CSR_SIGNATURE');
  });

  it.skipIf(!hasOpenssl)('rejects a CSR on another curve or with another signature hash', async () => {
    const p384 = tmp.write(
      'p384.key',
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']).output,
    );
    const csr384 = openssl([
      'req',
      '-new',
      '-key',
      p384,
      '-subj',
      '/',
      '-addext',
      `subjectAltName=URI:${ID}`,
    ]).output;
    expect(await codeOf(() => parseCsr(csr384))).toBe('IDENTITY_ERR_UNSUPPORTED_ALGORITHM');
    const p256 = tmp.write('p256.key', exportPrivateKeyPem(generateKey()));
    const sha384 = openssl([
      'req',
      '-new',
      '-sha384',
      '-key',
      p256,
      '-subj',
      '/',
      '-addext',
      `subjectAltName=URI:${ID}`,
    ]).output;
    expect(await codeOf(() => parseCsr(sha384))).toBe('IDENTITY_ERR_UNSUPPORTED_ALGORITHM');
  });

  it('rejects malformed and oversized input', async () => {
    const csr = buildCsr({ identity: ID, key: generateKey() });
    expect(await codeOf(() => parseCsr('not pem'))).toBe('IDENTITY_ERR_PEM_INVALID');
    expect(await codeOf(() => parseCsr(csr.der.subarray(0, 50)))).toBe('IDENTITY_ERR_DER_INVALID');
    expect(await codeOf(() => parseCsr(new Uint8Array([...csr.der, 0])))).toBe('IDENTITY_ERR_DER_INVALID');
    expect(await codeOf(() => parseCsr(csr.pem, 100))).toBe('IDENTITY_ERR_INPUT_TOO_LARGE');
    const big = encodePem('CERTIFICATE REQUEST', new Uint8Array(70_000));
    expect(await codeOf(() => parseCsr(big))).toBe('IDENTITY_ERR_INPUT_TOO_LARGE');
    // Every truncation fails with a typed error, never anything else.
    for (let n = 0; n < csr.der.length; n += 7) {
      expect(await codeOf(() => verifyCsr(parseCsr(csr.der.subarray(0, n))))).toMatch(/^IDENTITY_ERR_/);
    }
  });
});
