import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CA_DIRECTORY_FILES,
  caFromDirectoryFiles,
  parseCertificate,
  parseCertificateChain,
  verifyCertificateChain,
} from '@amesh/mtls-identity';
import { describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../src/index.js';
import {
  hasOpenssl,
  namespaceYaml,
  openssl,
  podYaml,
  requestCertificate,
  startPlane,
  tempDir,
} from './helpers.js';

const mesh = `${namespaceYaml}${podYaml('a', 'node1', '10.1.0.5', 'enabled')}`;
const A = 'spiffe://cluster.local/ns/shop/sa/a';

const OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
O = example
[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_intermediate]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_not_ca]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

type KeyFormat = 'sec1-with-parameters' | 'sec1' | 'pkcs8';

/** An openssl-made P-256 key in `file`, in the PEM form that openssl command writes. */
function opensslKey(dir: string, file: string, format: KeyFormat): void {
  if (format === 'sec1-with-parameters') {
    // `ecparam -genkey` without -noout: an EC PARAMETERS block, then the SEC 1 EC PRIVATE KEY.
    openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-out', file);
  } else {
    openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file);
    if (format === 'sec1') openssl(dir, 'ec', '-in', file, '-out', file);
  }
}

/**
 * An openssl-made CA hierarchy in `dir`: a root (`root-cert.pem`,
 * `root-key.pem`) and `depth` intermediates below it; returns the file
 * names of the intermediates' certs and keys, the signing (lowest) one first.
 */
function makeHierarchy(
  dir: string,
  options: { depth: number; keyFormat: KeyFormat; days?: number; extensions?: string },
): { certs: string[]; keys: string[] } {
  writeFileSync(join(dir, 'openssl.cnf'), OPENSSL_CONFIG);
  openssl(
    dir,
    'req',
    '-x509',
    '-config',
    'openssl.cnf',
    '-extensions',
    'v3_root',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'root-key.pem',
    '-out',
    'root-cert.pem',
    '-days',
    '3650',
    '-sha256',
    '-subj',
    '/O=example/CN=Example Root CA',
  );
  const certs: string[] = [];
  const keys: string[] = [];
  let issuerCert = 'root-cert.pem';
  let issuerKey = 'root-key.pem';
  for (let level = 1; level <= options.depth; level++) {
    const key = `int${level}-key.pem`;
    const cert = `int${level}-cert.pem`;
    opensslKey(dir, key, level === options.depth ? options.keyFormat : 'pkcs8');
    openssl(
      dir,
      'req',
      '-new',
      '-config',
      'openssl.cnf',
      '-key',
      key,
      '-subj',
      `/O=example/CN=Intermediate ${level}`,
      '-out',
      `int${level}.csr`,
    );
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `int${level}.csr`,
      '-CA',
      issuerCert,
      '-CAkey',
      issuerKey,
      '-set_serial',
      `0x${(0x1000 + level).toString(16)}`,
      '-days',
      String(options.days ?? 730),
      '-sha256',
      '-extfile',
      'openssl.cnf',
      '-extensions',
      level === options.depth ? (options.extensions ?? 'v3_intermediate') : 'v3_intermediate',
      '-out',
      cert,
    );
    certs.unshift(cert);
    keys.unshift(key);
    issuerCert = cert;
    issuerKey = key;
  }
  return { certs, keys };
}

const read = (dir: string, file: string): string => readFileSync(join(dir, file), 'utf8');

/** Writes Istio's plug-in layout into a new directory and returns it. */
function pluginDirectory(
  work: string,
  hierarchy: { certs: string[]; keys: string[] },
  options: { chain?: 'full' | 'none' } = {},
): string {
  const files: Record<string, string> = {
    [CA_DIRECTORY_FILES.caCert]: read(work, hierarchy.certs[0]!),
    [CA_DIRECTORY_FILES.caKey]: read(work, hierarchy.keys[0]!),
    [CA_DIRECTORY_FILES.rootCert]: read(work, 'root-cert.pem'),
  };
  if ((options.chain ?? 'full') === 'full') {
    files[CA_DIRECTORY_FILES.certChain] = [...hierarchy.certs, 'root-cert.pem']
      .map((f) => read(work, f))
      .join('');
  }
  return tempDir(files);
}

