// README's "Against real Kafka and Redis": `npm run topics` creates the engine's five topics with
// the partition count asked for, leaves existing ones alone, and refuses bad usage with exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KAFKA_BROKERS, assertServicesReachable, kafka, uniqueName } from '../kit/services.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function runScript(env: Record<string, string>, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/create-topics.ts', ...args], { cwd: ROOT, env: { ...process.env, KAFKA_BROKERS, ...env }, encoding: 'utf8', timeout: 60_000 });
}

test('npm run topics creates the input, output and dead-letter topics once, with the partitions asked for', { timeout: 120_000 }, async () => {
  await assertServicesReachable();
  const n = uniqueName('topics');
  const env = { INPUT_TOPIC: `${n}-in`, OUTPUT_TOPIC: `${n}-out`, DLQ_VALIDATION_TOPIC: `${n}-v`, DLQ_PROCESSING_TOPIC: `${n}-p`, DLQ_LATE_TOPIC: `${n}-l` };
  const first = runScript(env, ['--partitions', '3']);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout.match(/created with 3 partitions/g)?.length, 5, first.stdout);
  const admin = kafka().admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: Object.values(env) });
    assert.deepEqual(topics.map((t) => [t.name, t.partitions.length]).sort(), Object.values(env).map((t) => [t, 3]).sort());
    // Again, asking for 5: nothing is changed.
    const again = runScript(env, ['--partitions', '5']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout.match(/exists \(left as it is\)/g)?.length, 5, again.stdout);
    const after = await admin.fetchTopicMetadata({ topics: [env.INPUT_TOPIC] });
    assert.equal(after.topics[0].partitions.length, 3);
  } finally {
    await admin.disconnect();
  }
  const bad = runScript(env, ['--partitions', 'many']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^create-topics: --partitions many: an integer 1\.\.10000\n$/);
});
