import { Admin, ConnectionPool, Consumer, FetchIsolationLevels, ListOffsetTimestamps, kGetApi, type BaseOptions, type ClusterMetadata, type ConsumerGroupJoinPayload, type Connection } from '@platformatic/kafka';
import { FetchSizing } from '../kafka/fetch-sizing.js';
import type { Logger } from '../ops/logger.js';
import { errorMessage } from '../shared/errors.js';
import { GROUP_SESSION_TIMEOUT_MS, type KafkaSourceOptions } from './kafka-source.js';
import { decodeBatches } from './platformatic-records.js';
import { tpKey, type RawRecord, type Source, type SourceHandlers, type TopicPartition } from './source.js';

export interface PlatformaticSourceOptions extends KafkaSourceOptions {
  /** platformaticBaseOptions(config): brokers, TLS, SASL, retries. */
  client: BaseOptions;
  /** Delay before retry `attempt` (1-based) of a failed fetch or offset look-up. */
  retryDelayMs: (attempt: number) => number;
}

/** As kafka-source.ts: the input topic's metadata this old is refreshed (and a grown partition count noticed). */
const METADATA_MAX_AGE_MS = 10_000;
const REBALANCE_TIMEOUT_MS = 60_000;
const TOPIC_WAIT_MS = 3_000;
/** Consecutive failed fetches that count as one consumer failure against MAX_FAILURES (kafkajs: one exhausted retry policy). */
const FAILURES_PER_RESTART = 10;
/** Bytes per fetch response over all partitions (kafkajs's maxBytes default). */
const MAX_BYTES = 10 * 1024 * 1024;
const OFFSET_OUT_OF_RANGE = 1;
const FULL_FETCH_EPOCH = -1;

/** One assigned partition: where its next fetch starts. A new object per assignment, so a stale response never matches. */
interface Part {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  offset: number;
  /** Bumped by seek: a fetch sent before it is discarded. */
  epoch: number;
}

type FetchApi = (conn: Connection, maxWaitMs: number, minBytes: number, maxBytes: number, isolation: number, sessionId: number, sessionEpoch: number, topics: unknown[], forgotten: unknown[], rackId: string, cb: (err: Error | null, res: FetchResponse) => void) => void;
interface FetchResponse {
  responses: { topicId: string; partitions: { partitionIndex: number; errorCode: number; highWatermark: bigint; abortedTransactions?: { producerId: bigint; firstOffset: bigint }[]; records?: Parameters<typeof decodeBatches>[2] }[] }[];
}

/**
 * The Kafka source on @platformatic/kafka (KAFKA_CLIENT=platformatic), behaving as KafkaSource
 * does on kafkajs. The library's group membership (join, sync, heartbeats, rebalances) is used
 * as it is; fetching is this class's own loop over the library's Fetch API, because its
 * MessagesStream can only pause as a whole (the engine pauses single partitions), builds a
 * message object, a headers Map and a commit closure per record, and filters aborted
 * transactions wrongly (platformatic-records.ts). One fetch per leader broker is in flight, on
 * connections of its own (a fetch waiting on the broker would hold up heartbeats and commits
 * behind it on the group's connection); a partition paused, revoked or sought while its fetch
 * was in flight has that fetch's records discarded and is fetched again from where it stands.
 */
export class PlatformaticSource implements Source {
  readonly kind = 'kafka' as const;
  /** The group member (exactly-once hands it to its transactions: KIP-447 group metadata). */
  readonly consumer: Consumer;
  private readonly fetchPool: ConnectionPool;
  private readonly sizing: FetchSizing | null;
  private h: SourceHandlers | null = null;
  private parts = new Map<string, Part>();
  /** Paused partitions by tpKey; kept across assignments, as kafkajs does (the engine resumes what it must). */
  private readonly paused = new Set<string>();
  private readonly inflight = new Set<number>();
  private md: { topicId: string; leaders: number[]; brokers: ClusterMetadata['brokers'] } | null = null;
  private mdAt = 0;
  private mdRefresh: Promise<void> | null = null;
  private running = false;
  private stopped = false;
  private joinSeq = 0;
  private partitionsAtJoin = 0;
  private failures = 0;
  private wake: NodeJS.Timeout | null = null;
  private pumpQueued = false;
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
    this.fetchPool = new ConnectionPool(opts.client.clientId, { ...opts.client });
    const idleMaxWaitMs = opts.fetchIdleMaxWaitMs ?? 500;
    this.sizing = idleMaxWaitMs > 0 ? new FetchSizing({ busy: { minBytes: opts.fetchMinBytes ?? 65536, maxWaitMs: opts.fetchMaxWaitMs ?? 5 }, idleMaxWaitMs }, performance.now()) : null;
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
    await this.refreshMetadata(true);
    this.running = true;
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
    this.parts = new Map();
    this.partitionsAtJoin = Math.max(this.partitionsAtJoin, this.md?.leaders.length ?? 0);
    const resolve = async (attempt: number): Promise<void> => {
      try {
        const offsets = await this.positions(assigned);
        if (seq !== this.joinSeq || this.stopped) return;
        const parts = new Map<string, Part>();
        for (let i = 0; i < assigned.length; i++) {
          const { topic, partition } = assigned[i];
          const key = tpKey(topic, partition);
          parts.set(key, { topic, partition, key, offset: offsets[i], epoch: 0 });
        }
        this.parts = parts;
        this.log.info({ assigned: assigned.map((x) => x.partition), memberId: p.memberId, generationId: p.generationId }, 'partitions assigned');
        this.h?.onAssignment(assigned);
        this.pump();
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

  /** Schedules one pass of the fetch loop (coalesced). */
  private pump(): void {
    if (this.pumpQueued || !this.running) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.fetchAll();
    });
  }

