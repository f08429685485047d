// Child processes a test starts (brokers, Redis servers): killed if the test process exits
// without stopping them, so no server outlives its test.
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Kills `child` when this process exits, unless it exited first. */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}
