// OffsetTracker / PartitionOffsets: the commit position is the last contiguous done offset + 1,
// whatever order offsets complete in and whatever gaps the log has.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OffsetTracker, PartitionOffsets } from '../../src/partitions/offset-tracker.js';

const T = { timeout: 10_000 };

describe('PartitionOffsets', () => {
  test('out-of-order completion commits only the contiguous done prefix', T, () => {
    const p = new PartitionOffsets<string>();
    for (let o = 0; o < 5; o++) p.add(o);
    assert.equal(p.commitPosition, -1);
    assert.equal(p.takeCommittable(), null, 'nothing done yet');

    assert.ok(p.markDone(2, 'r2'));
    assert.ok(p.markDone(1, 'r1'));
    assert.equal(p.takeCommittable(), null, 'offset 0 still in flight');
    assert.equal(p.commitPosition, -1);

    assert.ok(p.markDone(0, 'r0'));
    assert.deepEqual(p.takeCommittable(), { commitOffset: 3, payloads: ['r0', 'r1', 'r2'] });
    assert.equal(p.commitPosition, 3);
    assert.equal(p.inFlight, 2);

    assert.ok(p.markDone(4, 'r4'));
    assert.equal(p.takeCommittable(), null, 'offset 3 still in flight');
    assert.ok(p.markDone(3, 'r3'));
    assert.deepEqual(p.takeCommittable(), { commitOffset: 5, payloads: ['r3', 'r4'] });
    assert.equal(p.inFlight, 0);
    assert.equal(p.size, 0);
    assert.equal(p.highestSeen, 4);
  });

  test('gaps in offsets (transaction markers) commit past the last offset seen', T, () => {
    const p = new PartitionOffsets<number>();
    for (const o of [5, 7, 9]) p.add(o);
    assert.equal(p.markDone(6), false, 'an offset never added is not tracked');
    assert.ok(p.markDone(7, 7));
    assert.equal(p.takeCommittable(), null);
    assert.ok(p.markDone(5, 5));
    assert.deepEqual(p.takeCommittable(), { commitOffset: 8, payloads: [5, 7] });
    assert.ok(p.markDone(9, 9));
    assert.deepEqual(p.takeCommittable(), { commitOffset: 10, payloads: [9] });
  });

  test('takeCommittable returns payloads in offset order, not completion order', T, () => {
    const p = new PartitionOffsets<number>();
    const offsets = Array.from({ length: 50 }, (_, i) => 100 + i * 3);
    for (const o of offsets) p.add(o);
    // A fixed shuffle (LCG), so the test is deterministic.
    const order = [...offsets];
    let s = 12345;
    for (let i = order.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) >>> 0;
      const j = s % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const released: number[] = [];
    for (const o of order) {
      p.markDone(o, o);
      const c = p.takeCommittable();
      if (c) {
        released.push(...c.payloads);
        assert.equal(c.commitOffset, released[released.length - 1] + 1);
      }
    }
    assert.deepEqual(released, offsets);
  });

  test('done offsets without a payload advance the commit but release nothing', T, () => {
    const p = new PartitionOffsets<string>();
    p.add(0);
    p.add(1);
    p.add(2);
    p.markDone(0);
    p.markDone(1, 'one');
    p.markDone(2);
    assert.deepEqual(p.takeCommittable(), { commitOffset: 3, payloads: ['one'] });
  });

  test('marking an offset done twice, or after it was released, is refused', T, () => {
    const p = new PartitionOffsets<string>();
    p.add(0);
    p.add(1);
    assert.equal(p.markDone(0, 'a'), true);
    assert.equal(p.markDone(0, 'b'), false);
    assert.deepEqual(p.takeCommittable(), { commitOffset: 1, payloads: ['a'] });
    assert.equal(p.markDone(0, 'c'), false);
    assert.equal(p.takeCommittable(), null);
  });

  test('add() of a non-increasing offset throws', T, () => {
    const p = new PartitionOffsets();
    p.add(10);
    assert.throws(() => p.add(10), RangeError);
    assert.throws(() => p.add(3), RangeError);
    p.add(11);
    assert.equal(p.highestSeen, 11);
  });

  test('memory compaction keeps working over 100k offsets', T, () => {
    const p = new PartitionOffsets<number>();
    const internals = p as unknown as { offsets: number[]; done: boolean[]; payloads: unknown[] };
    const window = 64;
    const N = window * 1563; // just over 100k
    let released = 0;
    let expectNext = 0;
    let maxBacking = 0;
    // Offsets step by 2 (gaps), complete in reverse within each window of 64.
    for (let base = 0; base < N; base += window) {
      for (let i = 0; i < window; i++) p.add((base + i) * 2);
      for (let i = window - 1; i >= 0; i--) {
        p.markDone((base + i) * 2, base + i);
        const c = p.takeCommittable();
        if (c) {
          for (const v of c.payloads) assert.equal(v, expectNext++);
          released += c.payloads.length;
          assert.equal(c.commitOffset, (expectNext - 1) * 2 + 1);
        }
      }
      maxBacking = Math.max(maxBacking, internals.offsets.length);
    }
    assert.equal(released, N);
    assert.equal(p.size, 0);
    assert.equal(p.inFlight, 0);
    assert.equal(p.commitPosition, (N - 1) * 2 + 1);
    assert.ok(maxBacking < 4096, `backing arrays grew to ${maxBacking} entries with at most ${window} in flight`);
    assert.equal(internals.done.length, internals.offsets.length);
    assert.equal(internals.payloads.length, internals.offsets.length);
    // Still correct after many compactions.
    p.add(N * 2 + 10);
    p.markDone(N * 2 + 10, -1);
    assert.deepEqual(p.takeCommittable(), { commitOffset: N * 2 + 11, payloads: [-1] });
  });
});

