// kafkajs 2.2.4's sendMessages loses acknowledged-looking sends when a partition's leader moves
// (every rolling broker restart): a send spanning several brokers keeps, across retries, the
// brokers that already answered and skips them on the retry; a partition that failed on broker B
// (NOT_LEADER) and now has its leader on A, which answered before, is never sent again, yet
// send() resolves. test/fault/broker-rolling-restart.test.ts lost 8 outputs of 18,350 this way
// (the engine counted them acknowledged). Known upstream: tulios/kafkajs#1303, PR #1798 (open).
// This is the same function keeping track of messages instead of brokers: a retry sends every
// message not yet acknowledged to its partition's current leader. Within one attempt all
// brokers' requests settle before the retry (kafkajs rejected on the first failure and could
// retry a broker whose request was still in flight). Sequence numbers are kafkajs's as before:
// taken when a request is built, given back when it fails.
// Loaded before kafkajs through kafkajs-read-committed.ts (every kafkajs user imports it first).
import { createRequire } from 'node:module';
import './kafkajs-group-messages.js'; // its check names the original sendMessages.js, which this loads
import { replaceKafkajsModule } from './kafkajs-module-patch.js';

const require = createRequire(import.meta.url);
// kafkajs internals are untyped CommonJS: `any` below.
const { KafkaJSMetadataNotLoaded } = require('kafkajs/src/errors');
const { staleMetadata } = require('kafkajs/src/protocol/error');
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition');
const createTopicData = require('kafkajs/src/producer/createTopicData');
const responseSerializer = require('kafkajs/src/producer/responseSerializer');

interface TopicMessages {
  topic: string;
  messages: unknown[];
}

function sendMessages({ logger, cluster, partitioner, eosManager, retrier }: any) {
  return async ({ acks, timeout, compression, topicMessages }: { acks: number; timeout: number; compression: number; topicMessages: TopicMessages[] }) => {
    // Per topic, the messages no broker has acknowledged yet; and the responses so far.
    const pending = new Map<string, unknown[]>();
    for (const { topic, messages } of topicMessages) pending.set(topic, pending.has(topic) ? [...pending.get(topic)!, ...messages] : messages);
    const responses: unknown[] = [];
    /** Requests of the current attempt that were acknowledged (only looked at when another failed). */
    let acked: { topic: string; partitions: { messages: unknown[] }[] }[][] = [];
    const dropAcked = () => {
      const sent = new Set<unknown>();
      for (const topicData of acked) for (const { partitions } of topicData) for (const entry of partitions) for (const m of entry.messages) sent.add(m);
      for (const [topic, messages] of pending) pending.set(topic, messages.filter((m) => !sent.has(m)));
      acked = [];
    };

    /** One request per current leader, for the pending messages of the partitions it leads. */
    const createProducerRequests = async () => {
      await cluster.refreshMetadataIfNecessary();
      const perBroker = new Map<number, { topic: string; partitions: string[]; messagesPerPartition: Record<string, unknown[]> }[]>();
      for (const [topic, messages] of pending) {
        if (messages.length === 0) continue;
        const partitionMetadata = cluster.findTopicPartitionMetadata(topic);
        if (partitionMetadata.length === 0) {
          logger.debug('Producing to topic without metadata', { topic, targetTopics: Array.from(cluster.targetTopics) });
          throw new KafkaJSMetadataNotLoaded('Producing to topic without metadata');
        }
        const messagesPerPartition = groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner });
        const partitionsPerLeader = cluster.findLeaderForPartitions(topic, Object.keys(messagesPerPartition));
        for (const [nodeId, partitions] of Object.entries(partitionsPerLeader) as [string, string[]][]) {
          let list = perBroker.get(Number(nodeId));
          if (!list) perBroker.set(Number(nodeId), (list = []));
          list.push({ topic, partitions, messagesPerPartition });
        }
      }
      return Promise.all(
        [...perBroker].map(async ([nodeId, topicDataForBroker]) => {
          const broker = await cluster.findBroker({ nodeId });
          return { broker, topicData: createTopicData(topicDataForBroker) as { topic: string; partitions: { partition: number; messages: unknown[] }[] }[] };
        }),
      );
    };

    const produce = async (broker: any, topicData: { topic: string; partitions: any[] }[]) => {
      await eosManager.acquireBrokerLock(broker);
      try {
        if (eosManager.isTransactional()) await eosManager.addPartitionsToTransaction(topicData);
        for (const { topic, partitions } of topicData) {
          for (const entry of partitions) {
            entry.firstSequence = eosManager.getSequence(topic, entry.partition);
            eosManager.updateSequence(topic, entry.partition, entry.messages.length);
          }
        }
        let response;
        try {
          response = await broker.produce({
            transactionalId: eosManager.isTransactional() ? eosManager.getTransactionalId() : undefined,
            producerId: eosManager.getProducerId(),
            producerEpoch: eosManager.getProducerEpoch(),
            acks,
            timeout,
            compression,
            topicData,
          });
        } catch (e) {
          for (const { topic, partitions } of topicData) for (const entry of partitions) eosManager.updateSequence(topic, entry.partition, -entry.messages.length);
          throw e;
        }
        acked.push(topicData);
        if (acks !== 0) responses.push(...responseSerializer(response));
      } finally {
        await eosManager.releaseBrokerLock(broker);
      }
    };

    return retrier(async (bail: (e: Error) => void, retryCount: number, retryTime: number) => {
      await cluster.addMultipleTargetTopics(topicMessages.map(({ topic }) => topic));
      acked = [];
      try {
        const requests = await createProducerRequests();
        const settled = await Promise.allSettled(requests.map(({ broker, topicData }) => produce(broker, topicData)));
        const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
        if (failed) {
          // Only what no broker acknowledged is sent again, to wherever its partition leads now.
          dropAcked();
          throw failed.reason;
        }
        return responses;
      } catch (e: any) {
        if (e.name === 'KafkaJSConnectionClosedError') cluster.removeBroker({ host: e.host, port: e.port });
        if (!cluster.isConnected()) {
          logger.debug(`Cluster has disconnected, reconnecting: ${e.message}`, { retryCount, retryTime });
          await cluster.connect();
          await cluster.refreshMetadata();
          throw e;
        }
        // Stale metadata: the leader moved, or the topic has more partitions than known.
        if (staleMetadata(e) || e.name === 'KafkaJSMetadataNotLoaded' || e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSConnectionClosedError' || (e.name === 'KafkaJSProtocolError' && e.retriable)) {
          logger.error(`Failed to send messages: ${e.message}`, { retryCount, retryTime });
          await cluster.refreshMetadata();
          throw e;
        }
        logger.error(`${e.message}`, { retryCount, retryTime });
        if (e.retriable) throw e;
        bail(e);
      }
    });
  };
}

replaceKafkajsModule('kafkajs/src/producer/sendMessages.js', sendMessages, '/kafkajs/src/producer/messageProducer.js', 'src/kafka/kafkajs-send-messages.ts');
