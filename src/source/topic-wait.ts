import type { Logger } from '../ops/logger.js';

/** While the input topic does not exist: how often to look again, and to say so. */
const TOPIC_WAIT_MS = 3_000;

/**
 * Returns once `topic` is among `listTopics()` (or `stopped()`), saying every few seconds that it
 * waits. Subscribing to a missing topic fails after the client's retries and would end the
 * process; an engine deployed before its topic should start consuming when the topic appears.
 * Both Kafka sources use it, each with its own client's topic listing.
 */
export async function waitForTopic(topic: string, listTopics: () => Promise<string[]>, stopped: () => boolean, log: Logger): Promise<void> {
  const since = Date.now();
  for (let waited = false; ; waited = true) {
    if ((await listTopics()).includes(topic)) {
      if (waited) log.info({ topic, waitedMs: Date.now() - since }, 'input topic exists; subscribing');
      return;
    }
    if (stopped()) return;
    log.warn({ topic, waitingMs: Date.now() - since }, 'input topic does not exist yet; waiting for it to be created');
    await new Promise((r) => setTimeout(r, TOPIC_WAIT_MS));
  }
}
