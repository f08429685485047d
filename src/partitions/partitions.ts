import { Watermark } from './watermark.js';
import { tpKey, type Source, type TopicPartition } from '../source/source.js';
import type { CommitEntry } from './partition-offsets.js';
import { Partition, type Hold } from './partition.js';

export interface Assignment<P = unknown> {
  /** Partitions this instance did not own before. */
  added: Partition<P>[];
  /** Partitions it owned before and still owns. */
  kept: Partition<P>[];
  /** Partitions it no longer owns; detached, so late results for them go nowhere. */
  revoked: Partition<P>[];
}

/**
 * The partitions this instance owns, one Partition object each, and the one place that pauses
 * and resumes their fetching: a partition fetches while no Hold is set on it.
 */
export class Partitions<P = unknown> {
  private readonly byKey = new Map<string, Partition<P>>();
  private list: Partition<P>[] = [];

  constructor(
    private readonly source: Pick<Source, 'pause' | 'resume'>,
    private readonly watermark: { outOfOrdernessMs: number; allowedLatenessMs: number },
  ) {}

  get(topic: string, partition: number): Partition<P> | undefined {
    return this.byKey.get(tpKey(topic, partition));
  }

  all(): readonly Partition<P>[] {
    return this.list;
  }

  /** Events received and not yet done, over all partitions (what MAX_IN_FLIGHT bounds). */
  get inFlight(): number {
    let s = 0;
    for (const p of this.list) s += p.offsets.inFlight;
    return s;
  }

  /** Events received and not yet released for commit, over all partitions. */
  get size(): number {
    let s = 0;
    for (const p of this.list) s += p.offsets.size;
    return s;
  }

  /** Partitions with at least one Hold. */
  get heldCount(): number {
    let n = 0;
    for (const p of this.list) if (p.holds) n++;
    return n;
  }

  /** The instance now owns exactly `tps`. */
  assign(tps: readonly TopicPartition[]): Assignment<P> {
    const next = new Map<string, TopicPartition>();
    for (const tp of tps) next.set(tpKey(tp.topic, tp.partition), tp);
    const revoked: Partition<P>[] = [];
    for (const [key, p] of this.byKey) {
      if (next.has(key) && !p.superseded) continue;
      this.byKey.delete(key);
      p.owned = false;
      revoked.push(p);
    }
    const added: Partition<P>[] = [];
    const kept: Partition<P>[] = [];
    for (const [key, tp] of next) {
      const existing = this.byKey.get(key);
      if (existing) {
        kept.push(existing);
        continue;
      }
      const p = new Partition<P>(tp.topic, tp.partition, new Watermark(this.watermark.outOfOrdernessMs, this.watermark.allowedLatenessMs));
      this.byKey.set(key, p);
      added.push(p);
    }
    this.list = [...this.byKey.values()];
    // kafkajs keeps a partition's paused flag across assignments: one revoked while held and
    // later assigned again would never be fetched. Clear it for every partition nothing holds.
    const resume: TopicPartition[] = [];
    for (const p of revoked) if (p.holds) resume.push(p.tp);
    for (const p of this.list) if (!p.holds) resume.push(p.tp);
    if (resume.length) this.source.resume(resume);
    return { added, kept, revoked };
  }

  /**
   * Replaces `p` with a fresh Partition of the same topic-partition while the instance still
   * owns it (exactly-once: its producer was fenced, so what it held of it is void). Undefined if
   * `p` was revoked or replaced in the meantime.
   */
  renew(p: Partition<P>): Assignment<P> | undefined {
    const key = tpKey(p.topic, p.partition);
    if (!p.owned || this.byKey.get(key) !== p) return undefined;
    p.owned = false;
    const fresh = new Partition<P>(p.topic, p.partition, new Watermark(this.watermark.outOfOrdernessMs, this.watermark.allowedLatenessMs));
    this.byKey.set(key, fresh);
    this.list = [...this.byKey.values()];
    return { added: [fresh], kept: [], revoked: [p] };
  }

  /** Sets `reason` on each partition; those that were fetching are paused. */
  hold(parts: readonly Partition[], reason: Hold): void {
    const pause: TopicPartition[] = [];
    for (const p of parts) {
      if (!p.holds && p.owned) pause.push(p.tp);
      p.holds |= reason;
    }
    if (pause.length) this.source.pause(pause);
  }

  /** Clears `reason`; partitions left with no hold resume fetching. */
  release(parts: readonly Partition[], reason: Hold): void {
    const resume: TopicPartition[] = [];
    for (const p of parts) {
      if (!(p.holds & reason)) continue;
      p.holds &= ~reason;
      if (!p.holds && p.owned) resume.push(p.tp);
    }
    if (resume.length) this.source.resume(resume);
  }

  /** Each owned partition's newly committable offset and the payloads released with it. */
  takeCommittable(): CommitEntry<P>[] {
    const out: CommitEntry<P>[] = [];
    for (const p of this.list) {
      const c = p.offsets.takeCommittable();
      if (c) out.push({ topic: p.topic, partition: p.partition, offset: c.commitOffset, payloads: c.payloads });
    }
    return out;
  }
}
