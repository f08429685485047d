import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * Replaces one of kafkajs's internal CommonJS modules (`kafkajs/src/...`) with `replacement` by
 * seeding the module cache before kafkajs loads it. `loadedBy` is the kafkajs module that
 * requires it: if that one is already loaded, kafkajs holds the original and this must fail
 * loudly (`who` must be imported earlier). Importing the patch twice is fine.
 */
export function replaceKafkajsModule(modulePath: string, replacement: object, loadedBy: string, who: string): void {
  const path = require.resolve(modulePath);
  const marker = Symbol.for(`scorestream.kafkajs:${modulePath}`);
  const cached = require.cache[path];
  if (cached && (cached.exports as Record<symbol, unknown>)[marker]) return;
  if (cached !== undefined || Object.keys(require.cache).some((k) => k.includes(loadedBy))) {
    throw new Error(`${who} must be imported before kafkajs is loaded (import src/kafka/kafkajs-read-committed.ts first)`);
  }
  (replacement as Record<symbol, unknown>)[marker] = true;
  require(path);
  require.cache[path]!.exports = replacement;
}
