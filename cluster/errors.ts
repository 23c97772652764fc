/** The Go build of the control plane's servers failed (see the build log it names). */
export class ClusterBuildError extends Error {
  override readonly name = 'ClusterBuildError';
}

/** A server of the control plane did not start or did not become healthy. */
export class ComponentStartError extends Error {
  override readonly name = 'ComponentStartError';
  constructor(
    message: string,
    readonly component: string,
    readonly logPath: string,
  ) {
    super(message);
  }
}

/** No running cluster where one was expected (no state file, or its processes are gone). */
export class ClusterNotRunningError extends Error {
  override readonly name = 'ClusterNotRunningError';
}

/** The cluster options were invalid. */
export class ClusterConfigError extends Error {
  override readonly name = 'ClusterConfigError';
}
