import { type ConfigSourceEvent, resourceKey } from '../src/index.js';

/**
 * Collects a source's events and lets a test await the next one of a type
 * (optionally matching a predicate), so tests wait for events, never for time.
 */
export function recorder() {
  const events: ConfigSourceEvent[] = [];
  const waiters: { match: (e: ConfigSourceEvent) => boolean; resolve: (e: ConfigSourceEvent) => void }[] = [];
  const listener = (e: ConfigSourceEvent) => {
    const i = waiters.findIndex((w) => w.match(e));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(e);
    else events.push(e);
  };
  const next = <T extends ConfigSourceEvent['type']>(
    type: T,
    where: (e: Extract<ConfigSourceEvent, { type: T }>) => boolean = () => true,
  ): Promise<Extract<ConfigSourceEvent, { type: T }>> => {
    const match = (e: ConfigSourceEvent) =>
      e.type === type && where(e as Extract<ConfigSourceEvent, { type: T }>);
    const i = events.findIndex(match);
    if (i >= 0) return Promise.resolve(events.splice(i, 1)[0] as Extract<ConfigSourceEvent, { type: T }>);
    return new Promise((resolve) =>
      waiters.push({ match, resolve: resolve as (e: ConfigSourceEvent) => void }),
    );
  };
  /** Applies change events until `done` holds for the accumulated keys. */
  const changesUntil = async (done: (upserted: string[], removed: string[]) => boolean) => {
    const upserted: string[] = [];
    const removed: string[] = [];
    while (!done(upserted, removed)) {
      const e = await next('change');
      upserted.push(...e.change.upserted.map(resourceKey));
      removed.push(...e.change.removed.map(resourceKey));
    }
    return { upserted, removed };
  };
  return { listener, next, events, changesUntil };
}
