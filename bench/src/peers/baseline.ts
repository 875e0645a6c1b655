/**
 * Where a baseline build of the ztunnel engine lives (`AMESH_BENCH_BASELINE`):
 * a directory with `node_modules/@amesh/{l4-proxy,telemetry,hbone-codec}`
 * copied from an earlier build (`dist` and `package.json`), the other entries
 * of the root `node_modules` symlinked. When set, the L4 scenarios add an
 * `amesh-baseline` contender that runs that build side by side with the
 * current one, so a before/after comparison is one interleaved run.
 */
export const BASELINE_DIR: string | undefined = process.env.AMESH_BENCH_BASELINE || undefined;
