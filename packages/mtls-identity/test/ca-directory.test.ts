import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildCsr,
  CA_DIRECTORY_FILES,
  CertificateAuthority,
  caFromDirectoryFiles,
  exportPrivateKeyPem,
  generateKey,
  IdentityError,
  verifyCertificateChain,
} from '../src/index.js';
import { openCaDirectory } from '../src/node/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-ca-dir-'));
  dirs.push(dir);
  return dir;
};
const td = { trustDomain: 'cluster.local' };

function issueLeaf(ca: CertificateAuthority): string[] {
  const key = generateKey();
  const csr = buildCsr({ key, identity: 'spiffe://cluster.local/ns/shop/sa/a' });
  return [...ca.issue({ csr: csr.der }).chain];
}

describe('CA directory (Istio cacerts / istio-ca-secret layouts)', () => {
  it('creates a self-signed root in an empty directory (key mode 0600) and signs with the same root after a reopen', async () => {
    const dir = join(tempDir(), 'ca');
    const first = await openCaDirectory(dir, td);
    expect(first).toMatchObject({ kind: 'self-signed', created: true });
    expect(statSync(join(dir, CA_DIRECTORY_FILES.caKey)).mode & 0o777).toBe(0o600);
    const leaf = issueLeaf(first.ca);

    const again = await openCaDirectory(dir, td);
    expect(again).toMatchObject({ kind: 'self-signed', created: false });
    expect(again.ca.trustBundle()).toEqual(first.ca.trustBundle());
    // A certificate issued before the reopen verifies against the root read back from disk.
    expect(() =>
      verifyCertificateChain(leaf, { roots: again.ca.trustBundle(), now: Date.now() }),
    ).not.toThrow();
    expect(() =>
      verifyCertificateChain(issueLeaf(again.ca), { roots: first.ca.trustBundle(), now: Date.now() }),
    ).not.toThrow();
  });

  it('reads a self-signed root with empty root-cert.pem and cert-chain.pem as Istio leaves them', () => {
    const key = generateKey();
    const root = CertificateAuthority.createRoot({ ...td, key });
    const contents = caFromDirectoryFiles(
      { caCert: root.chain[0]!.pem, caKey: exportPrivateKeyPem(key), rootCert: '', certChain: '' },
      td,
    );
    expect(contents.kind).toBe('self-signed');
    expect(caFromDirectoryFiles({}, td).kind).toBe('empty');
  });

  it('refuses, with the rule named, half a pair, a bad key, a key of another CA and a chain without its root', async () => {
    const key = generateKey();
    const root = CertificateAuthority.createRoot({ ...td, key });
    const cert = root.chain[0]!.pem;
    const refusal = (files: Parameters<typeof caFromDirectoryFiles>[0]): unknown => {
      try {
        caFromDirectoryFiles(files, td);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const cases: [Parameters<typeof caFromDirectoryFiles>[0], string][] = [
      [{ caKey: exportPrivateKeyPem(key) }, 'incomplete'],
      [{ caCert: cert, caKey: 'not a key' }, 'bad-key'],
      [{ caCert: 'junk', caKey: exportPrivateKeyPem(key) }, 'bad-cert'],
      [{ caCert: cert, caKey: exportPrivateKeyPem(generateKey()) }, 'key-mismatch'],
      [{ caCert: cert, caKey: exportPrivateKeyPem(key), certChain: cert }, 'incomplete'],
    ];
    for (const [files, rule] of cases) {
      const error = refusal(files);
      expect(error).toBeInstanceOf(IdentityError);
      expect(error).toMatchObject({ code: 'IDENTITY_ERR_CA_CONFIG', rule });
      expect((error as Error).message).toMatch(/^CA directory: /);
    }

    // The same through the file system: the directory is refused, not overwritten.
    const dir = tempDir();
    writeFileSync(join(dir, CA_DIRECTORY_FILES.caCert), cert);
    writeFileSync(join(dir, CA_DIRECTORY_FILES.caKey), exportPrivateKeyPem(generateKey()), { mode: 0o600 });
    await expect(openCaDirectory(dir, td)).rejects.toMatchObject({ rule: 'key-mismatch' });
    expect(readFileSync(join(dir, CA_DIRECTORY_FILES.caCert), 'utf8')).toBe(cert);
  });
});
