// PartitionOffsets: the commit position is the last contiguous done offset + 1, whatever order
// offsets complete in and whatever gaps the log has. Partitions: one object per owned partition,
// assignment diffs, and pause/resume only through holds.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionOffsets } from '../../src/partitions/partition-offsets.js';
import { Hold } from '../../src/partitions/partition.js';
import { Partitions } from '../../src/partitions/partitions.js';
import type { OutputRecord } from '../../src/output/sink.js';
import type { TopicPartition } from '../../src/source/source.js';

/** Records what the registry asked the source to pause and resume. */
function recordingSource() {
  const calls: { op: 'pause' | 'resume'; tps: string[] }[] = [];
  const fmt = (tps: TopicPartition[]) => tps.map((t) => `${t.topic}/${t.partition}`).sort();
  return {
    calls,
    pause: (tps: TopicPartition[]) => void calls.push({ op: 'pause', tps: fmt(tps) }),
    resume: (tps: TopicPartition[]) => void calls.push({ op: 'resume', tps: fmt(tps) }),
  };
}
const WM = { outOfOrdernessMs: 10_000, allowedLatenessMs: 60_000 };
const rec = (s: string) => s as unknown as OutputRecord;

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

describe('Partitions', () => {
  test('tracks partitions separately and reports what each can commit', T, () => {
    const t = new Partitions(recordingSource(), WM);
    const first = t.assign([{ topic: 'in', partition: 0 }, { topic: 'in', partition: 1 }]);
    assert.equal(first.added.length, 2);
    const a = t.get('in', 0)!;
    const b = t.get('in', 1)!;
    const again = t.assign([{ topic: 'in', partition: 0 }, { topic: 'in', partition: 1 }]);
    assert.deepEqual([again.added.length, again.kept.length, again.revoked.length], [0, 2, 0], 'assign of the same set keeps both');
    assert.equal(t.get('in', 0), a, 'the same object is kept');
    a.offsets.add(0);
    a.offsets.add(1);
    b.offsets.add(40);
    a.offsets.markDone(1, rec('a1'));
    b.offsets.markDone(40, rec('b40'));
    assert.deepEqual(t.takeCommittable(), [{ topic: 'in', partition: 1, offset: 41, payloads: ['b40'] }]);
    assert.equal(t.size, 2);
    a.offsets.markDone(0, rec('a0'));
    assert.deepEqual(t.takeCommittable(), [{ topic: 'in', partition: 0, offset: 2, payloads: ['a0', 'a1'] }]);
    assert.deepEqual(t.takeCommittable(), []);
    assert.equal(t.size, 0);
  });

  test('after revoke nothing for that partition is returned again', T, () => {
    const t = new Partitions(recordingSource(), WM);
    t.assign([{ topic: 'in', partition: 0 }, { topic: 'in', partition: 1 }]);
    const p0 = t.get('in', 0)!;
    const p1 = t.get('in', 1)!;
    p0.offsets.add(0);
    p0.offsets.add(1);
    p1.offsets.add(0);
    p0.offsets.markDone(1, rec('late'));
    const { revoked, kept } = t.assign([{ topic: 'in', partition: 1 }]);
    assert.deepEqual(revoked, [p0]);
    assert.deepEqual(kept, [p1]);
    assert.equal(p0.owned, false);
    assert.equal(t.get('in', 0), undefined);
    // Results still arriving for the revoked partition land on the detached state.
    p0.offsets.markDone(0, rec('x'));
    p1.offsets.markDone(0, rec('p1'));
    assert.deepEqual(t.takeCommittable(), [{ topic: 'in', partition: 1, offset: 1, payloads: ['p1'] }]);
    assert.deepEqual(t.takeCommittable(), []);
    assert.equal(t.all().length, 1);
    // Re-assigned later: starts fresh, the old done offsets are not carried over.
    const { added } = t.assign([{ topic: 'in', partition: 0 }, { topic: 'in', partition: 1 }]);
    assert.equal(added.length, 1);
    assert.notEqual(added[0], p0);
    assert.equal(added[0].offsets.commitPosition, -1);
    assert.deepEqual(t.takeCommittable(), []);
  });

  test('a partition fetches only while nothing holds it', T, () => {
    const src = recordingSource();
    const t = new Partitions(src, WM);
    t.assign([{ topic: 'in', partition: 0 }]);
    const p = t.get('in', 0)!;
    src.calls.length = 0;
    t.hold([p], Hold.Fencing);
    t.hold([p], Hold.Backpressure);
    assert.deepEqual(src.calls, [{ op: 'pause', tps: ['in/0'] }], 'paused once, by the first hold');
    t.release([p], Hold.Fencing);
    assert.equal(src.calls.length, 1, 'still held by backpressure');
    t.release([p], Hold.Fencing);
    assert.equal(src.calls.length, 1, 'releasing a reason it does not hold changes nothing');
    t.release([p], Hold.Backpressure);
    assert.deepEqual(src.calls[1], { op: 'resume', tps: ['in/0'] });
    assert.equal(p.holds, 0);
  });

  test('a partition revoked while held is resumed at the source (kafkajs keeps paused flags across assignments)', T, () => {
    const src = recordingSource();
    const t = new Partitions(src, WM);
    t.assign([{ topic: 'in', partition: 0 }, { topic: 'in', partition: 1 }]);
    t.hold([t.get('in', 0)!], Hold.Backpressure);
    src.calls.length = 0;
    t.assign([{ topic: 'in', partition: 1 }]);
    assert.deepEqual(src.calls, [{ op: 'resume', tps: ['in/0', 'in/1'] }], 'the revoked held one, and the owned one nothing holds');
  });
});
