// Training/serving parity on your own data: replays an NDJSON event log offline with a model's
// declared features and compares them with the features that were served, or with what the
// online Redis store holds. Prints the first mismatches and a summary; exit 0 when equal
// (within --tolerance, relative), 1 on any mismatch, 2 on bad usage or a bad declaration.
//
//   node --import tsx scripts/feature-parity.ts --events log.ndjson --served features.ndjson
//   node --import tsx scripts/feature-parity.ts --events log.ndjson --redis redis://127.0.0.1:6379 [--prefix ss:u:]
//   options: --model-meta models/model.json  --tolerance 1e-6  --show 10
//
// The log is the engine's input format; optional "source" ("topic:partition") and "offset"
// fields let it record re-deliveries (the replay guard then ignores them, as the engine does).
// --served: one row per event, in log order: [f1, f2, ...] or {"features": [...]}.
// --redis: compares each user's features after their last event in the log with the user's
// hash under <prefix><feature-set hash>: (read only; the log should be all the store has seen).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadFeatureSet } from '../src/features/feature-set.js';
import { parseEventLog, replayOffline } from '../src/features/offline-replay.js';
import { compareServed, compareUsers, formatMismatch, parseServedRows, type ParityReport } from '../src/features/parity.js';
import { RedisFeatureStore } from '../src/features/redis-feature-store.js';
import { errorMessage } from '../src/shared/errors.js';

async function main(): Promise<number> {
  const { values: o } = parseArgs({
    options: {
      events: { type: 'string' },
      served: { type: 'string' },
      redis: { type: 'string' },
      prefix: { type: 'string', default: 'ss:u:' },
      'model-meta': { type: 'string', default: 'models/model.json' },
      tolerance: { type: 'string', default: '1e-6' },
      show: { type: 'string', default: '10' },
    },
  });
  const tolerance = Number(o.tolerance);
  const show = Number(o.show);
  if (!o.events || (!o.served === !o.redis) || !(tolerance >= 0) || !(show >= 0)) {
    process.stderr.write('usage: feature-parity --events LOG.ndjson (--served ROWS.ndjson | --redis URL [--prefix P]) [--model-meta model.json] [--tolerance 1e-6] [--show 10]\n');
    return 2;
  }
  const set = loadFeatureSet(o['model-meta']!);
  const events = parseEventLog(readFileSync(o.events, 'utf8'));
  const offline = await replayOffline(set, events);
  let report: ParityReport;
  let what: string;
  if (o.served) {
    const served = parseServedRows(readFileSync(o.served, 'utf8'), set.width);
    if (served.length !== events.length) process.stdout.write(`note: ${events.length} events but ${served.length} served rows\n`);
    report = compareServed(set, events, offline, served, tolerance);
    what = 'events';
  } else {
    const store = new RedisFeatureStore({ ttlSeconds: 1, featureSet: set, url: o.redis!, keyPrefix: o.prefix!, commandTimeoutMs: 5000, reconnect: { initialMs: 100, maxMs: 1000, multiplier: 2 } });
    await store.connect();
    const users = [...new Set(events.map((e) => e.user_id))];
    const off = new Map<string, number[] | null>();
    const on = new Map<string, number[] | null>();
    try {
      for (const u of users) {
        off.set(u, await offline.store.read(u));
        on.set(u, await store.read(u));
      }
    } finally {
      await store.close();
    }
    report = compareUsers(set, off, on, tolerance);
    what = `users (keys ${store.userKeyPrefix}*)`;
  }
  for (const m of report.mismatches.slice(0, show)) process.stdout.write(formatMismatch(m, events) + '\n');
  const ok = report.mismatches.length === 0;
  process.stdout.write(
    `${ok ? 'OK' : 'FAIL'}: ${report.compared} ${what} x ${set.width} features (set ${set.hash}, tolerance ${tolerance}): ` +
      `${report.mismatches.length} mismatching values in ${report.rowsWithMismatch} ${what.split(' ')[0]}\n`,
  );
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`feature-parity: ${errorMessage(err)}\n`);
    process.exit(2);
  },
);
