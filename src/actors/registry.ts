import { Mailbox } from './mailbox.js';

/**
 * The live actors, keyed by pod (`namespace/name`). An actor exists only while it has work:
 * when its mailbox drains it is reaped at once, so memory follows in-flight work, not the
 * number of pods ever seen.
 */
export class ActorRegistry {
  readonly #actors = new Map<string, Mailbox>();

  /** Run `job` in the mailbox of `key`, after every job queued there before it. */
  submit<T>(key: string, job: () => Promise<T>): Promise<T> {
    let mailbox = this.#actors.get(key);
    if (mailbox === undefined) {
      const created = new Mailbox(() => {
        // Reap only if no new job arrived between the drain and this callback.
        if (created.depth === 0 && this.#actors.get(key) === created) this.#actors.delete(key);
      });
      this.#actors.set(key, created);
      mailbox = created;
    }
    return mailbox.enqueue(job);
  }

  /** Number of live actors. */
  get size(): number {
    return this.#actors.size;
  }

  /** Jobs queued or running, over all actors. */
  get depth(): number {
    let total = 0;
    for (const m of this.#actors.values()) total += m.depth;
    return total;
  }
}
