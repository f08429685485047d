/** Monotonic microseconds on one clock shared by every thread of the process (CLOCK_MONOTONIC). */
export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
