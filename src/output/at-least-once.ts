import { errorMessage } from '../shared/errors.js';
import type { Partition } from '../partitions/partition.js';
import { AckedOutput } from './acked-output.js';
import type { OutputContext, OutputStrategy } from './output-strategy.js';
import type { OutputRecord, Sink } from './sink.js';

/**
 * At-least-once: outputs go to the sink in order and an input offset is done once its output
 * is acknowledged; done offsets are committed through the source's consumer group. A crash
 * between the two re-delivers, hence "at least once".
 */
export class AtLeastOnceOutput implements OutputStrategy {
  readonly guarantee = 'at-least-once' as const;
  private readonly acked: AckedOutput;

  constructor(private readonly sink: Sink, private readonly ctx: OutputContext) {
    this.acked = new AckedOutput(sink, ctx.backoff, {
      onDone: () => ctx.onDone(),
      onSendFailure: (err, attempt) => {
        ctx.metrics.sendFailures.inc();
        ctx.log.warn({ err: err.message, attempt }, 'output send failed; retrying');
        return ctx.failures.record();
      },
      onFatal: (err) => ctx.onFatal(err),
    });
  }

  emit(record: OutputRecord, part: Partition, offset: number): void {
    this.acked.emit(record, part.offsets, offset);
  }

  assigned(): void {}

  // A revoked partition's pending commit goes with its Partition object: committing it would
  // overwrite its new owner's offsets.
  revoked(): void {}

  async commit(): Promise<void> {
    const batch: Partition[] = [];
    for (const p of this.ctx.partitions.all()) {
      const c = p.offsets.takeCommittable();
      if (c) p.pendingCommit = c.commitOffset;
      if (p.pendingCommit >= 0) batch.push(p);
    }
    if (batch.length === 0) return;
    const offsets = batch.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.pendingCommit }));
    for (const p of batch) p.pendingCommit = -1;
    try {
      await this.ctx.source.commit(offsets);
      this.ctx.metrics.commits.inc();
    } catch (err) {
      // Retried at the next tick unless a newer offset of the partition is pending by then.
      for (let i = 0; i < batch.length; i++) if (batch[i].owned && batch[i].pendingCommit < 0) batch[i].pendingCommit = offsets[i].offset;
      this.ctx.log.warn({ err: errorMessage(err) }, 'offset commit failed; retrying at the next interval');
    }
  }

  drain(): Promise<void> {
    return this.acked.drain();
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
