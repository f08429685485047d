import { Worker, type TransferListItem } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

/** Starts `moduleUrl` (this directory's .ts or compiled .js) on a worker thread. */
export function startThread(moduleUrl: URL, workerData: Record<string, unknown>, transferList: TransferListItem[] = []): Worker {
  if (moduleUrl.pathname.endsWith('.ts')) {
    return new Worker(fileURLToPath(new URL('./thread-entry.cjs', import.meta.url)), { workerData: { ...workerData, __module: fileURLToPath(moduleUrl) }, transferList });
  }
  return new Worker(moduleUrl, { workerData, transferList });
}
