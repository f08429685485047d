import type { Config } from '../config/config.js';
import type { Engine } from './engine.js';

/** One refreshing stderr line of counters, when stderr is a terminal (or STATUS_LINE=on). */
export function startStatusLine(engine: Engine, c: Config): NodeJS.Timeout | null {
  const on = c.statusLine === 'on' || (c.statusLine === 'auto' && process.stderr.isTTY);
  if (!on) return null;
  let last = engine.stats();
  let lastAt = Date.now();
  const t = setInterval(() => {
    const s = engine.stats();
    const now = Date.now();
    const rate = ((s.predictions - last.predictions) * 1000) / (now - lastAt);
    last = s;
    lastAt = now;
    process.stderr.write(
      `\r\x1b[2K${rate.toFixed(0)} ev/s | in ${s.eventsIn} | predicted ${s.predictions} | fallback ${s.fallbacks} | dlq ${s.deadLetters} | in-flight ${s.inFlight} | paused ${s.pausedPartitions} | restarts ${s.workerRestarts} | model ${s.modelVersion}`,
    );
  }, 1000);
  t.unref();
  return t;
}
