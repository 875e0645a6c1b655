import { afterAll, describe, expect, it } from 'vitest';
import {
  decodePem,
  decodePemBlocks,
  encodePem,
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateKey,
  IdentityError,
  importPrivateKey,
  importPublicKey,
  nobleEcdsaP256,
  splitPemChain,
} from '../src/index.js';
import { nodeEcdsaP256 } from '../src/node/index.js';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { hasOpenssl, openssl, scratch } from './helpers.js';

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

describe('PEM (RFC 7468)', () => {
  it('round-trips and splits chains', () => {
    const der = new Uint8Array(100).map((_, i) => i);
    const pem = encodePem('CERTIFICATE', der);
    expect(decodePem(pem, ['CERTIFICATE']).der).toEqual(der);
    expect(splitPemChain(pem + pem)).toEqual([pem, pem]);
  });

  it.each([
    ['no block', 'hello'],
    ['label mismatch', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n'],
    ['bad base64', '-----BEGIN CERTIFICATE-----\nA*AA\n-----END CERTIFICATE-----\n'],
    ['bad padding length', '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n'],
    ['data outside', 'junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
    ['empty body', '-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n'],
  ])('rejects %s', (_, text) => {
    expect(codeOf(() => decodePemBlocks(text))).toBe('IDENTITY_ERR_PEM_INVALID');
  });

  it('rejects the wrong label and oversized input', () => {
    const pem = encodePem('PUBLIC KEY', new Uint8Array(10));
    expect(codeOf(() => decodePem(pem, ['CERTIFICATE']))).toBe('IDENTITY_ERR_PEM_INVALID');
    expect(codeOf(() => decodePem(pem, ['PUBLIC KEY'], 20))).toBe('IDENTITY_ERR_INPUT_TOO_LARGE');
  });
});

describe('ECDSA P-256 keys (RFC 5915, RFC 5208, RFC 5480)', () => {
  it('exports PKCS#8 that node:crypto imports, and signatures cross-verify', () => {
    const key = generateKey();
    const pem = exportPrivateKeyPem(key);
    const nodeKey = createPrivateKey(pem);
    expect(nodeKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const data = new TextEncoder().encode('hello');
    expect(
      verify(
        'sha256',
        data,
        createPublicKey(exportPublicKeyPem(key.publicKey)),
        nobleEcdsaP256.sign(data, key),
      ),
    ).toBe(true);
    expect(nobleEcdsaP256.verify(data, new Uint8Array(sign('sha256', data, nodeKey)), key.publicKey)).toBe(
      true,
    );
    expect(importPrivateKey(pem)).toEqual(key);
    expect(importPublicKey(exportPublicKeyPem(key.publicKey))).toEqual(key.publicKey);
  });

  it('node:crypto and noble providers agree', () => {
    const data = new TextEncoder().encode('payload');
    const a = nodeEcdsaP256.generateKey();
    const b = nobleEcdsaP256.generateKey();
    expect(nobleEcdsaP256.verify(data, nodeEcdsaP256.sign(data, a), a.publicKey)).toBe(true);
    expect(nodeEcdsaP256.verify(data, nobleEcdsaP256.sign(data, b), b.publicKey)).toBe(true);
    expect(nodeEcdsaP256.verify(data, nobleEcdsaP256.sign(data, b), a.publicKey)).toBe(false);
    expect(nobleEcdsaP256.verify(data, new Uint8Array([0x30, 0x00]), a.publicKey)).toBe(false);
  });

  it.skipIf(!hasOpenssl)('imports keys written by openssl (PKCS#8 and SEC 1)', () => {
    const pkcs8 = tmp.write('k8.pem', '');
    expect(
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pkcs8]).status,
    ).toBe(0);
    const sec1 = openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout']);
    expect(sec1.status).toBe(0);
    const fromPkcs8 = importPrivateKey(openssl(['pkey', '-in', pkcs8]).output);
    expect(fromPkcs8.secretKey.length).toBe(32);
    expect(importPrivateKey(sec1.output).publicKey.length).toBe(65);
  });

  it.skipIf(!hasOpenssl)('refuses other curves and algorithms with a typed error', () => {
    const p384 = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']).output;
    const ed25519 = openssl(['genpkey', '-algorithm', 'ED25519']).output;
    expect(codeOf(() => importPrivateKey(p384))).toBe('IDENTITY_ERR_UNSUPPORTED_ALGORITHM');
    expect(codeOf(() => importPrivateKey(ed25519))).toBe('IDENTITY_ERR_UNSUPPORTED_ALGORITHM');
  });

  it('rejects malformed DER, trailing bytes, and a zero secret', () => {
    const der = decodePem(exportPrivateKeyPem(generateKey()), ['PRIVATE KEY']).der;
    expect(codeOf(() => importPrivateKey(der.subarray(0, der.length - 5)))).toBe('IDENTITY_ERR_DER_INVALID');
    const trailing = new Uint8Array([...der, 0, 0]);
    expect(codeOf(() => importPrivateKey(trailing))).toBe('IDENTITY_ERR_DER_INVALID');
    expect(codeOf(() => importPrivateKey(new Uint8Array([1, 2, 3])))).toBe('IDENTITY_ERR_DER_INVALID');
    const zero = der.slice();
    // The 32-byte scalar follows the 04 20 octet-string header inside ECPrivateKey.
    const at = zero.findIndex((b, i) => b === 0x04 && zero[i + 1] === 0x20);
    zero.fill(0, at + 2, at + 34);
    expect(codeOf(() => importPrivateKey(zero))).toBe('IDENTITY_ERR_KEY_INVALID');
  });
});
