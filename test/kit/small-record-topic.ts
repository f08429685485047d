// A one-partition topic whose records may not exceed a size: a transaction sending a larger one
// to it fails (MESSAGE_TOO_LARGE) after its other records were written, on demand.
import type { Kafka } from 'kafkajs';
import { uniqueName } from './services.js';

/** A topic whose records may not exceed `maxBytes`; `allow` lifts the limit. */
export async function smallRecordTopic(kafka: Kafka, maxBytes: number): Promise<{ name: string; allow: () => Promise<void> }> {
  const name = uniqueName('ptx-small');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(maxBytes) }] }] });
  } finally {
    await admin.disconnect();
  }
  const allow = async () => {
    const a = kafka.admin();
    await a.connect();
    try {
      await a.alterConfigs({ validateOnly: false, resources: [{ type: 2 /* TOPIC */, name, configEntries: [{ name: 'max.message.bytes', value: String(1024 * 1024) }] }] });
    } finally {
      await a.disconnect();
    }
  };
  return { name, allow };
}
