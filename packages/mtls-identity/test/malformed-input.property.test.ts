import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildCsr,
  CaService,
  createTestCa,
  decodeCertificateRequest,
  decodePemBlocks,
  generateKey,
  IdentityError,
  importPrivateKey,
  parseCertificate,
  parseCsr,
  parseSpiffeId,
  spiffeId,
  verifyCsr,
} from '../src/index.js';

/** Runs `fn`; passes when it returns or throws an IdentityError, fails on any other throw. */
function onlyTypedErrors(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (error) {
    if (!(error instanceof IdentityError)) throw error;
    expect(error.code).toMatch(/^IDENTITY_ERR_[A-Z_]+$/);
    return true;
  }
}

const testCa = createTestCa();
const csr = buildCsr({ identity: 'spiffe://cluster.local/ns/default/sa/web', key: generateKey() });
const cert = testCa.issue('default/web');

describe('malformed input never escapes as an untyped error (fast-check, time-boxed)', () => {
  it('random bytes into every DER parser', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        onlyTypedErrors(() => parseCsr(bytes));
        onlyTypedErrors(() => parseCertificate(bytes));
        onlyTypedErrors(() => importPrivateKey(bytes));
        onlyTypedErrors(() => decodeCertificateRequest(bytes));
        return true;
      }),
      { interruptAfterTimeLimit: 3000, numRuns: 2000 },
    );
  });

  it('random strings into PEM and SPIFFE parsers', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        onlyTypedErrors(() => decodePemBlocks(text));
        onlyTypedErrors(() => parseSpiffeId(text));
        onlyTypedErrors(() => parseSpiffeId(`spiffe://${text}`));
        return true;
      }),
      { interruptAfterTimeLimit: 2000, numRuns: 3000 },
    );
  });

  it('single-byte corruptions of a CSR: a typed error, or a CSR that still verifies and is unchanged in meaning', () => {
    fc.assert(
      fc.property(fc.nat(csr.der.length - 1), fc.integer({ min: 1, max: 255 }), (index, xor) => {
        const corrupted = csr.der.slice();
        corrupted[index]! ^= xor;
        try {
          const parsed = verifyCsr(parseCsr(corrupted));
          // Accepted only if the signed content is what was signed.
          expect(parsed.identity.uri).toBe('spiffe://cluster.local/ns/default/sa/web');
          expect(Buffer.from(parsed.infoDer).equals(Buffer.from(parseCsr(csr.der).infoDer))).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(IdentityError);
        }
        return true;
      }),
      { interruptAfterTimeLimit: 4000, numRuns: 600 },
    );
  });

  it('single-byte corruptions of a certificate parse or fail typed', () => {
    fc.assert(
      fc.property(fc.nat(cert.leaf.der.length - 1), fc.integer({ min: 1, max: 255 }), (index, xor) => {
        const corrupted = cert.leaf.der.slice();
        corrupted[index]! ^= xor;
        return onlyTypedErrors(() => parseCertificate(corrupted));
      }),
      { interruptAfterTimeLimit: 3000, numRuns: 1000 },
    );
  });
});

describe('CA service authorisation without a transport', () => {
  const web = spiffeId('cluster.local', 'default', 'web');
  const ztunnel = spiffeId('cluster.local', 'istio-system', 'ztunnel');
  const request = (impersonate?: string) => ({
    csr: buildCsr({ identity: web, key: generateKey() }).pem,
    validityDuration: 0,
    metadata: impersonate ? { ImpersonatedIdentity: impersonate } : {},
  });
  const as = (caller: { identity: typeof web; node?: string }) => ({
    name: 'fixed',
    authenticate: () => caller,
  });

  it('a trusted node agent without a node, or without a node locator, may not impersonate', async () => {
    const noNode = new CaService({
      ca: testCa.ca,
      authenticators: [as({ identity: ztunnel })],
      nodeLocator: { hasLivePod: () => true },
    });
    await expect(noNode.createCertificate(request(web.uri), { metadata: {} })).rejects.toMatchObject({
      code: 'IDENTITY_ERR_PERMISSION_DENIED',
      rule: 'no-node',
    });
    const noLocator = new CaService({
      ca: testCa.ca,
      authenticators: [as({ identity: ztunnel, node: 'n1' })],
    });
    await expect(noLocator.createCertificate(request(web.uri), { metadata: {} })).rejects.toMatchObject({
      rule: 'no-node-locator',
    });
  });

  it('a caller gets its own identity whatever SAN the CSR asks for; a non-string impersonation is refused', async () => {
    const service = new CaService({ ca: testCa.ca, authenticators: [as({ identity: ztunnel, node: 'n1' })] });
    const response = await service.createCertificate(request(), { metadata: {} });
    expect(parseCertificate(response.certChain[0]!).identity?.uri).toBe(ztunnel.uri);
    await expect(
      service.createCertificate({ ...request(), metadata: { ImpersonatedIdentity: 42 } }, { metadata: {} }),
    ).rejects.toMatchObject({ code: 'IDENTITY_ERR_PERMISSION_DENIED' });
    await expect(
      service.createCertificate(request('spiffe://cluster.local/ns/x'), { metadata: {} }),
    ).rejects.toMatchObject({
      code: 'IDENTITY_ERR_SPIFFE_ID_INVALID',
    });
  });

  it('with no authenticator accepting, the call is unauthenticated', async () => {
    const service = new CaService({
      ca: testCa.ca,
      authenticators: [{ name: 'none', authenticate: () => undefined }],
    });
    await expect(service.createCertificate(request(), { metadata: {} })).rejects.toMatchObject({
      code: 'IDENTITY_ERR_UNAUTHENTICATED',
    });
  });
});
