// Creates the engine's topics — INPUT_TOPIC, OUTPUT_TOPIC and the three dead-letter topics — on
// the brokers the engine's own settings name (same env and flags, so TLS/SASL work too). The
// engine never creates its input topic (it waits for it): the partition count is the owner's
// choice, and it bounds how many processes can share the work.
//
//   node --import tsx scripts/create-topics.ts [--partitions N] [engine flags...]   (npm run topics -- ...)
//
// Topics that exist already are left as they are. Exit 0 when all exist afterwards, 2 on bad usage.
import '../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { parseConfig } from '../src/config/config.js';
import { createKafka } from '../src/kafka/kafka-client.js';
import { createTopicsReady } from '../src/kafka/kafka-topics.js';
import { createLogger } from '../src/ops/logger.js';
import { ConfigError, errorMessage } from '../src/shared/errors.js';

async function main(argv: string[]): Promise<number> {
  let partitions = 4;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--partitions') {
      rest.push(argv[i]);
      continue;
    }
    partitions = Number(argv[++i]);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000) return usage(`--partitions ${argv[i]}: an integer 1..10000`);
  }
  let config;
  try {
    ({ config } = parseConfig(rest, process.env));
  } catch (err) {
    if (err instanceof ConfigError) return usage(err.message);
    throw err;
  }
  if (!config.kafkaBrokers) return usage('KAFKA_BROKERS (or --kafka-brokers) is not set');
  const admin = createKafka(config, createLogger('warn')).admin();
  await admin.connect();
  try {
    const wanted = [config.inputTopic, config.outputTopic, config.validationTopic, config.processingTopic, config.lateTopic];
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    if (missing.length) await createTopicsReady(admin, missing, partitions);
    for (const t of wanted) process.stdout.write(`${t}: ${missing.includes(t) ? `created with ${partitions} partitions` : 'exists (left as it is)'}\n`);
    return 0;
  } finally {
    await admin.disconnect();
  }
}

function usage(message: string): number {
  process.stderr.write(`create-topics: ${message}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`create-topics: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
