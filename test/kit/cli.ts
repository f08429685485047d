// The CLI (src/main.ts) run to its end as a child process, in an environment without any
// scorestream setting of the test runner's own (CI may set KAFKA_BROKERS etc.).
import { spawn } from 'node:child_process';
import { SETTINGS } from '../../src/config/config.js';
import { ROOT } from './golden.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The test runner's environment without any scorestream setting, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const s of Object.values(SETTINGS)) delete env[s.env];
  delete env.SCORESTREAM_FAULT_INJECTION;
  return { ...env, ...extra };
}

/** Runs `src/main.ts args` with cleanEnv(env); a run still going after `killAfterMs` (one that should have stopped by itself) is killed. */
export function runCli(args: string[], env: Record<string, string>, killAfterMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}