describe('CA directory: a self-signed root persisted across restarts (Istio istio-ca-secret layout)', () => {
  it('creates the root on first start (key mode 0600), keeps it on restart, and earlier certificates still verify', async () => {
    const stateDir = tempDir();
    const config = tempDir({ 'mesh.yaml': mesh });
    const first = await startPlane({ configDir: config, stateDir });
    expect(first.caKind).toBe('self-signed-created');
    const before = await requestCertificate(first.grpcPort, A);
    const rootBefore = first.ca.trustBundle();
    await first.close();

    const caDir = join(stateDir, 'ca');
    expect(statSync(join(caDir, CA_DIRECTORY_FILES.caKey)).mode & 0o777).toBe(0o600);
    expect(read(caDir, CA_DIRECTORY_FILES.caCert)).toBe(rootBefore[0]);

    const second = await startPlane({ configDir: config, stateDir });
    expect(second.caKind).toBe('self-signed-loaded');
    expect(second.ca.trustBundle()).toEqual(rootBefore);
    // The leaf issued before the restart verifies against the root served after it, and vice versa.
    const roots = second.ca.trustBundle();
    expect(verifyCertificateChain(before, { roots, now: Date.now() })[0]?.uris).toEqual([A]);
    const after = await requestCertificate(second.grpcPort, A);
    expect(verifyCertificateChain(after, { roots: rootBefore, now: Date.now() })[0]?.uris).toEqual([A]);
  });

  it('a restart without a CA directory makes a new root, under which old certificates fail (why --ca-dir exists)', async () => {
    const config = tempDir({ 'mesh.yaml': mesh });
    const first = await startPlane({ configDir: config });
    expect(first.caKind).toBe('ephemeral');
    const before = await requestCertificate(first.grpcPort, A);
    await first.close();
    const second = await startPlane({ configDir: config });
    expect(() =>
      verifyCertificateChain(before, { roots: second.ca.trustBundle(), now: Date.now() }),
    ).toThrow();
  });
});

describe.skipIf(!hasOpenssl)(
  'CA directory: plug-in CA made by the openssl CLI (Istio cacerts layout)',
  () => {
    it.each([
      { keyFormat: 'sec1-with-parameters', depth: 1, chain: 'full' },
      { keyFormat: 'pkcs8', depth: 1, chain: 'none' },
      { keyFormat: 'sec1', depth: 2, chain: 'full' },
    ] as const)(
      'signs with the intermediate ($keyFormat key, $depth level(s), cert-chain.pem: $chain); openssl verify accepts the leaf',
      async ({ keyFormat, depth, chain }) => {
        const work = tempDir();
        const hierarchy = makeHierarchy(work, { depth, keyFormat });
        const caDir = pluginDirectory(work, hierarchy, { chain });
        const rootOut = join(work, 'served-roots.pem');
        const cp = await startPlane({
          configDir: tempDir({ 'mesh.yaml': mesh }),
          caDir,
          rootCertOut: rootOut,
        });
        expect(cp.caKind).toBe('plug-in');
        // Clients of the control plane trust root-cert.pem, nothing of ours.
        expect(readFileSync(rootOut, 'utf8')).toBe(read(work, 'root-cert.pem'));

        const issued = await requestCertificate(cp.grpcPort, A);
        // leaf → ca-cert → … → root
        expect(issued).toHaveLength(depth + 2);
        expect(parseCertificate(issued[1]!).der).toEqual(
          parseCertificate(read(work, hierarchy.certs[0]!)).der,
        );
        expect(parseCertificate(issued.at(-1)!).der).toEqual(
          parseCertificate(read(work, 'root-cert.pem')).der,
        );

        writeFileSync(join(work, 'leaf.pem'), issued[0]!);
        writeFileSync(join(work, 'untrusted.pem'), issued.slice(1, -1).join(''));
        const out = openssl(
          work,
          'verify',
          '-x509_strict',
          '-CAfile',
          'root-cert.pem',
          '-untrusted',
          'untrusted.pem',
          'leaf.pem',
        );
        expect(out.trim()).toBe('leaf.pem: OK');
      },
    );

    it('trusts every root of root-cert.pem (root rotation) while signing under the chain’s own', async () => {
      const work = tempDir();
      const hierarchy = makeHierarchy(work, { depth: 1, keyFormat: 'pkcs8' });
      const other = tempDir();
      makeHierarchy(other, { depth: 0, keyFormat: 'pkcs8' });
      const caDir = pluginDirectory(work, hierarchy);
      writeFileSync(
        join(caDir, CA_DIRECTORY_FILES.rootCert),
        read(work, 'root-cert.pem') + read(other, 'root-cert.pem'),
      );
      const contents = caFromDirectoryFiles(
        {
          caCert: read(caDir, CA_DIRECTORY_FILES.caCert),
          caKey: read(caDir, CA_DIRECTORY_FILES.caKey),
          rootCert: read(caDir, CA_DIRECTORY_FILES.rootCert),
          certChain: read(caDir, CA_DIRECTORY_FILES.certChain),
        },
        { trustDomain: 'cluster.local' },
      );
      expect(contents.kind).toBe('plug-in');
      if (contents.kind !== 'plug-in') return;
      expect(contents.ca.trustBundle().map((pem) => parseCertificate(pem).der)).toEqual(
        parseCertificateChain(read(caDir, CA_DIRECTORY_FILES.rootCert)).map((c) => c.der),
      );
    });
  },
);

