// FAULT_GUARANTEES (comma-separated) narrows which delivery guarantees the fault and scale suites
// that run per guarantee register (kill9, network-partition, consumer-group): CI's second-client
// run (`npm run test:platformatic`) takes only exactly-once, whose fencing and transactions are
// client code, to keep the whole CI run under 30 minutes. Unset: both. A test that is not
// registered does not show as skipped: it is not part of that run.
import assert from 'node:assert/strict';

export type Guarantee = 'at-least-once' | 'exactly-once';

const ALL: readonly Guarantee[] = ['at-least-once', 'exactly-once'];
const named = process.env.FAULT_GUARANTEES;

export const GUARANTEES: readonly Guarantee[] = ALL.filter((g) => !named || named.split(',').includes(g));
assert.ok(GUARANTEES.length > 0, `FAULT_GUARANTEES=${named} names no guarantee (at-least-once, exactly-once)`);

/** True if this run tests `g`. */
export const runs = (g: Guarantee): boolean => GUARANTEES.includes(g);
