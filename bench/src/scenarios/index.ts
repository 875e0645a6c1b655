import type { Scenario } from '../runner.js';

/** Every scenario by name, loaded lazily so one scenario's peers do not slow another. */
export const scenarios: Readonly<Record<string, () => Promise<Scenario>>> = {
  'tcp-vs-tls': async () => (await import('./tcp-vs-tls.js')).tcpVsTls(),
};
