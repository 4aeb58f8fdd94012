import { access } from 'node:fs/promises';

/** Whether `path` exists (any kind of file); never throws. */
export function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
