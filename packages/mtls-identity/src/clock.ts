/** An opaque timer handle returned by {@link Clock.setTimer}. */
export type TimerHandle = object;

/** Time and timers, injectable so logic stays testable without waiting. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` after `delayMs`; the timer must not keep the process alive. */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The real clock: `Date.now` and unref'd `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, callback) {
    // setTimeout overflows above 2^31-1 ms (~24.8 days); chain shorter timers.
    const MAX = 2 ** 31 - 1;
    const state: { timer?: ReturnType<typeof setTimeout> } = {};
    const arm = (remaining: number): void => {
      state.timer = setTimeout(
        () => (remaining > MAX ? arm(remaining - MAX) : callback()),
        Math.min(Math.max(0, remaining), MAX),
      );
      state.timer.unref?.();
    };
    arm(delayMs);
    return state;
  },
  clearTimer(handle) {
    const timer = (handle as { timer?: ReturnType<typeof setTimeout> }).timer;
    if (timer) clearTimeout(timer);
  },
};
