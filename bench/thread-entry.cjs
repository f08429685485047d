// Entry of the bench's worker threads when run from TypeScript sources (npm run bench uses
// tsx): Node 20 does not apply tsx's ESM hooks to a worker's entry module, but tsx's require
// hook works in every thread, so the .ts module is loaded through require.
const { workerData } = require('node:worker_threads');
require(workerData.__module);
