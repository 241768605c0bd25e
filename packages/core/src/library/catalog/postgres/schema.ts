// The PostgreSQL catalog's schema: the SQLite layout (one `contents` row per distinct file
// content, one `files` row per path) plus the shared-import tables: `queue` (files a scan found
// new or changed, claimed in batches under a lease), `content_claims` (a hash being encoded, so
// two machines finding the same photo encode it once) and `workers` (for `clipkit status`).
// Everything lives in the schema `clipkit`; clipkit.meta holds the schema version and two
// counters for search caches: 'appends' counts batch commits (each stamps its contents with it),
// 'generation' counts changes other than new contents (files gone, pruned, revived, relinked).
//
// The embedding column is pgvector's halfvec when the extension could be created, else bytea
// holding little-endian f16; its dimension is fixed when the first model is bound.
export type VectorColumn = 'halfvec' | 'bytea';

export const migrations: ReadonlyArray<(vec: VectorColumn) => string> = [
  (vec) => `
  CREATE TABLE clipkit.model (
    singleton      int  PRIMARY KEY CHECK (singleton = 1),
    model_id       text NOT NULL,
    projection_dim int  NOT NULL CHECK (projection_dim > 0),
    config_hash    text NOT NULL,
    store          text NOT NULL CHECK (store IN ('f32', 'f16')),
    model_dir      text,
    weights_sha256 text
  );
  CREATE TABLE clipkit.contents (
    id         serial PRIMARY KEY,
    hash       text   NOT NULL UNIQUE,
    status     text   NOT NULL CHECK (status IN ('ok', 'error')),
    error_code text,
    error      text,
    embedding  ${vec},
    precision  text CHECK (precision IN ('fp32', 'bf16')),
    -- The commit (meta 'appends') that stored it: a search cache loads only what came after.
    batch_seq  bigint NOT NULL DEFAULT 0,
    CHECK ((status = 'ok') = (embedding IS NOT NULL)),
    CHECK ((status = 'error') = (error IS NOT NULL))
  );
  CREATE TABLE clipkit.files (
    id         serial  PRIMARY KEY,
    path       text    COLLATE "C" NOT NULL UNIQUE,
    size       bigint  NOT NULL,
    mtime_ms   float8  NOT NULL,
    content_id int     NOT NULL REFERENCES clipkit.contents (id),
    missing    boolean NOT NULL DEFAULT false
  );
  CREATE INDEX files_content ON clipkit.files (content_id);
  CREATE TABLE clipkit.roots (path text COLLATE "C" PRIMARY KEY);
  CREATE TABLE clipkit.queue (
    id          bigserial UNIQUE,
    path        text      COLLATE "C" PRIMARY KEY,
    size        bigint    NOT NULL,
    mtime_ms    float8    NOT NULL,
    fs_path     bytea     NOT NULL,
    state       text      NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'waiting')),
    worker      text,
    lease_until timestamptz
  );
  CREATE TABLE clipkit.content_claims (
    hash        text        PRIMARY KEY,
    worker      text        NOT NULL,
    lease_until timestamptz NOT NULL
  );
  CREATE TABLE clipkit.workers (
    id        text        PRIMARY KEY,
    host      text        NOT NULL,
    pid       int         NOT NULL,
    root      text        NOT NULL,
    started   timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    done      int         NOT NULL DEFAULT 0,
    failed    int         NOT NULL DEFAULT 0,
    finished  boolean     NOT NULL DEFAULT false
  );
  CREATE INDEX contents_batch_seq ON clipkit.contents (batch_seq);
  INSERT INTO clipkit.meta VALUES ('vector_column', '${vec}'), ('generation', '0'), ('appends', '0');
  `,
];

export const SCHEMA_VERSION = migrations.length;
