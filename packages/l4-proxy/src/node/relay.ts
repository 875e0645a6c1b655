import type { Duplex } from 'node:stream';

/** Bytes moved by {@link relay}, from the point of view of the side that accepted the connection. */
export interface RelayResult {
  /** Bytes read from the downstream side (the client) and written upstream. */
  readonly received: number;
  /** Bytes read from upstream and written to the downstream side. */
  readonly sent: number;
  /** Why the relay ended early, if it did (an error on either side, or {@link Relay.abort}). */
  readonly error: Error | undefined;
}

/** A running relay: live byte counts and a way to cut it. */
export interface Relay {
  readonly done: Promise<RelayResult>;
  bytes(): { received: number; sent: number };
  /** Ends the relay now, destroying both sides (for example when a policy no longer allows it). */
  abort(reason: Error): void;
}

/**
 * Copies bytes both ways between two streams with backpressure (`pipe`).
 * Half-closes are kept: when one side ends, the other's writable side is
 * ended after the bytes in flight are flushed, and the other direction goes
 * on (so both sides should be created with `allowHalfOpen: true`). The relay
 * is done when both directions have finished, or at the first error; then
 * both streams are destroyed.
 */
export function relay(downstream: Duplex, upstream: Duplex): Relay {
  let received = 0;
  let sent = 0;
  let error: Error | undefined;
  let finished = false;
  let resolveDone!: (result: RelayResult) => void;
  const done = new Promise<RelayResult>((resolve) => {
    resolveDone = resolve;
  });
  const finish = (): void => {
    if (finished) return;
    finished = true;
    downstream.destroy();
    upstream.destroy();
    resolveDone({ received, sent, error });
  };
  const fail = (e: Error): void => {
    error ??= e;
    finish();
  };
  let directions = 0;
  const directionDone = (): void => {
    if (++directions === 2) finish();
  };
  downstream.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  upstream.on('data', (chunk: Buffer) => {
    sent += chunk.length;
  });
  downstream.on('error', fail);
  upstream.on('error', fail);
  // A direction is done once its destination flushed everything and ended.
  upstream.once('finish', directionDone);
  downstream.once('finish', directionDone);
  // A side that closes before both directions are done was torn down (reset, destroy).
  const onClose = (side: Duplex) => () => {
    if (finished) return;
    if (!side.writableFinished || !side.readableEnded)
      fail(new Error('connection closed before the relay finished'));
  };
  downstream.once('close', onClose(downstream));
  upstream.once('close', onClose(upstream));
  downstream.pipe(upstream);
  upstream.pipe(downstream);
  return {
    done,
    bytes: () => ({ received, sent }),
    abort(reason) {
      fail(reason);
    },
  };
}
