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
 * Copies bytes both ways between two streams with backpressure.
 * Half-closes are kept: when one side ends, the other's writable side is
 * ended after the bytes in flight are flushed, and the other direction goes
 * on (so both sides should be created with `allowHalfOpen: true`). The relay
 * is done when both directions have finished, or at the first error; then
 * both streams are destroyed.
 */
export function relay(downstream: Duplex, upstream: Duplex): Relay {
  return new StreamRelay(downstream, upstream);
}

/**
 * What `Readable.pipe` does for one destination (write, pause on a full
 * destination, resume on its `drain`, end it when the source ends), done by
 * hand for both directions at once: a relay lives as long as its
 * connection, and `pipe` costs about a dozen closures and `once` wrappers
 * per direction, which was most of ztunnel's memory per open tunnel.
 * Listeners are the instance's own arrow functions, so one relay is one
 * object and its handful of listeners.
 */
class StreamRelay implements Relay {
  readonly done: Promise<RelayResult>;
  readonly #down: Duplex;
  readonly #up: Duplex;
  #received = 0;
  #sent = 0;
  #error: Error | undefined;
  #finished = false;
  #directions = 0;
  /** Which source this relay paused for backpressure (bit 1: downstream, bit 2: upstream). */
  #paused = 0;
  #resolve!: (result: RelayResult) => void;

  constructor(downstream: Duplex, upstream: Duplex) {
    this.#down = downstream;
    this.#up = upstream;
    this.done = new Promise<RelayResult>((resolve) => {
      this.#resolve = resolve;
    });
    downstream.on('data', this.#onDownData);
    upstream.on('data', this.#onUpData);
    downstream.on('error', this.#fail);
    upstream.on('error', this.#fail);
    // A direction is done once its destination flushed everything and ended.
    upstream.on('finish', this.#directionDone);
    downstream.on('finish', this.#directionDone);
    // A side that closes before both directions are done was torn down (reset, destroy).
    downstream.on('close', this.#onDownClose);
    upstream.on('close', this.#onUpClose);
    upstream.on('drain', this.#onUpDrain);
    downstream.on('drain', this.#onDownDrain);
    this.#start(downstream, upstream, 1, this.#onDownEnd);
    this.#start(upstream, downstream, 2, this.#onUpEnd);
  }

  bytes(): { received: number; sent: number } {
    return { received: this.#received, sent: this.#sent };
  }

  abort(reason: Error): void {
    this.#fail(reason);
  }

  /** Starts one direction the way `pipe` does: end the destination with the source, flow unless it is full. */
  #start(source: Duplex, destination: Duplex, bit: number, onEnd: () => void): void {
    if (source.readableEnded) process.nextTick(onEnd);
    else source.on('end', onEnd);
    if (destination.writableNeedDrain) {
      this.#paused |= bit;
      source.pause();
    } else if (source.readableFlowing !== true) {
      source.resume();
    }
  }

  readonly #onDownData = (chunk: Buffer): void => {
    this.#received += chunk.length;
    if (!this.#up.write(chunk)) {
      this.#paused |= 1;
      this.#down.pause();
    }
  };

  readonly #onUpData = (chunk: Buffer): void => {
    this.#sent += chunk.length;
    if (!this.#down.write(chunk)) {
      this.#paused |= 2;
      this.#up.pause();
    }
  };

  readonly #onUpDrain = (): void => {
    if (this.#paused & 1) {
      this.#paused &= ~1;
      if (!this.#finished) this.#down.resume();
    }
  };

  readonly #onDownDrain = (): void => {
    if (this.#paused & 2) {
      this.#paused &= ~2;
      if (!this.#finished) this.#up.resume();
    }
  };

  readonly #onDownEnd = (): void => {
    if (!this.#finished) this.#up.end();
  };

  readonly #onUpEnd = (): void => {
    if (!this.#finished) this.#down.end();
  };

  readonly #directionDone = (): void => {
    if (++this.#directions === 2) this.#finish();
  };

  readonly #onDownClose = (): void => this.#onClose(this.#down);

  readonly #onUpClose = (): void => this.#onClose(this.#up);

  #onClose(side: Duplex): void {
    if (this.#finished) return;
    if (!side.writableFinished || !side.readableEnded)
      this.#fail(new Error('connection closed before the relay finished'));
  }

  readonly #fail = (error: Error): void => {
    this.#error ??= error;
    this.#finish();
  };

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#down.destroy();
    this.#up.destroy();
    this.#resolve({ received: this.#received, sent: this.#sent, error: this.#error });
  }
}
