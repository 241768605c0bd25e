// The catalog's schema as an ordered list of migrations. PRAGMA user_version records how many
// have run; a catalog whose version is newer than this list was written by a newer clipkit.
//
// Layout: one `contents` row per distinct file content (sha256), holding its embedding or the
// reason it could not be encoded; one `files` row per path pointing at its content. Identical
// bytes at several paths are therefore encoded and stored once.
export const migrations: readonly string[] = [
  `
  CREATE TABLE model (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    model_id       TEXT    NOT NULL,
    projection_dim INTEGER NOT NULL CHECK (projection_dim > 0),
    config_hash    TEXT    NOT NULL,
    store          TEXT    NOT NULL CHECK (store IN ('f32', 'f16')),
    model_dir      TEXT
  );
  CREATE TABLE contents (
    id         INTEGER PRIMARY KEY,
    hash       TEXT    NOT NULL UNIQUE,
    status     TEXT    NOT NULL CHECK (status IN ('ok', 'error')),
    error_code TEXT,
    error      TEXT,
    embedding  BLOB,
    CHECK ((status = 'ok') = (embedding IS NOT NULL)),
    CHECK ((status = 'error') = (error IS NOT NULL))
  );
  CREATE TABLE files (
    id         INTEGER PRIMARY KEY,
    path       TEXT    NOT NULL UNIQUE,
    size       INTEGER NOT NULL,
    mtime_ms   REAL    NOT NULL,
    content_id INTEGER NOT NULL REFERENCES contents (id),
    missing    INTEGER NOT NULL DEFAULT 0 CHECK (missing IN (0, 1))
  );
  CREATE INDEX files_content ON files (content_id);
  `,
  // The folders imported into this catalog: `clipkit serve` hands out only files inside them.
  `
  CREATE TABLE roots (path TEXT PRIMARY KEY);
  `,
  // The weights' sha256 joins the model's identity (NULL until a model is next bound).
  `
  ALTER TABLE model ADD COLUMN weights_sha256 TEXT;
  `,
  // The precision that encoded each embedding (issue 16). Rows written before it existed were
  // fp32, the only engine then; error rows have none. Search mixes both: same model, same space.
  `
  ALTER TABLE contents ADD COLUMN precision TEXT CHECK (precision IN ('fp32', 'bf16'));
  UPDATE contents SET precision = 'fp32' WHERE status = 'ok';
  `,
];

export const SCHEMA_VERSION = migrations.length;
