import { ConnectionPool, FetchIsolationLevels, ListOffsetTimestamps, kGetApi, type BaseOptions, type ClusterMetadata, type Connection, type Consumer } from '@platformatic/kafka';
import { FetchSizing } from '../kafka/fetch-sizing.js';
import type { Logger } from '../ops/logger.js';
import { errorMessage } from '../shared/errors.js';
import { decodeBatches } from './platformatic-records.js';
import { tpKey, type RawRecord, type TopicPartition } from './source.js';

export interface FetcherOptions {
  topic: string;
  /** platformaticBaseOptions(config), for the fetch connections. */
  client: BaseOptions;
  maxBytesPerPartition?: number;
  fetchMaxWaitMs?: number;
  fetchMinBytes?: number;
  fetchIdleMaxWaitMs?: number;
  retryDelayMs: (attempt: number) => number;
  /** Called after each run of FAILURES_PER_RESTART failed fetches; false: the failure limit is exceeded. */
  allowRestart: (err: Error) => boolean;
}

export interface FetcherHandlers {
  onBatch(records: RawRecord[], highWatermark?: number): void;
  onFatal(err: Error): void;
}

/** The input topic's metadata this old is refreshed before the next fetch (kafka-source.ts: 10 s). */
export const METADATA_MAX_AGE_MS = 10_000;
/** Consecutive failed fetches that count as one consumer failure against MAX_FAILURES (kafkajs: one exhausted retry policy). */
export const FAILURES_PER_RESTART = 10;
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
 * PlatformaticSource's fetch loop on the library's Fetch API: the partitions of the current
 * assignment from their positions, one fetch per leader broker in flight, on connections of its
 * own (a fetch waiting on the broker would hold up heartbeats and commits behind it on the
 * group's connection), read_committed, sized by FetchSizing. A partition paused, sought or
 * revoked while its fetch was out has that fetch's records discarded and is fetched again from
 * where it stands.
 */
export class PlatformaticFetcher {
  private readonly pool: ConnectionPool;
  private readonly sizing: FetchSizing | null;
  private parts = new Map<string, Part>();
  /** Paused partitions by tpKey; kept across assignments, as kafkajs does (the engine resumes what it must). */
  private readonly paused = new Set<string>();
  private readonly inflight = new Set<number>();
  private md: { topicId: string; leaders: number[]; brokers: ClusterMetadata['brokers'] } | null = null;
  private mdAt = 0;
  private mdRefresh: Promise<void> | null = null;
  private running = false;
  private failures = 0;
  private wake: NodeJS.Timeout | null = null;
  private pumpQueued = false;

  constructor(private readonly consumer: Consumer, private readonly opts: FetcherOptions, private readonly h: FetcherHandlers, private readonly log: Logger) {
    this.pool = new ConnectionPool(opts.client.clientId, { ...opts.client });
    const idleMaxWaitMs = opts.fetchIdleMaxWaitMs ?? 500;
    this.sizing = idleMaxWaitMs > 0 ? new FetchSizing({ busy: { minBytes: opts.fetchMinBytes ?? 65536, maxWaitMs: opts.fetchMaxWaitMs ?? 5 }, idleMaxWaitMs }, performance.now()) : null;
  }

  /** Partitions of the input topic as last seen. */
  get partitionCount(): number {
    return this.md?.leaders.length ?? 0;
  }

  start(): void {
    this.running = true;
    this.pump();
  }

  /** The assignment changed: fetch exactly these, from these offsets (nothing until the next call if empty). */
  assign(positions: readonly (TopicPartition & { offset: number })[]): void {
    const parts = new Map<string, Part>();
    for (const { topic, partition, offset } of positions) {
      const key = tpKey(topic, partition);
      parts.set(key, { topic, partition, key, offset, epoch: 0 });
    }
    this.parts = parts;
    this.pump();
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(tpKey(tp.topic, tp.partition));
  }

  resume(partitions: readonly TopicPartition[]): void {
    let any = false;
    for (const tp of partitions) any = this.paused.delete(tpKey(tp.topic, tp.partition)) || any;
    if (any) this.pump();
  }

  seek(tp: TopicPartition, offset: number): void {
    const p = this.parts.get(tpKey(tp.topic, tp.partition));
    if (!p) return;
    p.offset = offset;
    p.epoch++;
    this.pump();
  }

  /** No more fetches; a response still out is dropped. */
  stop(): void {
    this.running = false;
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
  }

  async close(): Promise<void> {
    this.stop();
    await this.pool.close();
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
    this.pool.get(broker, (err, conn) => {
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
        if (out.length) this.h.onBatch(out, Number(r.highWatermark));
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
    if (this.failures % FAILURES_PER_RESTART === 0 && !this.opts.allowRestart(err)) return this.h.onFatal(err);
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

  /** Brokers in the cluster's metadata (0 before the first refresh). */
  get brokerCount(): number {
    return this.md?.brokers.size ?? 0;
  }

  /** The input topic's id, partition leaders and brokers. */
  refreshMetadata(force: boolean): Promise<void> {
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
}
