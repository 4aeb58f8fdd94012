import { existingHostSideDirs, removeNewHostSideDirs } from './e2e/host-side-dirs.js';

/**
 * Once per test run: the host-wide dirs containerd makes whatever its config says. Each e2e bed
 * removes those it made once empty, but test files run in parallel: a bed that starts while
 * another's containerd runs finds them there and leaves them, and the first bed could not remove
 * them then. What none of them removed goes here, after the last file (when empty).
 */
export default function setup(): () => void {
  const before = existingHostSideDirs();
  return () => removeNewHostSideDirs(before);
}
