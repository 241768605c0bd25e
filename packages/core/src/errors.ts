// Typed errors: every failure a user can cause names the file (or input) and the problem.
// Each carries a stable `code` so callers and the CLI can branch without parsing messages.

export class ClipkitError extends Error {
  readonly code: string;
  readonly path: string | undefined;
  constructor(code: string, message: string, path?: string, options?: { cause?: unknown }) {
    super(path !== undefined && !message.includes(path) ? `${path}: ${message}` : message, options);
    this.name = new.target.name;
    this.code = code;
    this.path = path;
  }
}

/** A model directory, config, safetensors or ONNX file that is missing or malformed. */
export class ModelFormatError extends ClipkitError {
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('MODEL_FORMAT', message, path, options);
  }
}

/** An image that could not be decoded (truncated, corrupt, not an image). */
export class ImageDecodeError extends ClipkitError {
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('IMAGE_DECODE', message, path, options);
  }
}

/** A valid image in a format this build's decoder cannot read (e.g. HEIC without libheif). */
export class UnsupportedImageError extends ClipkitError {
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('IMAGE_UNSUPPORTED', message, path, options);
  }
}

/** An image over the configured pixel limit. */
export class ImageTooLargeError extends ClipkitError {
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('IMAGE_TOO_LARGE', message, path, options);
  }
}

/** The catalog database is locked by another writer. */
export class CatalogBusyError extends ClipkitError {
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('CATALOG_BUSY', message, path, options);
  }
}

/** A catalog server that cannot be reached, refuses the login, or stays down past the retries. */
export class CatalogUnavailableError extends ClipkitError {
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('CATALOG_UNAVAILABLE', message, path, options);
  }
}

/**
 * The catalog file cannot be used: corrupt, read-only, on a full disk, not openable. `sqliteCode`
 * keeps the driver's code (SQLITE_FULL, SQLITE_CORRUPT, ...) for callers that branch on it.
 */
export class CatalogError extends ClipkitError {
  readonly sqliteCode: string | undefined;
  constructor(message: string, path?: string, sqliteCode?: string, options?: { cause?: unknown }) {
    super('CATALOG', message, path, options);
    this.sqliteCode = sqliteCode;
  }
}

/** The catalog was built with another model, or its schema is newer than this build. */
export class CatalogMismatchError extends ClipkitError {
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('CATALOG_MISMATCH', message, path, options);
  }
}

/** Hub download failures: HTTP status, integrity, offline cache misses. */
export class HubError extends ClipkitError {
  readonly status: number | undefined;
  constructor(message: string, path?: string, status?: number, options?: { cause?: unknown }) {
    super('HUB', message, path, options);
    this.status = status;
  }
}

/** A file or folder named by the caller cannot be read (missing, unreadable, no regular file) or written. */
export class FileAccessError extends ClipkitError {
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('FILE_ACCESS', message, path, options);
  }
}

/** Invalid arguments to a public API or the CLI. */
export class UsageError extends ClipkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USAGE', message, undefined, options);
  }
}

/** A catalog id (file, content) that does not exist or no longer has a file on disk. */
export class NotFoundError extends ClipkitError {
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, path, options);
  }
}

/** A file the catalog names but that lies outside every imported folder (e.g. through a symlink). */
export class AccessDeniedError extends ClipkitError {
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('ACCESS_DENIED', message, path, options);
  }
}
