/**
 * The Node.js line the project runs on, as package.json's `engines.node` states it
 * (`^MAJOR.MINOR.PATCH`: that major, at least that release). scripts/install-node.sh applies the
 * same rule to choose between the machine's Node and the pinned one.
 */

/** Why `running` (process.versions.node) cannot run the daemon, or undefined when it can. */
export function unsupportedNode(engines: string, running: string): string | undefined {
  const wanted = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(engines)?.slice(1).map(Number);
  if (wanted === undefined) return `package.json engines.node is ${JSON.stringify(engines)}, not of the form ^MAJOR.MINOR.PATCH`;
  const [major = 0, minor = 0, patch = 0] = wanted;
  const [hasMajor = 0, hasMinor = 0, hasPatch = 0] = running.split('.').map(Number);
  const fits = hasMajor === major && (hasMinor > minor || (hasMinor === minor && hasPatch >= patch));
  if (fits) return undefined;
  return (
    `needs Node.js ${major} (${wanted.join('.')} or a later ${major}.x), but runs on Node.js ${running}. ` +
    `Use the multus-ts image, or the project's own Node.js: bash scripts/setup.sh installs it at .toolchain/bin/node`
  );
}
