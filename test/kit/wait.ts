// Waiting on a condition with a deadline: how tests wait for asynchronous effects (never a bare
// sleep as proof). `what` names the condition in the timeout error.

/** Resolves once `pred()` holds (polled every `everyMs`); rejects after `timeoutMs`. */
export async function until(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
