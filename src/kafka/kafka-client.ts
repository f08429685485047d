import './kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel, type KafkaConfig, type RetryOptions, type SASLOptions } from 'kafkajs';
import type { Config } from '../config/config.js';
import type { Logger } from '../ops/logger.js';
import { explainingSocketFactory } from './tls-socket.js';

/**
 * The transactional producers' retry policy: the client's, but starting at 10 ms (a transaction
 * that meets CONCURRENT_TRANSACTIONS waits for markers that take milliseconds; the Java client
 * retries it after 20 ms) and as many attempts as the client's policy waits in total (defaults:
 * 10 ms … 5 s over 14 retries, against 100 ms … 5 s over 10, ≈ 26 s each).
 */
export function transactionRetry(c: Config): RetryOptions {
  const initialRetryTime = Math.min(10, c.reconnectInitialMs);
  let total = 0;
  let retries = 0;
  // As many retries as the client's policy would wait in total.
  const clientTotal = Array.from({ length: 10 }, (_, i) => Math.min(c.reconnectMaxMs, c.reconnectInitialMs * c.reconnectMultiplier ** i)).reduce((a, b) => a + b, 0);
  while (total < clientTotal && retries < 30) total += Math.min(c.reconnectMaxMs, initialRetryTime * c.reconnectMultiplier ** retries++);
  return { initialRetryTime, maxRetryTime: c.reconnectMaxMs, multiplier: c.reconnectMultiplier, retries };
}

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
  if (c.kafkaSsl) {
    // Files checked by parseConfig (checkKafkaTlsFiles); no CA file: Node's system CAs.
    const tls: ConnectionOptions = {};
    if (c.kafkaSslCaFile) tls.ca = [readFileSync(c.kafkaSslCaFile, 'utf8')];
    if (c.kafkaSslCertFile) {
      tls.cert = readFileSync(c.kafkaSslCertFile, 'utf8');
      tls.key = readFileSync(c.kafkaSslKeyFile, 'utf8');
    }
    cfg.ssl = Object.keys(tls).length ? tls : true;
    cfg.socketFactory = explainingSocketFactory({ caFile: c.kafkaSslCaFile, certFile: c.kafkaSslCertFile });
  }
  if (c.kafkaSaslMechanism !== 'none') {
    cfg.sasl = { mechanism: c.kafkaSaslMechanism, username: c.kafkaSaslUsername, password: c.kafkaSaslSecret } as SASLOptions;
  }
  return new Kafka(cfg);
}
