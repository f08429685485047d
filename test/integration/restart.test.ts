// Stop mid-stream (SIGTERM: drain, commit, exit 0), restart with the same group: nothing lost,
// and Redis holds every user's features as one application of its events even for offsets
// delivered twice (the replay guard skips them).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Audit, committedOffsets, endOffsets, summarize } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { byUser, expectedFeatures, generateEvents } from '../kit/events.js';
import { produceEvents } from '../kit/produce.js';
import { createScenario } from '../kit/scenario.js';
import { REDIS_URL, assertServicesReachable, kafka } from '../kit/services.js';

const EVENTS = 20_000;
const USERS = 500;
const PARTITIONS = 4;
const META = JSON.parse(readFileSync('models/model.json', 'utf8')) as { cold_start: number[] };

let redis: Redis;
let engine: EngineProcess | null = null;
let reader: Audit | null = null;

before(async () => {
  await assertServicesReachable();
  redis = new Redis(REDIS_URL);
});

after(async () => {
  await engine?.kill9();
  await reader?.stop();
  redis?.disconnect();
});

test('SIGTERM mid-stream exits 0; a restart with the same group loses nothing and applies every event to Redis once', { timeout: 120_000 }, async (t) => {
  const sc = await createScenario('restart', PARTITIONS);
  const produced = await produceEvents(sc.input, generateEvents({ count: EVENTS, users: USERS, startMs: Date.now() - 2 * 86_400_000, seed: 11 }), { partitions: PARTITIONS, batchSize: 500 });
  const ends = await endOffsets(sc.input);
  reader = await Audit.start(sc.auditOptions);

  // Small in-flight bounds so the first run cannot have fetched everything when it is stopped,
  // and a micro-batch delay so it is still busy when the signal arrives.
  const env = {
    ...sc.env,
    WORKERS: '2',
    MAX_IN_FLIGHT_PER_PARTITION: '250',
    MAX_IN_FLIGHT: '1000',
    SCORESTREAM_FAULT_INJECTION: '1',
    SCORESTREAM_INJECT_BATCH_DELAY_MS: '5',
  };
  engine = await startEngine(env);
  await engine.waitReady();
  await reader.waitFor(() => reader!.predictions.length >= 2000, 60_000, '2,000 predictions');
  const stopAt = Date.now();
  const exit1 = await engine.stop('SIGTERM');
  t.diagnostic(`first run: SIGTERM to exit ${Date.now() - stopAt} ms`);
  assert.deepEqual(exit1, { code: 0, signal: null }, `first run exits 0 on SIGTERM (stderr tail: ${engine.stderr().slice(-2000)})`);
  engine = null;

  // What the first run committed: below it everything has an output (drain, then commit), and
  // the run really stopped before the end.
  await reader.catchUp();
  const committed = await committedOffsets(sc.groupId, sc.input);
  const before = reader.report(ends);
  t.diagnostic(`first run: ${summarize(before)}; committed ${JSON.stringify([...committed])}`);
  let committedTotal = 0;
  for (const [p, c] of committed) {
    committedTotal += Math.max(0, c);
    for (let o = 0; o < c; o++) assert.ok(before.perOffset.has(`${p}:${o}`), `offset ${p}:${o} committed by the first run has an output`);
  }
  assert.ok(committedTotal < EVENTS, `the first run was stopped mid-stream (committed ${committedTotal} of ${EVENTS})`);
  // Graceful stop commits what it drained: nothing the first run wrote lies past its commit.
  for (const r of reader.predictions) assert.ok(r.source.offset < (committed.get(r.source.partition) ?? 0), `output for ${r.source.partition}:${r.source.offset} written by the first run is below its committed offset ${committed.get(r.source.partition)}`);

  // A graceful stop leaves nothing to redo. Rewind the group by up to REWIND offsets per
  // partition, as a crash between the Redis update and the commit would, so the restart
  // re-delivers events whose features are already applied: the replay guard must skip them.
  const REWIND = 200;
  const rewound = new Map<number, number>();
  for (const [p, c] of committed) rewound.set(p, Math.max(0, c - REWIND));
  const admin = kafka().admin();
  await admin.connect();
  try {
    await admin.setOffsets({ groupId: sc.groupId, topic: sc.input, partitions: [...rewound].map(([partition, o]) => ({ partition, offset: String(o) })) });
  } finally {
    await admin.disconnect();
  }
  let replays = 0;
  for (const [p, o] of rewound) replays += committed.get(p)! - o;

  const restartAt = Date.now();
  engine = await startEngine({ ...sc.env, WORKERS: '2' });
  await engine.waitReady();
  t.diagnostic(`second run ready after ${Date.now() - restartAt} ms`);
  await reader.waitForCoverage(ends, 60_000);
  t.diagnostic(`second run finished after ${Date.now() - restartAt} ms`);
  await reader.catchUp();
  const replayed = await engine.metric('scorestream_replayed_events_total');
  const exit2 = await engine.stop('SIGTERM');
  assert.deepEqual(exit2, { code: 0, signal: null });
  engine = null;

  const r = reader.report(ends);
  t.diagnostic(`after restart: ${summarize(r)}; re-delivered ${replays}, replay guard skipped ${replayed}`);
  assert.equal(r.lost.length, 0, 'every input offset has a prediction');
  assert.equal(r.unexpected, 0);
  assert.equal(r.dlq, 0);
  // Duplicates are allowed (at-least-once); here they are exactly the re-delivered offsets.
  assert.equal(r.duplicates.length, replays);
  assert.ok(r.duplicates.every((d) => d.offset >= rewound.get(d.partition)! && d.offset < committed.get(d.partition)!));
  assert.equal(replayed, replays, 'the replay guard recognised every re-delivered event');

  // Redis: each user's counters are one application of its events, however often re-delivered.
  const users = byUser(produced);
  const ids = [...users.keys()];
  const pipe = redis.pipeline();
  for (const u of ids) pipe.hmget(sc.keyPrefix + u, 'v', 'c', 'p', 't');
  const res = (await pipe.exec())!;
  ids.forEach((u, i) => {
    const [err, h] = res[i] as [Error | null, (string | null)[]];
    assert.equal(err, null);
    const { final } = expectedFeatures(users.get(u)!, META.cold_start);
    assert.deepEqual(h.map(Number), [final!.v, final!.c, final!.p, final!.t], `features (v,c,p,t) of ${u}`);
  });
  assert.deepEqual(await committedOffsets(sc.groupId, sc.input), ends);
});
