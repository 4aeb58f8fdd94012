import { writeSync } from 'node:fs';

/**
 * Print a thin call's answer on stdout and exit with `code`, with blocking writes of fd 1:
 * `process.stdout` first builds a stream over the runtime's pipe and writes through the event
 * loop, about 6 ms between the answer and the exit of every call (measured). A stdout left
 * non-blocking whose pipe is full (EAGAIN) gets the rest through that stream. A stdout nobody
 * reads any more (EPIPE) cannot take the answer: the exit code still tells the runtime.
 */
export function answerAndExit(text: string, code: number): void {
  const bytes = Buffer.from(text, 'utf8');
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(1, bytes, written);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
      process.stdout.write(bytes.subarray(written), () => process.exit(code));
      return;
    }
  }
  process.exit(code);
}
