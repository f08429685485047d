import { Consumer, type BaseOptions, type Message } from '@platformatic/kafka';
import { ScorestreamError } from '../shared/errors.js';

/** What is read of the source's consumer (any @platformatic/kafka Consumer has it). */
export interface GroupConsumer {
  readonly groupId: string;
  readonly memberId: string | null;
  readonly generationId: number;
  readonly coordinatorId: number | null;
  findGroupCoordinator(): Promise<number>;
}

/** The group's consumer is not a member right now (joining or rejoining): offsets are not committed without one. */
export class NotGroupMemberError extends ScorestreamError {}

/** Who commits a transaction's offsets: the group, its coordinator, and the member's generation. */
export interface GroupMember {
  groupId: string;
  memberId: string;
  generationId: number;
  coordinatorId: number;
}

/**
 * The consumer group side of exactly-once on @platformatic/kafka. Its addOffset turns a
 * "consumed message" into TxnOffsetCommit: message.offset + 1 committed to metadata.consumer's
 * group at that group's coordinator, with the consumer's generation and member id. 1.35 sends
 * both (TxnOffsetCommit v3+, KIP-447), so the coordinator refuses offsets of an older generation
 * (ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID). With the source's consumer that check is on; without
 * one, generation -1 and member '' skip it (as kafkajs commits), and a consumer that never
 * joins finds the coordinator.
 */
export class TransactionGroup {
  private lookup: Consumer | null = null;

  constructor(private readonly base: BaseOptions, private readonly groupId: string, private readonly consumer?: () => GroupConsumer | undefined) {}

  async member(): Promise<GroupMember> {
    const c = this.consumer?.();
    if (c) {
      if (!c.memberId) throw new NotGroupMemberError(`consumer of group ${c.groupId} is not a member right now (joining); offsets are committed once it is`);
      const coordinatorId = c.coordinatorId ?? (await c.findGroupCoordinator());
      return { groupId: c.groupId, memberId: c.memberId, generationId: c.generationId, coordinatorId };
    }
    this.lookup ??= new Consumer({ ...this.base, groupId: this.groupId });
    return { groupId: this.groupId, memberId: '', generationId: -1, coordinatorId: await this.lookup.findGroupCoordinator() };
  }

  /** The message addOffset commits as `next` (the next offset to consume) for `member`. */
  offsetMessage(topic: string, partition: number, next: number, member: GroupMember): Message {
    return { topic, partition, offset: BigInt(next) - 1n, metadata: { consumer: member } } as unknown as Message;
  }

  async close(): Promise<void> {
    const lookup = this.lookup;
    this.lookup = null;
    await lookup?.close();
  }
}
