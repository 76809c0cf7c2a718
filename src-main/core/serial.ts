// A FIFO async mutex. MLS group state is a chain: every encrypt, process and commit must see the
// state the previous one left, so all of them for one profile run through one of these.

export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(() => fn());
    // Keep the chain alive whatever `fn` does; callers see their own result or error.
    this.tail = next.catch(() => undefined);
    return next;
  }
}