describe('OffsetTracker', () => {
  test('tracks partitions separately and reports what each can commit', T, () => {
    const t = new OffsetTracker<string>();
    const a = t.assign('in', 0);
    const b = t.assign('in', 1);
    assert.equal(t.assign('in', 0), a, 'assign is idempotent');
    a.add(0);
    a.add(1);
    b.add(40);
    a.markDone(1, 'a1');
    b.markDone(40, 'b40');
    assert.deepEqual(t.takeCommittable(), [{ topic: 'in', partition: 1, offset: 41, payloads: ['b40'] }]);
    assert.equal(t.size, 2);
    a.markDone(0, 'a0');
    assert.deepEqual(t.takeCommittable(), [{ topic: 'in', partition: 0, offset: 2, payloads: ['a0', 'a1'] }]);
    assert.deepEqual(t.takeCommittable(), []);
    assert.equal(t.size, 0);
  });

  test('after revoke nothing for that partition is returned again', T, () => {
    const t = new OffsetTracker<string>();
    const p0 = t.assign('in', 0);
    const p1 = t.assign('in', 1);
    p0.add(0);
    p0.add(1);
    p1.add(0);
    p0.markDone(1, 'late');
    t.revoke('in', 0);
    assert.equal(t.owns('in', 0), false);
    assert.equal(t.partition('in', 0), undefined);
    // Results still arriving for the revoked partition land on the detached state.
    p0.markDone(0, 'x');
    p1.markDone(0, 'p1');
    const c = t.takeCommittable();
    assert.deepEqual(c, [{ topic: 'in', partition: 1, offset: 1, payloads: ['p1'] }]);
    assert.deepEqual(t.takeCommittable(), []);
    assert.equal(t.partitions().length, 1);
    // Re-assigned later: starts fresh, the old done offsets are not carried over.
    const again = t.assign('in', 0);
    assert.notEqual(again, p0);
    assert.equal(again.commitPosition, -1);
    assert.deepEqual(t.takeCommittable(), []);
  });
});
