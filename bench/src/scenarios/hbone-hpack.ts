import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type HeaderField, HpackDecoder, HpackEncoder } from '@amesh/hbone-codec';
// @ts-expect-error hpack.js ships no types
import hpackJs from 'hpack.js';
import { BASELINE_DIR } from '../peers/baseline.js';
import type { Contender, Sample, Scenario } from '../runner.js';

const BLOCKS = Number(process.env.AMESH_BENCH_BLOCKS ?? 20_000);

interface Compressor {
  write(headers: Array<{ name: string; value: string }>): void;
  read(): Buffer | null;
}
interface Decompressor {
  write(block: Buffer): void;
  execute(): void;
  read(): { name: string; value: string } | null;
}
const hpack = hpackJs as {
  compressor: { create(o: { table: { size: number } }): Compressor };
  decompressor: { create(o: { table: { size: number } }): Decompressor };
};

/** The header blocks an HBONE client sends: CONNECT, authority, forwarded, baggage, a fresh traceparent each. */
function connectBlocks(): HeaderField[][] {
  const blocks: HeaderField[][] = [];
  for (let i = 0; i < BLOCKS; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    blocks.push([
      [':method', 'CONNECT'],
      [':authority', `${ip}:8080`],
      ['forwarded', `for="10.0.0.1:${10_000 + (i % 50_000)}"`],
      [
        'baggage',
        'k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.deployment.name=sleep,service.name=sleep,service.version=v1',
      ],
      [
        'traceparent',
        `00-${createHash('md5').update(String(i)).digest('hex')}-${(i * 2654435761).toString(16).padStart(16, '0').slice(-16)}-00`,
      ],
    ]);
  }
  return blocks;
}

/**
 * HPACK encode + decode of HBONE CONNECT header blocks (dynamic table shared
 * across blocks, Huffman on): amesh's codec against hpack.js.
 */
export default function hboneHpack(): Scenario {
  const blocks = connectBlocks();
  const sample = (run: () => string): Sample => {
    const start = process.hrtime.bigint();
    const fingerprint = run();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { values: { rate: blocks.length / seconds / 1000 }, fingerprint };
  };
  const digest = (all: Array<[string, string]>): string =>
    createHash('sha256').update(JSON.stringify(all)).digest('hex');

  type Codec = { HpackEncoder: typeof HpackEncoder; HpackDecoder: typeof HpackDecoder };
  const ameshWith = (name: string, load: () => Promise<Codec>): Contender => ({
    name,
    async start() {
      const codec = await load();
      return {
        round: async () =>
          sample(() => {
            const encoder = new codec.HpackEncoder();
            const decoder = new codec.HpackDecoder();
            const out: Array<[string, string]> = [];
            for (const b of blocks)
              for (const h of decoder.decode(encoder.encode(b)).headers) out.push([h[0], h[1]]);
            return digest(out);
          }),
        close: async () => {},
      };
    },
  });
  const amesh = ameshWith('amesh', async () => ({ HpackEncoder, HpackDecoder }));
  // With AMESH_BENCH_BASELINE, an earlier build of the codec runs side by side.
  const baselineDir = BASELINE_DIR;
  const baseline = baselineDir
    ? [
        ameshWith(
          'amesh-baseline',
          async () =>
            (await import(
              pathToFileURL(join(baselineDir, 'node_modules/@amesh/hbone-codec/dist/index.js')).href
            )) as Codec,
        ),
      ]
    : [];

  const theirs: Contender = {
    name: 'hpack.js',
    async start() {
      return {
        round: async () =>
          sample(() => {
            const c = hpack.compressor.create({ table: { size: 4096 } });
            const d = hpack.decompressor.create({ table: { size: 4096 } });
            const out: Array<[string, string]> = [];
            for (const b of blocks) {
              c.write(b.map(([name, value]) => ({ name, value })));
              for (let x = c.read(); x; x = c.read()) d.write(x);
              d.execute();
              for (let h = d.read(); h; h = d.read()) out.push([h.name, h.value]);
            }
            return digest(out);
          }),
        close: async () => {},
      };
    },
  };

  return {
    name: 'hbone-hpack',
    description: `HPACK encode + decode of ${BLOCKS} HBONE CONNECT header blocks (5 fields, dynamic table, Huffman)`,
    metrics: [{ name: 'rate', unit: 'k blocks/s', better: 'higher' }],
    contenders: [...baseline, amesh, theirs],
    defaultRounds: 7,
  };
}
