// The exactly-once strategy's bookkeeping, without a broker: hand-over holds a partition until
// its producer fenced the previous owner, then seeks to the committed offset; each commit hands
// the contiguous staged prefix with its offset to one transaction per partition; a revoked
// partition is never committed or resumed here again; too many failed transactions are fatal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Metrics } from '../../../src/ops/metrics.js';
import { ExactlyOnceOutput, type Transactions } from '../../../src/output/exactly-once.js';
import type { OutputRecord } from '../../../src/output/sink.js';
import type { CommitEntry } from '../../../src/partitions/partition-offsets.js';
import { Hold } from '../../../src/partitions/partition.js';
import { Partitions } from '../../../src/partitions/partitions.js';
import { FailureRateLimiter } from '../../../src/shared/backoff.js';
import type { Source, TopicPartition } from '../../../src/source/source.js';
import type { TransactionsResult } from '../../../src/output/exactly-once.js';

const T = { timeout: 10_000 };

/** Records what the strategy asks of its transactions; assign() resolves when the test says so. */
class ScriptedTransactions implements Transactions {
  readonly commits: CommitEntry<OutputRecord>[][] = [];
  readonly revoked: string[] = [];
  readonly fence = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  failNext: Error | null = null;
  private readonly pendingRetry = new Set<string>();
  /** Partitions whose next commit reports that another producer fenced them. */
  fenceNext: string[] = [];
  assign(topic: string, partition: number): Promise<void> {
    return new Promise((resolve, reject) => this.fence.set(`${topic}/${partition}`, { resolve, reject }));
  }
  revoke(topic: string, partition: number): void {
    this.revoked.push(`${topic}/${partition}`);
  }
  async commit(entries: CommitEntry<OutputRecord>[]): Promise<TransactionsResult> {
    this.commits.push(entries);
    const fenced = entries.filter((e) => this.fenceNext.includes(`${e.topic}/${e.partition}`)).map((e) => ({ topic: e.topic, partition: e.partition }));
    this.fenceNext = [];
    // As the real ones: a failed partition's records stay pending and go with every later commit.
    for (const e of entries) this.pendingRetry.add(`${e.topic}/${e.partition}`);
    if (this.failNext) return { committed: 0, failed: [...this.pendingRetry].map(() => this.failNext!), fenced };
    this.pendingRetry.clear();
    return { committed: entries.reduce((n, e) => n + e.payloads.length, 0), failed: [], fenced };
  }
  async close(): Promise<void> {}
}

function setup(committedOffset = 7, maxFailures = 3, retakeAfterMs = 60_000, backoff = { initialMs: 1, maxMs: 1, multiplier: 1 }) {
  const calls: string[] = [];
  const fmt = (tps: TopicPartition[]) => tps.map((t) => `${t.topic}/${t.partition}`).join(',');
  const source = {
    pause: (tps: TopicPartition[]) => void calls.push(`pause ${fmt(tps)}`),
    resume: (tps: TopicPartition[]) => void calls.push(`resume ${fmt(tps)}`),
    seek: (tp: TopicPartition, offset: number) => void calls.push(`seek ${fmt([tp])}@${offset}`),
    committedOffset: async () => committedOffset,
  } as unknown as Source;
  const partitions = new Partitions<OutputRecord>(source, { outOfOrdernessMs: 0, allowedLatenessMs: 0 });
  const tx = new ScriptedTransactions();
  const fatal: Error[] = [];
  const strategy = new ExactlyOnceOutput(tx, {
    partitions,
    source,
    metrics: new Metrics(),
    log: pino({ level: 'silent' }),
    failures: new FailureRateLimiter(maxFailures, 60_000),
    backoff,
    onDone: () => {},
    onFatal: (e) => void fatal.push(e),
    stopping: () => false,
  }, { retakeAfterMs });
  const assign = (tps: number[]) => {
    const a = partitions.assign(tps.map((partition) => ({ topic: 'in', partition })));
    strategy.revoked(a.revoked);
    strategy.assigned(a.added);
    return a;
  };
  return { calls, partitions, tx, strategy, fatal, assign };
}

const settle = () => new Promise((r) => setImmediate(r));
const out = (v: string): OutputRecord => ({ topic: 'out', key: null, value: v });

test('a new partition stays held until its producer fenced the previous owner, then seeks to the committed offset', T, async () => {
  const s = setup(7);
  s.assign([0]);
  const p = s.partitions.get('in', 0)!;
  assert.ok(p.held(Hold.Fencing), 'held while fencing');
  assert.equal(s.calls.at(-1), 'pause in/0');
  s.tx.fence.get('in/0')!.resolve();
  await settle();
  await settle();
  assert.equal(p.holds, 0, 'released');
  assert.deepEqual(s.calls.slice(-2), ['seek in/0@7', 'resume in/0']);
});

