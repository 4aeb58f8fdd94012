/**
 * A per-pod mailbox: jobs run one at a time, in arrival order. This is what guarantees that an
 * ADD and the DEL the runtime sends right after a failure (or a second StopPodSandbox) never
 * overlap for one pod, while different pods' mailboxes run concurrently.
 */
export class Mailbox {
  #queue: Array<() => Promise<void>> = [];
  #running = false;
  readonly #onIdle: () => void;

  /** `onIdle` runs when the last queued job has finished (the registry reaps the actor then). */
  constructor(onIdle: () => void) {
    this.#onIdle = onIdle;
  }

  /** Jobs queued or running. */
  get depth(): number {
    return this.#queue.length + (this.#running ? 1 : 0);
  }

  /**
   * Queue a job; the promise settles with the job's own outcome. A throwing job fails only its
   * own promise: the loop goes on with the next job.
   */
  enqueue<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // Through a promise, so that a job throwing synchronously also only fails its caller.
      this.#queue.push(() => new Promise<T>((run) => run(job())).then(resolve, reject));
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) {
      // job() never rejects: enqueue wired its outcome to the caller's promise.
      await job();
    }
    this.#running = false;
    this.#onIdle();
  }
}
