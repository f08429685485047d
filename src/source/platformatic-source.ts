import { Admin, Consumer, FetchIsolationLevels, ListOffsetTimestamps, type BaseOptions, type ConsumerGroupJoinPayload } from '@platformatic/kafka';
import type { Logger } from '../ops/logger.js';
import { waitForTopic } from './topic-wait.js';
import { errorMessage } from '../shared/errors.js';
import { GROUP_SESSION_TIMEOUT_MS, type KafkaSourceOptions } from './kafka-source.js';
import { FAILURES_PER_RESTART, METADATA_MAX_AGE_MS, PlatformaticFetcher } from './platformatic-fetcher.js';
import type { Source, SourceHandlers, TopicPartition } from './source.js';

export interface PlatformaticSourceOptions extends KafkaSourceOptions {
  /** platformaticBaseOptions(config): brokers, TLS, SASL, retries. */
  client: BaseOptions;
  /** Delay before retry `attempt` (1-based) of a failed fetch or offset look-up. */
  retryDelayMs: (attempt: number) => number;
}

const REBALANCE_TIMEOUT_MS = 60_000;

/**
 * The Kafka source on @platformatic/kafka (KAFKA_CLIENT=platformatic), behaving as KafkaSource
 * does on kafkajs. The library's group membership (join, sync, heartbeats, rebalances) is used
 * as it is; fetching is PlatformaticFetcher's own loop over the library's Fetch API, because its
 * MessagesStream can only pause as a whole (the engine pauses single partitions), builds a
 * message object, a headers Map and a commit closure per record, and filters aborted
 * transactions wrongly (platformatic-records.ts).
 */
export class PlatformaticSource implements Source {
  readonly kind = 'kafka' as const;
  /** The group member (exactly-once hands it to its transactions: KIP-447 group metadata). */
  readonly consumer: Consumer;
  private readonly fetcher: PlatformaticFetcher;
  private h: SourceHandlers | null = null;
  private running = false;
  private stopped = false;
  private joinSeq = 0;
  private partitionsAtJoin = 0;
  private watcher: NodeJS.Timeout | null = null;

  constructor(private readonly opts: PlatformaticSourceOptions, private readonly log: Logger) {
    this.consumer = new Consumer({
      ...opts.client,
      // A JoinGroup waits up to the rebalance timeout for the other members.
      requestTimeout: REBALANCE_TIMEOUT_MS + 5000,
      groupId: opts.groupId,
      sessionTimeout: GROUP_SESSION_TIMEOUT_MS,
      rebalanceTimeout: REBALANCE_TIMEOUT_MS,
      heartbeatInterval: 2000,
      // kafkajs's assignor name (the library's is 'roundrobin'): members on either client can
      // share one group (the broker needs a protocol name common to all), so an engine can
      // switch KAFKA_CLIENT one instance at a time. Both encode the standard consumer protocol.
      protocols: [{ name: 'RoundRobinAssigner', version: 0 }],
      autocommit: false,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      metadataMaxAge: METADATA_MAX_AGE_MS,
    });
    this.fetcher = new PlatformaticFetcher(this.consumer, opts, { onBatch: (records, hw) => this.h!.onBatch(records, hw), onFatal: (err) => this.h?.onFatal(err) }, log);
  }

  async start(h: SourceHandlers): Promise<void> {
    this.h = h;
    const c = this.consumer;
    c.on('consumer:group:join', (p) => this.onJoin(p));
    // A heartbeat met REBALANCE_IN_PROGRESS; the library rejoins at once.
    c.on('consumer:group:rebalance', () => h.onRebalancing?.());
    c.on('consumer:heartbeat:error', (p) => this.log.warn({ err: errorMessage(p.error) }, 'consumer heartbeat failed'));
    // The library's rejoin after a rebalance failed through all its retries.
    c.on('error', (err: Error) => this.crashed(err));
    await this.waitForTopic();
    if (this.stopped) return;
    c.topics.track(this.opts.topic);
    await this.fetcher.refreshMetadata(true);
    // 1.35 keeps the group coordinator's node id for the consumer's lifetime: when that broker
    // stops, the library's next group request throws an uncaught TypeError and the process dies
    // (platformatic/kafka#290; test/fault/broker-rolling-restart.test.ts). Say so where it matters.
    if (this.fetcher.brokerCount > 1) {
      this.log.warn({ brokers: this.fetcher.brokerCount }, 'KAFKA_CLIENT=platformatic on a multi-broker cluster: @platformatic/kafka 1.35 does not survive its group coordinator\'s broker stopping (the process exits with code 1; platformatic/kafka#290). Use KAFKA_CLIENT=kafkajs where brokers restart (rolling upgrades)');
    }
    this.running = true;
    this.fetcher.start();
    await this.join();
    this.watcher = setInterval(() => void this.watchPartitions(), METADATA_MAX_AGE_MS);
    this.watcher.unref();
  }