test('commit hands each partition its contiguous staged prefix and the offset after it', T, async () => {
  const s = setup();
  s.assign([0, 1]);
  for (const k of ['in/0', 'in/1']) s.tx.fence.get(k)!.resolve();
  await settle();
  const [p0, p1] = [s.partitions.get('in', 0)!, s.partitions.get('in', 1)!];
  for (const o of [7, 8, 9]) p0.offsets.add(o);
  p1.offsets.add(3);
  s.strategy.emit(out('a9'), p0, 9);
  s.strategy.emit(out('a7'), p0, 7);
  s.strategy.emit(out('b3'), p1, 3);
  await s.strategy.commit();
  assert.deepEqual(
    s.tx.commits[0].map((e) => [e.partition, e.offset, e.payloads.map((r) => r.value)]),
    [
      [0, 8, ['a7']],
      [1, 4, ['b3']],
    ],
    'offset 8 is not staged yet: partition 0 commits only offset 7',
  );
  s.strategy.emit(out('a8'), p0, 8);
  await s.strategy.commit();
  assert.deepEqual(s.tx.commits[1].map((e) => [e.partition, e.offset, e.payloads.map((r) => r.value)]), [[0, 10, ['a8', 'a9']]]);
});

test('a revoked partition is never committed here again, and a fence finishing after the revoke does not resume it', T, async () => {
  const s = setup();
  s.assign([0, 1]);
  s.tx.fence.get('in/0')!.resolve();
  await settle();
  const p0 = s.partitions.get('in', 0)!;
  p0.offsets.add(0);
  s.assign([1]);
  assert.deepEqual(s.tx.revoked, ['in/0']);
  s.strategy.emit(out('late'), p0, 0);
  const before = s.calls.length;
  s.tx.fence.get('in/1')!.resolve();
  s.assign([]);
  await settle();
  await s.strategy.commit();
  assert.deepEqual(s.tx.commits.at(-1), [], 'nothing to commit for revoked partitions');
  // The only resume is the registry clearing kafkajs's paused flag of a partition revoked while held.
  assert.deepEqual(s.calls.slice(before), ['resume in/1'], 'no seek, and the hand-over did not resume it');
});

test('failed transactions are retried at the next commit and become fatal past the failure limit', T, async () => {
  const s = setup(0, 2);
  s.assign([0]);
  s.tx.fence.get('in/0')!.resolve();
  await settle();
  const p = s.partitions.get('in', 0)!;
  p.offsets.add(0);
  s.strategy.emit(out('x'), p, 0);
  s.tx.failNext = new Error('broker said no');
  await s.strategy.commit();
  await s.strategy.commit();
  assert.equal(s.fatal.length, 0, 'two failures are within the limit of 2');
  await s.strategy.commit();
  assert.equal(s.fatal.length, 1);
  assert.equal(s.fatal[0].message, 'broker said no');
});

test('a round in which several transactions fail counts once against the limit; the next round waits a backoff that grows per failed round', T, async () => {
  const s = setup(0, 2, 60_000, { initialMs: 100, maxMs: 1000, multiplier: 2 });
  s.assign([0, 1, 2, 3]);
  for (let i = 0; i < 4; i++) s.tx.fence.get(`in/${i}`)!.resolve();
  await settle();
  await settle();
  for (let i = 0; i < 4; i++) {
    const p = s.partitions.get('in', i)!;
    p.offsets.add(0);
    s.strategy.emit(out(`x${i}`), p, 0);
  }
  assert.equal(s.strategy.retryDelayMs, 0);
  s.tx.failNext = new Error('reply lost');
  await s.strategy.commit();
  assert.equal(s.tx.commits.at(-1)!.length, 4, 'four transactions failed in the round');
  assert.equal(s.fatal.length, 0, 'one failure counted, not four (limit 2)');
  const first = s.strategy.retryDelayMs;
  assert.ok(first >= 50 && first <= 100, `first backoff ${first} ms (100 nominal, equal jitter)`);
  await s.strategy.commit();
  const second = s.strategy.retryDelayMs;
  assert.ok(second >= 100 && second <= 200, `second backoff ${second} ms (200 nominal)`);
  assert.equal(s.fatal.length, 0);
  s.tx.failNext = null;
  await s.strategy.commit();
  assert.equal(s.strategy.retryDelayMs, 0, 'a round without failures resets it');
  assert.equal(s.fatal.length, 0);
});

