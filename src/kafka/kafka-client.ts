import './kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Config } from '../config/config.js';
import type { Logger } from '../ops/logger.js';

/** One kafkajs client from the config: brokers, TLS, SASL, retry policy, and logs through pino. */
export function createKafka(c: Config, log: Logger): Kafka {
  const cfg: KafkaConfig = {
    clientId: c.kafkaClientId,
    brokers: c.kafkaBrokers.split(','),
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: {
      initialRetryTime: c.reconnectInitialMs,
      maxRetryTime: c.reconnectMaxMs,
      multiplier: c.reconnectMultiplier,
      retries: 10,
    },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log: entry }) => {
      const { message, ...rest } = entry;
      // Not a problem here: when kafkajs's bounded retries run out, the engine re-sends (at-least-once
      // tolerates the duplicate) or aborts and redoes the whole transaction (exactly-once), and the
      // bound is what lets the failure-rate limit see an outage at all. Kept at debug, not warn.
      const expected = message === 'Limiting retries for the idempotent producer may invalidate EoS guarantees';
      const fn = expected ? 'debug' : level <= logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : 'debug';
      log[fn]({ component: 'kafkajs', ns: namespace, ...rest }, message);
    },
  };
  if (c.kafkaSsl) cfg.ssl = c.kafkaSslCaFile ? { ca: [readFileSync(c.kafkaSslCaFile, 'utf8')] } : true;
  if (c.kafkaSaslMechanism !== 'none') {
    cfg.sasl = { mechanism: c.kafkaSaslMechanism, username: c.kafkaSaslUsername, password: c.kafkaSaslSecret } as SASLOptions;
  }
  return new Kafka(cfg);
}
