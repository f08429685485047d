// Import this before anything that loads kafkajs: it replaces kafkajs 2.2.4's filter of aborted
// transactions so read_committed readers really skip aborted records. The engine's consumer needs
// it when its input topic is written with transactions (e.g. by another exactly-once job), and
// the audits of the test suite need it to read exactly-once output correctly.
//
// kafkajs walks a fetched partition's records once and, per record, marks at most the head of
// the fetch response's aborted-transaction list once the record's offset reaches its firstOffset.
// The broker does not return that list sorted by firstOffset (seen here: [{1449, 3615},
// {1453, 3596}, {1454, 3562}]), and one record can be past several firstOffsets, so records of
// an aborted transaction were returned as committed: the exactly-once audit counted the
// fenced owner's aborted outputs as duplicates (DumpLogSegments showed ABORT markers after
// them). The Java client keeps the list in a priority queue by firstOffset and marks every
// transaction whose firstOffset the batch reached; this does the same.
// Every module that uses kafkajs imports this file first, so kafkajs's other fixes ride along.
import './kafkajs-timeout.js';
import './kafkajs-group-messages.js';
import './kafkajs-send-messages.js';
import { replaceKafkajsModule } from './kafkajs-module-patch.js';

interface Message {
  offset: string;
  key: Buffer | null;
  batchContext: { producerId: string; inTransaction: boolean };
}
interface Aborted {
  producerId: string;
  firstOffset: string;
}


function filterAborted({ messages, abortedTransactions }: { messages: Message[]; abortedTransactions?: Aborted[] }): Message[] {
  if (!abortedTransactions?.length) return messages;
  const pending = [...abortedTransactions].sort((a, b) => (BigInt(a.firstOffset) < BigInt(b.firstOffset) ? -1 : 1));
  const aborted = new Set<string>();
  let next = 0;
  return messages.filter((m) => {
    const offset = BigInt(m.offset);
    while (next < pending.length && offset >= BigInt(pending[next].firstOffset)) aborted.add(pending[next++].producerId);
    const { producerId, inTransaction } = m.batchContext;
    if (isAbortMarker(m)) {
      aborted.delete(producerId);
      return true; // control records are dropped by kafkajs afterwards
    }
    return !(inTransaction && aborted.has(producerId));
  });
}

const ABORT_KEY = Buffer.from([0, 0, 0, 0]);
function isAbortMarker(m: Message): boolean {
  return !!m.key && Buffer.from(m.key).equals(ABORT_KEY);
}

// Seeds the module cache so kafkajs's batch.js gets this when it first requires the filter.
replaceKafkajsModule('kafkajs/src/consumer/filterAbortedMessages.js', filterAborted, '/kafkajs/src/consumer/batch.js', 'src/kafka/kafkajs-read-committed.ts');