  /** Sends a fetch to every leader that has a fetchable partition and none in flight. */
  private fetchAll(): void {
    if (!this.running || this.wake) return;
    if (Date.now() - this.mdAt > METADATA_MAX_AGE_MS) return void this.refreshThenPump();
    const md = this.md!;
    let byLeader: Map<number, Part[]> | null = null;
    for (const p of this.parts.values()) {
      if (this.paused.has(p.key)) continue;
      const leader = md.leaders[p.partition];
      if (leader === undefined || leader < 0) return void this.refreshThenPump();
      if (this.inflight.has(leader)) continue;
      byLeader ??= new Map();
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, (list = []));
      list.push(p);
    }
    if (byLeader) for (const [node, parts] of byLeader) this.fetchFrom(node, parts);
  }

  private fetchFrom(node: number, parts: Part[]): void {
    const broker = this.md!.brokers.get(node);
    if (!broker) return void this.refreshThenPump();
    this.inflight.add(node);
    const epochs = parts.map((p) => p.epoch);
    const from = parts.map((p) => p.offset);
    const maxBytesPerPartition = this.opts.maxBytesPerPartition ?? 1024 * 1024;
    const request = [{ topicId: this.md!.topicId, partitions: parts.map((p, i) => ({ partition: p.partition, fetchOffset: BigInt(from[i]), partitionMaxBytes: maxBytesPerPartition, currentLeaderEpoch: -1, lastFetchedEpoch: -1 })) }];
    const { minBytes, maxWaitMs } = this.sizing ? this.sizing.next() : { minBytes: this.opts.fetchMinBytes ?? 65536, maxWaitMs: this.opts.fetchMaxWaitMs ?? 5 };
    const failed = (err: Error) => {
      this.inflight.delete(node);
      this.fetchFailed(err);
    };
    this.fetchPool.get(broker, (err, conn) => {
      if (err) return failed(err);
      this.consumer[kGetApi]('Fetch', (err2, api) => {
        if (err2) return failed(err2);
        // Session id 0, epoch -1: a full fetch that opens no incremental fetch session (KIP-227;
        // epoch 0 would make the broker create a session per request, never used again).
        (api as unknown as FetchApi)(conn!, maxWaitMs, minBytes, MAX_BYTES, FetchIsolationLevels.READ_COMMITTED, 0, FULL_FETCH_EPOCH, request, [], '', (err3, res) => {
          this.inflight.delete(node);
          // A response with a partition-level error arrives as the error, carrying the response.
          const response = res ?? (err3 as { response?: FetchResponse } | null)?.response;
          if (!response) return this.fetchFailed(err3!);
          this.failures = 0;
          this.deliver(parts, epochs, from, response);
          this.pump();
        });
      });
    });
  }

  private deliver(parts: Part[], epochs: number[], from: number[], res: FetchResponse): void {
    let records = 0;
    let bytes = 0;
    let stale = false;
    for (const t of res.responses) {
      for (const r of t.partitions) {
        let i = 0;
        while (i < parts.length && parts[i].partition !== r.partitionIndex) i++;
        const p = parts[i];
        if (!p) continue;
        if (r.errorCode !== 0) {
          if (r.errorCode === OFFSET_OUT_OF_RANGE) this.resetToEarliest(p);
          else stale = true;
          continue;
        }
        if (!r.records) continue;
        // Paused, sought, or revoked while the fetch was out: fetched again from where it stands now.
        if (!this.running || this.parts.get(p.key) !== p || p.epoch !== epochs[i] || this.paused.has(p.key)) continue;
        const out: RawRecord[] = [];
        const d = decodeBatches(p.topic, p.partition, r.records, r.abortedTransactions, from[i], out);
        p.offset = d.next;
        records += out.length;
        bytes += d.bytes;
        if (out.length) this.h!.onBatch(out, Number(r.highWatermark));
      }
    }
    this.sizing?.fetched(records, bytes, performance.now());
    if (stale) this.mdAt = 0; // a leader moved or the topic changed: refresh before the next fetch
  }

  private fetchFailed(err: Error): void {
    if (!this.running) return;
    this.failures++;
    this.mdAt = 0;
    this.log.warn({ err: errorMessage(err), attempt: this.failures }, 'fetch failed; retrying');
    if (this.failures % FAILURES_PER_RESTART === 0 && !this.opts.allowRestart(err)) return this.h?.onFatal(err);
    this.retryLater(this.opts.retryDelayMs(this.failures));
  }

  private retryLater(ms: number): void {
    if (this.wake) return;
    this.wake = setTimeout(() => {
      this.wake = null;
      this.pump();
    }, ms);
  }

  private resetToEarliest(p: Part): void {
    const epoch = ++p.epoch;
    this.consumer.listOffsets({ topics: [p.topic], partitions: { [p.topic]: [p.partition] }, timestamp: ListOffsetTimestamps.EARLIEST }).then(
      (o) => {
        if (p.epoch !== epoch) return;
        const earliest = Number(o.get(p.topic)?.[p.partition] ?? 0n);
        this.log.warn({ partition: p.partition, offset: p.offset, earliest }, 'fetch offset out of range; reading from the earliest offset');
        p.offset = earliest;
        p.epoch++;
        this.pump();
      },
      (err: Error) => this.fetchFailed(err),
    );
  }

  private refreshThenPump(): void {
    this.refreshMetadata(true).then(
      () => this.pump(),
      (err: Error) => this.fetchFailed(err),
    );
  }

  /** The input topic's id, partition leaders and brokers. */
  private refreshMetadata(force: boolean): Promise<void> {
    this.mdRefresh ??= (async () => {
      try {
        const md = await this.consumer.metadata({ topics: [this.opts.topic], forceUpdate: force });
        const t = md.topics.get(this.opts.topic)!;
        this.md = { topicId: t.id, leaders: t.partitions.map((x) => x.leader), brokers: md.brokers };
        this.mdAt = Date.now();
      } finally {
        this.mdRefresh = null;
      }
    })();
    return this.mdRefresh;
  }

  /**
   * Partitions added to the input topic: the group leader assigns them only when it rejoins (the
   * library does not watch for it), so every member that notices rejoins, as kafkajs does.
   */
  private async watchPartitions(): Promise<void> {
    if (!this.running) return;
    try {
      await this.refreshMetadata(true);
    } catch (err) {
      return this.log.warn({ err: errorMessage(err) }, 'input topic metadata refresh failed');
    }
    const n = this.md!.leaders.length;
    if (n <= this.partitionsAtJoin || !this.running) return;
    this.log.info({ topic: this.opts.topic, partitions: n, before: this.partitionsAtJoin }, 'input topic has new partitions; rejoining the group');
    this.partitionsAtJoin = n;
    this.h?.onRebalancing?.();
    await this.join().catch((err: Error) => this.h?.onFatal(err));
  }

  /** As kafka-source.ts: returns once the input topic exists (or stop() was called), saying every few seconds that it waits. */
  private async waitForTopic(): Promise<void> {
    const admin = new Admin({ ...this.opts.client });
    try {
      const since = Date.now();
      for (let waited = false; ; waited = true) {
        if ((await admin.listTopics()).includes(this.opts.topic)) {
          if (waited) this.log.info({ topic: this.opts.topic, waitedMs: Date.now() - since }, 'input topic exists; subscribing');
          return;
        }
        if (this.stopped) return;
        this.log.warn({ topic: this.opts.topic, waitingMs: Date.now() - since }, 'input topic does not exist yet; waiting for it to be created');
        await delay(TOPIC_WAIT_MS);
      }
    } finally {
      await admin.close().catch((err: Error) => this.log.debug({ err: errorMessage(err) }, 'admin close failed'));
    }
  }

  pause(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(tpKey(tp.topic, tp.partition));
  }

  resume(partitions: TopicPartition[]): void {
    let any = false;
    for (const tp of partitions) any = this.paused.delete(tpKey(tp.topic, tp.partition)) || any;
    if (any) this.pump();
  }

  async committedOffset(tp: TopicPartition): Promise<number> {
    const [offset] = await this.positions([tp]);
    return offset;
  }

  seek(tp: TopicPartition, offset: number): void {
    const p = this.parts.get(tpKey(tp.topic, tp.partition));
    if (!p) return;
    p.offset = offset;
    p.epoch++;
    this.pump();
  }

  async commit(offsets: { topic: string; partition: number; offset: number }[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.consumer.commit({ offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset), leaderEpoch: -1 })) });
  }

  /** Stops fetching and stays in the group (heartbeats go on), so the engine's final commit still lands. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.watcher) clearInterval(this.watcher);
    this.watcher = null;
    const results = await Promise.allSettled([this.consumer.close(), this.fetchPool.close()]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
