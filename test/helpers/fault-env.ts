// The topics and engine environment every fault test starts from: fresh names per run, the
// three DLQ topics, two workers, logs at FAULT_LOG_LEVEL (default warn).
import { KAFKA_BROKERS } from './services.js';

export type FaultTopics = ReturnType<typeof topicsFor>;

export function topicsFor(name: string) {
  return { input: `${name}-in`, output: `${name}-out`, validation: `${name}-dlq-v`, processing: `${name}-dlq-p`, late: `${name}-dlq-l` };
}

/** `extra` is applied last, so it can also override (e.g. KAFKA_BROKERS of a dedicated broker). */
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