test('a partition whose producer another instance fenced is held, and an assignment that gives it back starts it afresh', T, async () => {
  const s = setup(40);
  s.assign([0, 1]);
  for (const k of ['in/0', 'in/1']) s.tx.fence.get(k)!.resolve();
  await settle();
  await settle();
  const p0 = s.partitions.get('in', 0)!;
  for (const o of [40, 41]) p0.offsets.add(o);
  s.strategy.emit(out('x40'), p0, 40);
  s.tx.fenceNext = ['in/0'];
  await s.strategy.commit();
  assert.ok(p0.held(Hold.Fencing), 'held: this instance may no longer write it');
  assert.equal(s.calls.at(-1), 'pause in/0');
  // The group gives the same partitions back (the network-cut case): partition 0 is new again.
  s.tx.fence.clear();
  const a = s.assign([0, 1]);
  assert.deepEqual(a.revoked, [p0]);
  assert.equal(a.added.length, 1);
  const fresh = s.partitions.get('in', 0)!;
  assert.notEqual(fresh, p0);
  assert.ok(fresh.held(Hold.Fencing), 'fenced again before it fetches');
  assert.ok(s.tx.fence.has('in/0'), 'a new producer fences the other owner');
  s.tx.fence.get('in/0')!.resolve();
  await settle();
  await settle();
  assert.deepEqual(s.calls.slice(-2), ['seek in/0@40', 'resume in/0'], 'from the committed offset');
  assert.equal(s.partitions.get('in', 1)!.holds, 0, 'partition 1 untouched');
});

async function fencedWhileAssigned(retakeAfterMs: number) {
  const s = setup(40, 3, retakeAfterMs);
  s.assign([0, 1]);
  for (const k of ['in/0', 'in/1']) s.tx.fence.get(k)!.resolve();
  await settle();
  await settle();
  const p0 = s.partitions.get('in', 0)!;
  p0.offsets.add(40);
  s.strategy.emit(out('x40'), p0, 40);
  s.tx.fence.clear();
  s.tx.fenceNext = ['in/0'];
  await s.strategy.commit();
  assert.ok(p0.held(Hold.Fencing));
  return { s, p0 };
}

test('a fenced partition the group still assigns here (no rebalance follows) is retaken: fenced again, read from the committed offset', T, async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { s, p0 } = await fencedWhileAssigned(6000);
  // No assignment comes: the group had already given the partition back before the fencing error.
  t.mock.timers.tick(5999);
  assert.equal(s.partitions.get('in', 0), p0, 'not before the group could have revoked it');
  assert.equal(s.tx.fence.has('in/0'), false);
  t.mock.timers.tick(1);
  assert.ok(s.tx.fence.has('in/0'), 'a new producer fences the other owner');
  const fresh = s.partitions.get('in', 0)!;
  assert.notEqual(fresh, p0, 'what this instance held of it is void');
  assert.equal(p0.owned, false, 'late results of the old state go nowhere');
  assert.ok(fresh.held(Hold.Fencing), 'held until fenced');
  assert.deepEqual(s.tx.revoked, ['in/0'], 'the fenced producer is dropped');
  s.tx.fence.get('in/0')!.resolve();
  await settle();
  await settle();
  assert.equal(fresh.holds, 0, 'released after the fence');
  assert.deepEqual(s.calls.slice(-2), ['seek in/0@40', 'resume in/0'], 'from the committed offset');
  assert.equal(s.partitions.get('in', 1)!.holds, 0, 'partition 1 untouched');
});

test('a fenced partition revoked before the retake is not taken back', T, async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { s } = await fencedWhileAssigned(6000);
  s.assign([1]);
  t.mock.timers.tick(6000);
  assert.equal(s.partitions.get('in', 0), undefined, 'not owned here');
  assert.equal(s.tx.fence.has('in/0'), false, 'no producer created for it');
});

test('a fenced partition that a rebalance gave back before the retake is fenced once, by that assignment', T, async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { s, p0 } = await fencedWhileAssigned(6000);
  s.assign([0, 1]);
  const fresh = s.partitions.get('in', 0)!;
  assert.notEqual(fresh, p0);
  const fence = s.tx.fence.get('in/0');
  t.mock.timers.tick(6000);
  assert.equal(s.partitions.get('in', 0), fresh, 'the retake of the old state does not replace the new one');
  assert.equal(s.tx.fence.get('in/0'), fence, 'no second producer');
});
