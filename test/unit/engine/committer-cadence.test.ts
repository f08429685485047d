// Exactly-once outputs become visible only when their transaction commits, so the committer
// chains transactions instead of waiting for a fixed tick: something newly committable starts a
// commit at once when none is running, and during a commit it starts exactly one more, no sooner
// than the minimum interval after the running one finished.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Committer } from '../../../src/commit/committer.js';
import type { OutputStrategy } from '../../../src/output/output-strategy.js';

interface Round {
  start: number;
  end?: number;
  finish: () => void;
}

function harness(minCommitIntervalMs: number | undefined) {
  const rounds: Round[] = [];
  const waiters: (() => void)[] = [];
  const output = {
    guarantee: 'exactly-once',
    minCommitIntervalMs,
    commit(): Promise<void> {
      return new Promise<void>((resolve) => {
        const r: Round = { start: performance.now(), finish: () => ((r.end = performance.now()), resolve()) };
        rounds.push(r);
        for (const w of waiters.splice(0)) w();
      });
    },
  } as unknown as OutputStrategy;
  const gauge = { set() {} };
  const committer = new Committer(output, { size: 0, all: () => [] } as never, { check() {} } as never, { inFlight: gauge, lag: gauge, lagSeconds: gauge } as never, 60_000);
  const nextRound = (n: number) => (rounds.length >= n ? Promise.resolve() : new Promise<void>((r) => waiters.push(() => rounds.length >= n && r())));
  return { output, committer, rounds, nextRound };
}

test('a newly committable output starts a commit at once; more during it start exactly one more, after the minimum interval', async () => {
  const { output, committer, rounds, nextRound } = harness(25);
  committer.start();
  try {
    assert.equal(rounds.length, 0, 'nothing committable: no commit before the (60 s) interval');
    output.onCommittable!();
    await nextRound(1);
    output.onCommittable!();
    output.onCommittable!();
    assert.equal(rounds.length, 1, 'no second commit while one runs');
    rounds[0].finish();
    await nextRound(2);
    assert.ok(rounds[1].start - rounds[0].end! >= 24, `second commit ${rounds[1].start - rounds[0].end!} ms after the first ended`);
    rounds[1].finish();
  } finally {
    committer.stop();
  }
});

test('after failed commits the next one waits the strategy\'s retry delay, not the minimum interval', async () => {
  const { output, committer, rounds, nextRound } = harness(5);
  committer.start();
  try {
    output.onCommittable!();
    await nextRound(1);
    (output as { retryDelayMs?: number }).retryDelayMs = 120; // this round failed
    output.onCommittable!();
    rounds[0].finish();
    await nextRound(2);
    assert.ok(rounds[1].start - rounds[0].end! >= 119, `second commit ${rounds[1].start - rounds[0].end!} ms after the failed one ended`);
    (output as { retryDelayMs?: number }).retryDelayMs = 0; // it succeeded
    output.onCommittable!();
    rounds[1].finish();
    await nextRound(3);
    const gap = rounds[2].start - rounds[1].end!;
    assert.ok(gap >= 4 && gap < 119, `third commit ${gap} ms after the second: the minimum interval again`);
    rounds[2].finish();
  } finally {
    committer.stop();
  }
});

test('a strategy without a minimum interval keeps the fixed tick and is not told about new outputs', () => {
  const { output, committer } = harness(undefined);
  committer.start();
  try {
    assert.equal(output.onCommittable, undefined);
  } finally {
    committer.stop();
  }
});
