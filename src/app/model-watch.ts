import { unwatchFile, watchFile, type Stats } from 'node:fs';

/**
 * --watch-model: reloads once the model and its model.json have stopped changing for a moment
 * (replacing two files is not atomic; a reload between the two would be refused, and the next
 * change triggers another). Returns a function that stops watching.
 */
export function watchModelFiles(files: string[], reload: () => void, settleMs = 1500): () => void {
  let timer: NodeJS.Timeout | null = null;
  const onChange = (cur: Stats, prev: Stats) => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      reload();
    }, settleMs);
  };
  for (const f of files) watchFile(f, { interval: 500 }, onChange);
  return () => {
    if (timer) clearTimeout(timer);
    for (const f of files) unwatchFile(f, onChange);
  };
}
