// Fresh topics, group and Redis key prefix for one engine run, and the engine environment naming
// them: createScenario (creates the topics, for the integration and scale suites) and
// topicsFor/engineEnv (names only; the fault suite's audit creates the topics).
import type { AuditOptions } from './audit.js';
import { KAFKA_BROKERS, createTopic, kafka, uniqueName } from './services.js';
import { loadFeatureSet } from '../../src/features/feature-set.js';
import { featureKeyPrefix } from '../../src/features/redis-feature-store.js';

export type FaultTopics = ReturnType<typeof topicsFor>;

export function topicsFor(name: string) {
  return { input: `${name}-in`, output: `${name}-out`, validation: `${name}-dlq-v`, processing: `${name}-dlq-p`, late: `${name}-dlq-l` };
}

/** The fault suite's engine env: two workers, logs at FAULT_LOG_LEVEL (default warn). `extra` is applied last, so it can also override (e.g. KAFKA_BROKERS of a dedicated broker). */
export function engineEnv(name: string, t: FaultTopics, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS,
    INPUT_TOPIC: t.input,
    OUTPUT_TOPIC: t.output,
    DLQ_VALIDATION_TOPIC: t.validation,
    DLQ_PROCESSING_TOPIC: t.processing,
    DLQ_LATE_TOPIC: t.late,
    KAFKA_GROUP_ID: name,
    REDIS_KEY_PREFIX: `${name}:`,
    WORKERS: '2',
    LOG_LEVEL: process.env.FAULT_LOG_LEVEL ?? 'warn',
    ...extra,
  };
}

/**
 * Waits until every partition of the topics answers a ListOffsets request: right after creation a
 * busy broker can still say "This server does not host this topic-partition" for a moment.
 */
export async function waitForTopics(topics: string[], timeoutMs = 30_000): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  try {
    for (const topic of topics) {
      for (;;) {
        try {
          await admin.fetchTopicOffsets(topic);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  } finally {
    await admin.disconnect();
  }
}

export interface Scenario {
  input: string;
  output: string;
  validation: string;
  processing: string;
  late: string;
  groupId: string;
  /** Prefix of the user hashes as the engine writes them with the default model: REDIS_KEY_PREFIX + its feature set's hash + ':'. */
  keyPrefix: string;
  /** REDIS_KEY_PREFIX given to the engine. */
  redisKeyPrefix: string;
  partitions: number;
  env: Record<string, string>;
  auditOptions: AuditOptions;
}

/** Creates the topics (input and output with `partitions`, DLQs with 1) of a fresh scenario. */
export async function createScenario(prefix: string, partitions = 4, redisUrl?: string): Promise<Scenario> {
  const s = {
    input: uniqueName(`${prefix}-in`),
    output: uniqueName(`${prefix}-out`),
    validation: uniqueName(`${prefix}-dlq-validation`),
    processing: uniqueName(`${prefix}-dlq-processing`),
    late: uniqueName(`${prefix}-dlq-late`),
    groupId: uniqueName(`${prefix}-group`),
    redisKeyPrefix: `${uniqueName(prefix)}:u:`,
    keyPrefix: '',
    partitions,
  };
  s.keyPrefix = featureKeyPrefix(s.redisKeyPrefix, loadFeatureSet(new URL('../../models/model.json', import.meta.url).pathname));
  for (const [topic, n] of [[s.input, partitions], [s.output, partitions], [s.validation, 1], [s.processing, 1], [s.late, 1]] as const) await createTopic(topic, n);
  await waitForTopics([s.input, s.output, s.validation, s.processing, s.late]);
  const env: Record<string, string> = {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    INPUT_TOPIC: s.input,
    OUTPUT_TOPIC: s.output,
    DLQ_VALIDATION_TOPIC: s.validation,
    DLQ_PROCESSING_TOPIC: s.processing,
    DLQ_LATE_TOPIC: s.late,
    KAFKA_GROUP_ID: s.groupId,
    REDIS_KEY_PREFIX: s.redisKeyPrefix,
    LOG_LEVEL: 'warn',
    // kafkajs 2 warns once about its default partitioner change; irrelevant here.
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
  if (redisUrl ?? process.env.REDIS_URL) env.REDIS_URL = (redisUrl ?? process.env.REDIS_URL)!;
  return { ...s, env, auditOptions: { inputTopic: s.input, outputTopic: s.output, dlqTopics: [s.validation, s.processing, s.late] } };
}
