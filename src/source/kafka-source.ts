import type { Admin, Consumer, Kafka } from 'kafkajs';
import { registerAdaptiveFetch, unregisterAdaptiveFetch } from '../kafka/kafkajs-adaptive-fetch.js';
import type { Logger } from '../ops/logger.js';
import { errorMessage } from '../shared/errors.js';
import { waitForTopic } from './topic-wait.js';
import type { RawRecord, Source, SourceHandlers, TopicPartition } from './source.js';

export interface KafkaSourceOptions {
  groupId: string;
  topic: string;
  /** Consumer crashes kafkajs could not retry; returns true while a restart is allowed. */
  allowRestart: (err: Error) => boolean;
  /** Bytes one fetch may bring per partition (kafkajs default 1 MiB); see fetchBytesPerPartition. */
  maxBytesPerPartition?: number;
  /** Broker-side fetch batching: wait up to maxWaitMs for minBytes. */
  fetchMaxWaitMs?: number;
  fetchMinBytes?: number;
  /** After a fetch that brought nothing: minBytes 1 and this long a wait, until records flow again (0: always the pair above). */
  fetchIdleMaxWaitMs?: number;
}

/**
 * How old the consumer's topic metadata may get. kafkajs notices partitions added to the input
 * topic only when it refreshes metadata (then it rejoins the group: "Topic has been updated,
 * resync group"); its default of 5 minutes left new partitions unread that long.
 */
const METADATA_MAX_AGE_MS = 10_000;
/**
 * The consumer group session timeout. kafkajs has no static membership (group.instance.id): a
 * restarted instance waits until the crashed one's session expires before it gets partitions
 * back. 6 s (the broker's default group.min.session.timeout.ms) instead of 30 s makes that wait 6 s.
 */
export const GROUP_SESSION_TIMEOUT_MS = 6000;

/** Nominal size of one event record, for sizing fetches in events. */
const NOMINAL_RECORD_BYTES = 128;

/**
 * Fetch size per partition for an in-flight bound of `maxInFlightPerPartition` events: about one
 * bound's worth of nominal records. The engine pauses a partition only between fetched batches,
 * so a fetch can overshoot the bound by one batch; with kafkajs's 1 MiB default that batch was
 * ~8,000 events, which made a bound of 100 or even 2,000 meaningless. The broker still returns
 * the first record batch whole when it is larger, so no record is ever too big to fetch.
 */
export function fetchBytesPerPartition(maxInFlightPerPartition: number): number {
  return Math.min(1024 * 1024, Math.max(4096, maxInFlightPerPartition * NOMINAL_RECORD_BYTES));
}

/**
 * kafkajs consumer with manual commits. eachBatch hands records over and returns at once, so
 * fetching overlaps processing and heartbeats never wait behind a long batch (kafkajs #708).
 */
export class KafkaSource implements Source {
  readonly kind = 'kafka' as const;
  private readonly consumer: Consumer;
  private running = false;
  /** stop() or close() was called (possibly while waiting for the input topic). */
  private stopped = false;
  private admin: Promise<Admin> | null = null;

