import './kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { run } from './app/run.js';
import { errorMessage } from './shared/errors.js';

// Entry point of `npm start` / `scorestream`: the process around the engine lives in app/run.ts.
run(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
    // Give async log destinations a moment, then leave even if a library keeps a handle open.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err) => {
    process.stderr.write(`scorestream: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
