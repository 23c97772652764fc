/** A command the runtime needs (`ip`, `mount` ...) failed. */
export class LocalNodeCommandError extends Error {
  override readonly name = 'LocalNodeCommandError';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(
      `${command} failed (exit ${String(exitCode)}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
}

/** The options given to the runtime are invalid. */
export class LocalNodeConfigError extends Error {
  override readonly name = 'LocalNodeConfigError';
}

/** The pod network range has no free address left on a node. */
export class AddressExhaustedError extends Error {
  override readonly name = 'AddressExhaustedError';
}