  private async join(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.consumer.joinGroup({});
        return;
      } catch (err) {
        if (this.stopped) return;
        this.log.error({ err: errorMessage(err), attempt }, 'joining the consumer group failed');
        if (!this.opts.allowRestart(err as Error)) throw err;
        await delay(this.opts.retryDelayMs(attempt));
      }
    }
  }

  private crashed(err: Error): void {
    this.log.error({ err: errorMessage(err) }, 'consumer crashed');
    if (this.stopped) return;
    if (!this.opts.allowRestart(err)) return this.h?.onFatal(err);
    void this.join().catch((e: Error) => this.h?.onFatal(e));
  }

  /** A join (or rejoin) finished: fetch positions for the assignment, then tell the engine. */
  private onJoin(p: ConsumerGroupJoinPayload): void {
    const seq = ++this.joinSeq;
    const assigned: TopicPartition[] = [];
    for (const a of p.assignments ?? []) if (a.topic === this.opts.topic) for (const partition of a.partitions) assigned.push({ topic: a.topic, partition });
    assigned.sort((a, b) => a.partition - b.partition);
    // Nothing is fetched until the positions are known; responses in flight no longer match.
    this.fetcher.assign([]);
    this.partitionsAtJoin = Math.max(this.partitionsAtJoin, this.fetcher.partitionCount);
    const resolve = async (attempt: number): Promise<void> => {
      try {
        const offsets = await this.positions(assigned);
        if (seq !== this.joinSeq || this.stopped) return;
        this.fetcher.assign(assigned.map((tp, i) => ({ ...tp, offset: offsets[i] })));
        this.log.info({ assigned: assigned.map((x) => x.partition), memberId: p.memberId, generationId: p.generationId }, 'partitions assigned');
        this.h?.onAssignment(assigned);
      } catch (err) {
        if (seq !== this.joinSeq || this.stopped) return;
        this.log.warn({ err: errorMessage(err), attempt }, 'reading the committed offsets of the assignment failed; retrying');
        if (attempt % FAILURES_PER_RESTART === 0 && !this.opts.allowRestart(err as Error)) return this.h?.onFatal(err as Error);
        setTimeout(() => void resolve(attempt + 1), this.opts.retryDelayMs(attempt)).unref();
      }
    };
    void resolve(1);
  }

  /** Where each partition starts: the group's committed offset, or the earliest one (a new group reads from the beginning). */
  private async positions(tps: readonly TopicPartition[]): Promise<number[]> {
    if (tps.length === 0) return [];
    const topic = this.opts.topic;
    const partitions = tps.map((t) => t.partition);
    const committed = (await this.consumer.listCommittedOffsets({ topics: [{ topic, partitions }] })).get(topic) ?? [];
    const out = partitions.map((p) => Number(committed[p] ?? -1n));
    const missing = partitions.filter((_, i) => out[i] < 0);
    if (missing.length) {
      const earliest = (await this.consumer.listOffsets({ topics: [topic], partitions: { [topic]: missing }, timestamp: ListOffsetTimestamps.EARLIEST })).get(topic) ?? [];
      for (let i = 0; i < partitions.length; i++) if (out[i] < 0) out[i] = Number(earliest[partitions[i]] ?? 0n);
    }
    return out;
  }

  /**
   * Partitions added to the input topic: the group leader assigns them only when it rejoins (the
   * library does not watch for it), so every member that notices rejoins, as kafkajs does.
   */
  private async watchPartitions(): Promise<void> {
    if (!this.running) return;
    try {
      await this.fetcher.refreshMetadata(true);
    } catch (err) {
      return this.log.warn({ err: errorMessage(err) }, 'input topic metadata refresh failed');
    }
    const n = this.fetcher.partitionCount;
    if (n <= this.partitionsAtJoin || !this.running) return;
    this.log.info({ topic: this.opts.topic, partitions: n, before: this.partitionsAtJoin }, 'input topic has new partitions; rejoining the group');
    this.partitionsAtJoin = n;
    this.h?.onRebalancing?.();
    await this.join().catch((err: Error) => this.h?.onFatal(err));
  }

  /** Returns once the input topic exists (or stop() was called): see topic-wait.ts. */
  private async waitForTopic(): Promise<void> {
    const admin = new Admin({ ...this.opts.client });
    try {
      await waitForTopic(this.opts.topic, () => admin.listTopics(), () => this.stopped, this.log);
    } finally {
      await admin.close().catch((err: Error) => this.log.debug({ err: errorMessage(err) }, 'admin close failed'));
    }
  }

  pause(partitions: TopicPartition[]): void {
    this.fetcher.pause(partitions);
  }

  resume(partitions: TopicPartition[]): void {
    this.fetcher.resume(partitions);
  }

  async committedOffset(tp: TopicPartition): Promise<number> {
    const [offset] = await this.positions([tp]);
    return offset;
  }

  seek(tp: TopicPartition, offset: number): void {
    this.fetcher.seek(tp, offset);
  }

  async commit(offsets: { topic: string; partition: number; offset: number }[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.consumer.commit({ offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset), leaderEpoch: -1 })) });
  }

  /** Stops fetching and stays in the group (heartbeats go on), so the engine's final commit still lands. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    this.fetcher.stop();
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.watcher) clearInterval(this.watcher);
    this.watcher = null;
    const results = await Promise.allSettled([this.consumer.close(), this.fetcher.close()]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
