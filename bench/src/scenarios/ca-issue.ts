import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildCsr,
  CertificateAuthority,
  type EcdsaP256,
  exportPrivateKeyPem,
  nobleEcdsaP256,
} from '@amesh/mtls-identity';
import { nodeEcdsaP256 } from '@amesh/mtls-identity/node';
import type { Contender, ContenderInstance, Sample, Scenario } from '../runner.js';

const COUNT = Number(process.env.AMESH_BENCH_CERTS ?? 100);
const TRUST_DOMAIN = 'cluster.local';
const identityOf = (i: number) => `spiffe://${TRUST_DOMAIN}/ns/bench/sa/sa-${i}`;

/**
 * Certificates issued per second (CSR parse + proof-of-possession verify +
 * sign + DER/PEM encode) by the amesh CA with each ECDSA provider, against a
 * loop of `openssl x509 -req` (one process per certificate, as a shell-script
 * CA would do). Also key generations per second. Every contender issues for
 * the same CSRs; each issued leaf is checked (URI SAN, CA false, signed by
 * the root) before the round counts.
 */
export default function caIssue(): Scenario {
  // One set of CSRs, made once, used by every contender.
  const csrs = Array.from({ length: COUNT }, (_, i) => {
    const key = nodeEcdsaP256.generateKey();
    return buildCsr({ identity: identityOf(i), key, ecdsa: nodeEcdsaP256 }).pem;
  });
  const root = CertificateAuthority.createRoot({ trustDomain: TRUST_DOMAIN, ecdsa: nodeEcdsaP256 });

  const check = (chains: string[][]): string => {
    const rootCert = new X509Certificate(root.rootPem);
    chains.forEach((chain, i) => {
      const leaf = new X509Certificate(chain[0]!);
      if (leaf.subjectAltName !== `URI:${identityOf(i)}` || leaf.ca || !leaf.verify(rootCert.publicKey)) {
        throw new Error(`certificate ${i} is wrong: ${leaf.subjectAltName}`);
      }
    });
    return `${chains.length} X.509-SVIDs, each with its own URI SAN, CA:FALSE, signed by the root`;
  };

  const timed = (keygen: () => void, issueAll: () => string[][]): Sample => {
    let start = process.hrtime.bigint();
    for (let i = 0; i < COUNT; i++) keygen();
    const keygenSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    start = process.hrtime.bigint();
    const chains = issueAll();
    const issueSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    return {
      values: { issue: COUNT / issueSeconds, keygen: COUNT / keygenSeconds },
      fingerprint: check(chains),
    };
  };

  const amesh = (name: string, ecdsa: EcdsaP256): Contender => ({
    name,
    async start(): Promise<ContenderInstance> {
      const ca = CertificateAuthority.fromKeyAndChain({
        trustDomain: TRUST_DOMAIN,
        key: root.signingKey,
        certChain: [root.rootPem],
        ecdsa,
      });
      return {
        round: async () =>
          timed(
            () => ecdsa.generateKey(),
            () => csrs.map((csr) => [...ca.issue({ csr }).chain]),
          ),
        close: async () => {},
      };
    },
  });

  const opensslLoop: Contender = {
    name: 'openssl x509 -req',
    async start(): Promise<ContenderInstance> {
      const dir = mkdtempSync(join(tmpdir(), 'amesh-bench-ca-'));
      const rootPath = join(dir, 'root.pem');
      const keyPath = join(dir, 'root.key');
      writeFileSync(rootPath, root.rootPem);
      writeFileSync(keyPath, exportPrivateKeyPem(root.signingKey));
      csrs.forEach((csr, i) => {
        writeFileSync(join(dir, `${i}.csr`), csr);
        writeFileSync(
          join(dir, `${i}.ext`),
          [
            'basicConstraints=critical,CA:FALSE',
            'keyUsage=critical,digitalSignature',
            'extendedKeyUsage=serverAuth,clientAuth',
            `subjectAltName=critical,URI:${identityOf(i)}`,
            'subjectKeyIdentifier=hash',
            'authorityKeyIdentifier=keyid',
            '',
          ].join('\n'),
        );
      });
      const run = (args: string[]): string => {
        const result = spawnSync('openssl', args, { encoding: 'utf8' });
        if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
        return result.stdout;
      };
      return {
        round: async () =>
          timed(
            () => run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']),
            () =>
              csrs.map((_, i) => {
                const out = join(dir, `${i}.pem`);
                run([
                  'x509',
                  '-req',
                  '-in',
                  join(dir, `${i}.csr`),
                  '-CA',
                  rootPath,
                  '-CAkey',
                  keyPath,
                  '-days',
                  '1',
                  '-sha256',
                  '-set_serial',
                  `0x${(i + 1).toString(16)}`,
                  '-extfile',
                  join(dir, `${i}.ext`),
                  '-out',
                  out,
                ]);
                return [readFileSync(out, 'utf8'), root.rootPem];
              }),
          ),
        close: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };

  return {
    name: 'ca-issue',
    description: `${COUNT} X.509-SVIDs per round from the same CSRs (CSR verify + sign + encode), and ${COUNT} P-256 key generations`,
    metrics: [
      { name: 'issue', unit: 'certificates/s', better: 'higher' },
      { name: 'keygen', unit: 'keys/s', better: 'higher' },
    ],
    contenders: [
      amesh('amesh (node:crypto)', nodeEcdsaP256),
      amesh('amesh (noble)', nobleEcdsaP256),
      opensslLoop,
    ],
    defaultRounds: 5,
  };
}
