// kafkajs 2.2.4 groups a send's messages by partition with
//   messages.reduce((r, m) => Object.assign(r, { [p]: [...r[p] || [], m] }), {})
// which copies the partition's array for every message: quadratic in the messages per send, and
// at the drain rate (hundreds of outputs per send) it was ~4% of the engine's main thread plus
// the garbage (docs/hot-path.md). This is the same grouping, linear: same keys, same order.
// Loaded before kafkajs (through kafkajs-read-committed.ts, which every kafkajs user imports
// first), it seeds the module cache so kafkajs's sendMessages.js gets it when it first requires it.
import { replaceKafkajsModule } from './kafkajs-module-patch.js';

interface GroupArgs {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: (a: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}


function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: GroupArgs): Record<number, unknown[]> {
  const result: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}
replaceKafkajsModule('kafkajs/src/producer/groupMessagesPerPartition.js', groupMessagesPerPartition, '/kafkajs/src/producer/sendMessages.js', 'src/kafka/kafkajs-group-messages.ts');