  constructor(private readonly kafka: Kafka, private readonly opts: KafkaSourceOptions, private readonly log: Logger) {
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: GROUP_SESSION_TIMEOUT_MS,
      rebalanceTimeout: 60000,
      heartbeatInterval: 2000,
      // Batch fetches on the broker (like the Java client's fetch.min.bytes / fetch.max.wait.ms):
      // with minBytes 1 kafkajs would refetch on every round trip and spend most of the main
      // thread on per-fetch overhead at moderate rates.
      maxWaitTimeInMs: opts.fetchMaxWaitMs ?? 5,
      minBytes: opts.fetchMinBytes ?? 65536,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
      metadataMaxAge: METADATA_MAX_AGE_MS,
      // The input topic is someone else's to create (with its partition count): wait for it.
      allowAutoTopicCreation: false,
      retry: { restartOnFailure: async (err) => opts.allowRestart(err) },
    });
    const idleMaxWaitMs = opts.fetchIdleMaxWaitMs ?? 500;
    if (idleMaxWaitMs > 0) registerAdaptiveFetch(opts.groupId, { busy: { minBytes: opts.fetchMinBytes ?? 65536, maxWaitMs: opts.fetchMaxWaitMs ?? 5 }, idleMaxWaitMs });
  }

  async start(h: SourceHandlers): Promise<void> {
    const c = this.consumer;
    c.on(c.events.GROUP_JOIN, (e) => {
      const assigned: TopicPartition[] = [];
      for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) for (const partition of parts as number[]) assigned.push({ topic, partition });
      this.log.info({ assigned: assigned.map((p) => p.partition), memberId: e.payload.memberId }, 'partitions assigned');
      h.onAssignment(assigned);
    });
    c.on(c.events.REBALANCING, () => h.onRebalancing?.());
    c.on(c.events.CRASH, (e) => {
      const err = e.payload.error;
      this.log.error({ err, restart: e.payload.restart }, 'consumer crashed');
      if (!e.payload.restart) h.onFatal(err);
    });
    await this.waitForTopic();
    if (this.stopped) return;
    await c.connect();
    await c.subscribe({ topic: this.opts.topic, fromBeginning: true });
    this.running = true;
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, isStale }) => {
        if (isStale() || !this.running) return;
        const { topic, partition } = batch;
        const records: RawRecord[] = new Array(batch.messages.length);
        for (let i = 0; i < batch.messages.length; i++) {
          const m = batch.messages[i];
          records[i] = { topic, partition, offset: Number(m.offset), key: m.key, value: m.value, timestamp: Number(m.timestamp) };
        }
        if (records.length) h.onBatch(records, Number(batch.highWatermark));
      },
    });
  }

  /** Returns once the input topic exists (or stop() was called): see topic-wait.ts. */
  private async waitForTopic(): Promise<void> {
    const admin = await this.sharedAdmin();
    await waitForTopic(this.opts.topic, () => admin.listTopics(), () => this.stopped, this.log);
  }

  private sharedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const a = this.kafka.admin();
      await a.connect();
      return a;
    })();
    return this.admin.catch((err) => {
      this.admin = null;
      throw err;
    });
  }

  pause(partitions: TopicPartition[]): void {
    if (this.running) this.consumer.pause(group(partitions));
  }

  resume(partitions: TopicPartition[]): void {
    if (this.running) this.consumer.resume(group(partitions));
  }

  /** The group's committed offset of a partition, or the partition's earliest offset when none (the group starts from the beginning). */
  async committedOffset(tp: TopicPartition): Promise<number> {
    const admin = await this.sharedAdmin();
    const [t] = await admin.fetchOffsets({ groupId: this.opts.groupId, topics: [tp.topic] });
    const committed = Number(t?.partitions.find((p) => p.partition === tp.partition)?.offset ?? -1);
    if (committed >= 0) return committed;
    const ends = await admin.fetchTopicOffsets(tp.topic);
    return Number(ends.find((p) => p.partition === tp.partition)?.low ?? 0);
  }

  /** The partition's next fetch starts at `offset`. */
  seek(tp: TopicPartition, offset: number): void {
    if (this.running) this.consumer.seek({ topic: tp.topic, partition: tp.partition, offset: String(offset) });
  }

  async commit(offsets: { topic: string; partition: number; offset: number }[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
  }

  /**
   * Stops fetching but stays in the group: kafkajs's consumer.stop() leaves the group and drops
   * its runner, after which commitOffsets fails ("consumer#run must be called first") and the
   * engine's final commit of what it drained would be lost. Pausing every partition stops
   * fetches (heartbeats go on); close() leaves the group after that commit.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.running) return; // still waiting for the input topic: nothing fetched
    this.running = false;
    this.consumer.pause([{ topic: this.opts.topic }]);
  }

  async close(): Promise<void> {
    this.stopped = true;
    const admin = this.admin;
    this.admin = null;
    if (admin) await admin.then((a) => a.disconnect()).catch((err: Error) => this.log.warn({ err: errorMessage(err) }, 'closing the metadata admin client failed'));
    this.running = false;
    await this.consumer.disconnect();
    unregisterAdaptiveFetch(this.opts.groupId);
  }
}

function group(partitions: TopicPartition[]): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const p of partitions) (m.get(p.topic) ?? m.set(p.topic, []).get(p.topic)!).push(p.partition);
  return [...m].map(([topic, ps]) => ({ topic, partitions: ps }));
}
