// Undo steps for an ADD: each step that makes something registers how to unmake it; on
// failure they run in reverse order, every one attempted, and the original error is rethrown.
export class Rollback {
  private readonly steps: (() => void | Promise<void>)[] = [];

  push(undo: () => void | Promise<void>): void {
    this.steps.push(undo);
  }

  async run(): Promise<void> {
    for (const undo of this.steps.reverse()) {
      try { await undo(); } catch { /* best effort: keep undoing the rest */ }
    }
    this.steps.length = 0;
  }

  /** Run body; on any error undo what it made and rethrow. */
  static async guard<T>(body: (rb: Rollback) => Promise<T> | T): Promise<T> {
    const rb = new Rollback();
    try {
      return await body(rb);
    } catch (e) {
      await rb.run();
      throw e;
    }
  }
}
