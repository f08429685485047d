// Topic readiness, shared by the bench and the tests (and available to tools around the engine).
import type { Admin } from 'kafkajs';

/**
 * Waits until every partition of `topics` has a leader. Right after createTopics, KRaft can
 * answer UNKNOWN_TOPIC_OR_PARTITION for a moment, and kafkajs (whose waitForLeaders retries only
 * LEADER_NOT_AVAILABLE) throws it.
 */
export async function waitForTopics(admin: Admin, topics: string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const { topics: md } = await admin.fetchTopicMetadata({ topics });
      if (md.length === topics.length && md.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      const type = (err as { type?: string }).type;
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
  }
}

/** createTopics that tolerates the moment after creation when the broker does not know the topic yet. */
export async function createTopicsReady(admin: Admin, topics: string[], partitions: number, replicationFactor = 1): Promise<void> {
  try {
    await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })), waitForLeaders: true });
  } catch (err) {
    if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
  }
  await waitForTopics(admin, topics);
}
