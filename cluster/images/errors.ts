/** Building the base image or an image of a Dockerfile failed (see the build log it names). */
export class ImageBuildError extends Error {
  override readonly name = 'ImageBuildError';
  constructor(
    message: string,
    /** The build's full output, when there is one. */
    readonly logPath?: string,
  ) {
    super(message);
  }
}

/** Exporting an image to its archive, or importing an archive into containerd, failed. */
export class ImageArchiveError extends Error {
  override readonly name = 'ImageArchiveError';
}