describe.skipIf(!hasOpenssl)('CA directory: clear errors for unusable files', () => {
  function files(dir: string): Parameters<typeof caFromDirectoryFiles>[0] {
    const get = (file: string): string | undefined => {
      try {
        return read(dir, file);
      } catch {
        return undefined;
      }
    };
    return {
      caCert: get(CA_DIRECTORY_FILES.caCert),
      caKey: get(CA_DIRECTORY_FILES.caKey),
      rootCert: get(CA_DIRECTORY_FILES.rootCert),
      certChain: get(CA_DIRECTORY_FILES.certChain),
    };
  }

  it('refuses a key that does not match ca-cert.pem, and the control plane does not start', async () => {
    const work = tempDir();
    const hierarchy = makeHierarchy(work, { depth: 1, keyFormat: 'pkcs8' });
    const caDir = pluginDirectory(work, hierarchy);
    opensslKey(work, 'stranger.pem', 'sec1');
    writeFileSync(join(caDir, CA_DIRECTORY_FILES.caKey), read(work, 'stranger.pem'));
    const error = await startPlane({ configDir: tempDir({ 'mesh.yaml': mesh }), caDir }).catch((e) => e);
    expect(error).toBeInstanceOf(ControlPlaneError);
    expect(error).toMatchObject({ code: 'CONTROL_PLANE_ERR_CA_DIR', reason: 'key-mismatch' });
    expect(error.message).toMatch(/ca-key\.pem does not match ca-cert\.pem/);
  });

  it('refuses a ca-cert.pem that is not a CA (basicConstraints CA:FALSE)', () => {
    const work = tempDir();
    const hierarchy = makeHierarchy(work, { depth: 1, keyFormat: 'pkcs8', extensions: 'v3_not_ca' });
    const caDir = pluginDirectory(work, hierarchy);
    expect(() => caFromDirectoryFiles(files(caDir), { trustDomain: 'cluster.local' })).toThrow(
      expect.objectContaining({ code: 'IDENTITY_ERR_CA_CONFIG', rule: 'not-ca' }),
    );
  });

  it('refuses an expired CA certificate, naming when it expired', () => {
    const work = tempDir();
    const hierarchy = makeHierarchy(work, { depth: 1, keyFormat: 'pkcs8', days: 1 });
    const caDir = pluginDirectory(work, hierarchy);
    const notAfter = parseCertificate(read(work, hierarchy.certs[0]!)).notAfter.getTime();
    expect(() =>
      caFromDirectoryFiles(files(caDir), { trustDomain: 'cluster.local', now: () => notAfter + 1000 }),
    ).toThrow(
      expect.objectContaining({
        code: 'IDENTITY_ERR_CA_CONFIG',
        rule: 'expired',
        message: expect.stringContaining(new Date(notAfter).toISOString()),
      }),
    );
    // One second earlier it is fine.
    expect(
      caFromDirectoryFiles(files(caDir), { trustDomain: 'cluster.local', now: () => notAfter - 1000 }).kind,
    ).toBe('plug-in');
  });

  it('refuses a chain that ends at a root root-cert.pem does not list', () => {
    const work = tempDir();
    const hierarchy = makeHierarchy(work, { depth: 1, keyFormat: 'pkcs8' });
    const other = tempDir();
    makeHierarchy(other, { depth: 0, keyFormat: 'pkcs8' });
    const caDir = pluginDirectory(work, hierarchy);
    writeFileSync(join(caDir, CA_DIRECTORY_FILES.rootCert), read(other, 'root-cert.pem'));
    expect(() => caFromDirectoryFiles(files(caDir), { trustDomain: 'cluster.local' })).toThrow(
      expect.objectContaining({ code: 'IDENTITY_ERR_CA_CONFIG', rule: 'untrusted-root' }),
    );
  });

  it('refuses half a pair, a key that is not PEM, and an intermediate without root-cert.pem', () => {
    const work = tempDir();
    const hierarchy = makeHierarchy(work, { depth: 1, keyFormat: 'pkcs8' });
    const cert = read(work, hierarchy.certs[0]!);
    const key = read(work, hierarchy.keys[0]!);
    const td = { trustDomain: 'cluster.local' };
    expect(() => caFromDirectoryFiles({ caKey: key }, td)).toThrow(
      expect.objectContaining({ rule: 'incomplete' }),
    );
    expect(() => caFromDirectoryFiles({ caCert: cert, caKey: 'not a key' }, td)).toThrow(
      expect.objectContaining({ rule: 'bad-key' }),
    );
    expect(() => caFromDirectoryFiles({ caCert: cert, caKey: key }, td)).toThrow(
      expect.objectContaining({ rule: 'incomplete', message: expect.stringContaining('root-cert.pem') }),
    );
    // Istio's istio-ca-secret leaves root-cert.pem and cert-chain.pem empty: that is the self-signed layout.
    const rootOnly = caFromDirectoryFiles(
      { caCert: read(work, 'root-cert.pem'), caKey: read(work, 'root-key.pem'), rootCert: '', certChain: '' },
      td,
    );
    expect(rootOnly.kind).toBe('self-signed');
    expect(caFromDirectoryFiles({}, td).kind).toBe('empty');
  });
});
