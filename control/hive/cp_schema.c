/* cp_schema.c — the control plane's database schema, as an ordered list of migrations.
 *
 * The list is the schema's whole history: a new database runs every step, an old one runs the
 * steps it has not seen (cp_db_migrate), each in one transaction. Released steps are never
 * edited; a change is a new step at the end (ALTER TABLE ADD COLUMN, or create-copy-rename for
 * what SQLite cannot alter). tests/hive/test_migrations.py upgrades a version-1 database
 * holding data and checks nothing is lost.
 *
 * Conventions: times are INTEGER milliseconds since the Unix epoch (UTC); secrets handed to
 * clients are stored only as SHA-256 BLOBs; names compare case-insensitively. */
#include "cp_db.h"

#define NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

/* every column of jobs as of step 10, for its copy */
#define JOBS_V10_COLUMNS \
	"id, name, description, owner_id, owner, filter, max_size, max_duration, snaplen," \
	" anonymise, classify, session_type, link, state, reason, pid, created_at, started_at," \
	" ended_at, counters, has_script, script_timeout, group_id, shared, dataset_bytes," \
	" max_packets, lookback_s, pending_reason, shard_size, shard_time"

/* every column of jobs as of step 11 (step 10's but pid), for its copy */
#define JOBS_V11_COLUMNS \
	"id, name, description, owner_id, owner, filter, max_size, max_duration, snaplen," \
	" anonymise, classify, session_type, link, state, reason, created_at, started_at," \
	" ended_at, counters, has_script, script_timeout, group_id, shared, dataset_bytes," \
	" max_packets, lookback_s, pending_reason, shard_size, shard_time"

const struct cp_migration cp_migrations[] = {
	{ 1, "users, groups, sessions, append-only audit log",
		"CREATE TABLE users ("
		"  id INTEGER PRIMARY KEY,"
		"  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
		/* argon2id string; NULL: no local password (accounts made from LDAP) */
		"  password_hash TEXT,"
		"  source TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap')),"
		"  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
		"  created_at INTEGER NOT NULL,"
		"  updated_at INTEGER NOT NULL);"
		"CREATE TABLE groups ("
		"  id INTEGER PRIMARY KEY,"
		"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
		"  description TEXT NOT NULL DEFAULT '',"
		"  builtin INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),"
		"  created_at INTEGER NOT NULL);"
		"CREATE TABLE group_permissions ("
		"  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
		"  permission TEXT NOT NULL,"
		"  PRIMARY KEY (group_id, permission)) WITHOUT ROWID;"
		"CREATE TABLE user_groups ("
		"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
		"  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
		"  PRIMARY KEY (user_id, group_id)) WITHOUT ROWID;"
		"CREATE INDEX user_groups_by_group ON user_groups(group_id);"
		"CREATE TABLE sessions ("
		"  id_hash BLOB PRIMARY KEY,"           /* SHA-256 of the cookie value */
		"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
		"  csrf_token TEXT NOT NULL,"
		"  address TEXT NOT NULL,"
		"  created_at INTEGER NOT NULL,"
		"  expires_at INTEGER NOT NULL) WITHOUT ROWID;"
		"CREATE INDEX sessions_by_user ON sessions(user_id);"
		/* actor and target are text, not foreign keys: the record outlives what it names */
		"CREATE TABLE audit ("
		"  id INTEGER PRIMARY KEY,"
		"  time INTEGER NOT NULL,"
		"  actor TEXT NOT NULL,"
		"  address TEXT NOT NULL,"
		"  action TEXT NOT NULL,"
		"  target TEXT NOT NULL DEFAULT '',"
		"  detail TEXT NOT NULL DEFAULT '{}');"
		"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
		"  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
		"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
		"  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
		"INSERT INTO groups (name, description, builtin, created_at) VALUES"
		"  ('admins', 'Every permission', 1, " NOW_MS "),"
		"  ('users', 'Researchers: own capture jobs', 1, " NOW_MS ");"
		"INSERT INTO group_permissions (group_id, permission)"
		"  SELECT id, p.column1 FROM groups, (VALUES ('jobs.read'), ('jobs.write')) AS p"
		"  WHERE name = 'users';" },

	{ 2, "application tokens, last login time",
		"CREATE TABLE tokens ("
		"  id INTEGER PRIMARY KEY,"
		"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
		"  name TEXT NOT NULL,"
		"  hash BLOB NOT NULL UNIQUE,"          /* SHA-256 of the whole token */
		"  prefix TEXT NOT NULL,"               /* its first characters, to recognise it */
		"  created_at INTEGER NOT NULL,"
		"  expires_at INTEGER,"                 /* NULL: never */
		"  last_used_at INTEGER,"
		"  revoked_at INTEGER);"
		"CREATE INDEX tokens_by_user ON tokens(user_id);"
		"ALTER TABLE users ADD COLUMN last_login_at INTEGER;" },

	{ 3, "login throttling, audit look-up by action",
		/* key: 'user:<lower-case name>' or 'addr:<address or IPv6 /64>' */
		"CREATE TABLE login_throttle ("
		"  key TEXT PRIMARY KEY,"
		"  failures INTEGER NOT NULL,"
		"  last_failure_at INTEGER NOT NULL,"
		"  locked_until INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
		"CREATE INDEX audit_by_action ON audit(action, id);" },

	{ 4, "capture jobs on the local drone",
		/* owner_id is not a foreign key: a job and its dataset outlive a deleted user */
		"CREATE TABLE jobs ("
		"  id INTEGER PRIMARY KEY,"
		"  name TEXT NOT NULL,"
		"  description TEXT NOT NULL DEFAULT '',"
		"  owner_id INTEGER NOT NULL,"
		"  owner TEXT NOT NULL,"                /* user name at creation, for listings */
		"  filter TEXT NOT NULL DEFAULT '',"
		"  max_size INTEGER NOT NULL,"          /* bytes */
		"  max_duration INTEGER NOT NULL,"      /* seconds */
		"  snaplen INTEGER NOT NULL DEFAULT 0," /* 0 = whole packets */
		"  anonymise INTEGER NOT NULL DEFAULT 0 CHECK (anonymise IN (0, 1)),"
		"  classify INTEGER NOT NULL DEFAULT 0 CHECK (classify IN (0, 1)),"
		"  session_type TEXT NOT NULL DEFAULT 'biflow',"
		"  link TEXT NOT NULL,"
		"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running',"
		"    'finishing', 'done', 'failed', 'cancelled')),"
		"  reason TEXT NOT NULL DEFAULT '',"
		"  pid INTEGER NOT NULL DEFAULT 0,"     /* the running dataplane, for restarts */
		"  created_at INTEGER NOT NULL,"
		"  started_at INTEGER,"
		"  ended_at INTEGER,"
		"  counters TEXT NOT NULL DEFAULT '{}');"
		"CREATE INDEX jobs_by_owner ON jobs(owner_id, id);"
		"CREATE INDEX jobs_by_state ON jobs(state, link, id);" },

	{ 5, "post-processing scripts: state 'processing', has_script, script_timeout",
		/* SQLite cannot alter a CHECK: the table is rebuilt and its rows copied */
		"CREATE TABLE jobs_new ("
		"  id INTEGER PRIMARY KEY,"
		"  name TEXT NOT NULL,"
		"  description TEXT NOT NULL DEFAULT '',"
		"  owner_id INTEGER NOT NULL,"
		"  owner TEXT NOT NULL,"
		"  filter TEXT NOT NULL DEFAULT '',"
		"  max_size INTEGER NOT NULL,"
		"  max_duration INTEGER NOT NULL,"
		"  snaplen INTEGER NOT NULL DEFAULT 0,"
		"  anonymise INTEGER NOT NULL DEFAULT 0 CHECK (anonymise IN (0, 1)),"
		"  classify INTEGER NOT NULL DEFAULT 0 CHECK (classify IN (0, 1)),"
		"  session_type TEXT NOT NULL DEFAULT 'biflow',"
		"  link TEXT NOT NULL,"
		"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running',"
		"    'finishing', 'processing', 'done', 'failed', 'cancelled')),"
		"  reason TEXT NOT NULL DEFAULT '',"
		"  pid INTEGER NOT NULL DEFAULT 0,"
		"  created_at INTEGER NOT NULL,"
		"  started_at INTEGER,"
		"  ended_at INTEGER,"
		"  counters TEXT NOT NULL DEFAULT '{}',"
		/* the script is DATA_DIR/jobs/<id>.sh, outside the dataset */
		"  has_script INTEGER NOT NULL DEFAULT 0 CHECK (has_script IN (0, 1)),"
		"  script_timeout INTEGER NOT NULL DEFAULT 300);" /* seconds */
		"INSERT INTO jobs_new (id, name, description, owner_id, owner, filter, max_size,"
		"  max_duration, snaplen, anonymise, classify, session_type, link, state, reason, pid,"
		"  created_at, started_at, ended_at, counters)"
		"  SELECT id, name, description, owner_id, owner, filter, max_size, max_duration,"
		"  snaplen, anonymise, classify, session_type, link, state, reason, pid, created_at,"
		"  started_at, ended_at, counters FROM jobs;"
		"DROP TABLE jobs;"
		"ALTER TABLE jobs_new RENAME TO jobs;"
		"CREATE INDEX jobs_by_owner ON jobs(owner_id, id);"
		"CREATE INDEX jobs_by_state ON jobs(state, link, id);" },

	{ 6, "drones dialling in, jobs on several links, group scoping and quotas, uploaded files",
		/* token_hash: SHA-256 of the drone token; NULL until one is issued. host, links and
		 * applied are what the drone last reported; tuning is what the Hive wants. */
		"CREATE TABLE drones ("
		"  id INTEGER PRIMARY KEY,"
		"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
		"  token_hash BLOB UNIQUE,"
		"  builtin INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),"
		"  created_at INTEGER NOT NULL,"
		"  last_seen_at INTEGER,"
		"  version TEXT NOT NULL DEFAULT '',"
		"  hostname TEXT NOT NULL DEFAULT '',"
		"  address TEXT NOT NULL DEFAULT '',"
		"  host TEXT NOT NULL DEFAULT '{}',"
		"  links TEXT NOT NULL DEFAULT '[]',"
		"  tuning TEXT NOT NULL DEFAULT '{}',"
		"  applied TEXT NOT NULL DEFAULT '{}');"
		"INSERT INTO drones (name, builtin, created_at) VALUES ('local', 1, " NOW_MS ");"
		/* one row per (job, drone, link): the job's parallel captures */
		"CREATE TABLE job_links ("
		"  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
		"  drone TEXT NOT NULL COLLATE NOCASE,"
		"  link TEXT NOT NULL,"
		"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running',"
		"    'finishing', 'done', 'failed', 'cancelled')),"
		"  reason TEXT NOT NULL DEFAULT '',"
		"  counters TEXT NOT NULL DEFAULT '{}',"
		"  started_at INTEGER,"
		"  ended_at INTEGER,"
		"  PRIMARY KEY (job_id, drone, link)) WITHOUT ROWID;"
		"CREATE INDEX job_links_by_link ON job_links(drone, link, state);"
		"INSERT INTO job_links (job_id, drone, link, state, reason, counters, started_at,"
		"  ended_at) SELECT id, 'local', link, CASE state WHEN 'processing' THEN 'done'"
		"  ELSE state END, reason, counters, started_at, ended_at FROM jobs;"
		/* files a drone uploaded into a dataset, with the SHA-256 the Hive computed */
		"CREATE TABLE job_files ("
		"  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
		"  path TEXT NOT NULL,"
		"  drone TEXT NOT NULL,"
		"  size INTEGER NOT NULL,"
		"  sha256 TEXT NOT NULL,"
		"  uploaded_at INTEGER NOT NULL,"
		"  PRIMARY KEY (job_id, path)) WITHOUT ROWID;"
		/* group_id: the group the job counts against (quota); shared = 1: its members see
		 * and manage it too. Older jobs: no group, the owner's alone. */
		"ALTER TABLE jobs ADD COLUMN group_id INTEGER;"
		"ALTER TABLE jobs ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;"
		"ALTER TABLE jobs ADD COLUMN dataset_bytes INTEGER NOT NULL DEFAULT 0;"
		"CREATE INDEX jobs_by_group ON jobs(group_id, id);"
		"ALTER TABLE groups ADD COLUMN quota_bytes INTEGER NOT NULL DEFAULT 0;" },

	{ 7, "capture parameters of the job contract: max_packets and lookback_s",
		/* 0 = unlimited / no look-back, as for every job made before */
		"ALTER TABLE jobs ADD COLUMN max_packets INTEGER NOT NULL DEFAULT 0;"
		"ALTER TABLE jobs ADD COLUMN lookback_s INTEGER NOT NULL DEFAULT 0;" },

	{ 8, "concurrent jobs on a link: why a pending job waits",
		/* written by the scheduler while the job is pending, cleared when it starts */
		"ALTER TABLE jobs ADD COLUMN pending_reason TEXT NOT NULL DEFAULT '';" },

	{ 9, "shards as the job asks: shard_size and shard_time",
		/* 0 = the drone's default (256 MiB, no time limit), as for every job made before */
		"ALTER TABLE jobs ADD COLUMN shard_size INTEGER NOT NULL DEFAULT 0;"
		"ALTER TABLE jobs ADD COLUMN shard_time INTEGER NOT NULL DEFAULT 0;" },

	{ 10, "a job some of whose links failed ends 'partial'",
		/* SQLite cannot alter a CHECK: the table is rebuilt and its rows copied (foreign
		 * keys are off during a step, so job_links and job_files keep their rows) */
		"CREATE TABLE jobs_new ("
		"  id INTEGER PRIMARY KEY,"
		"  name TEXT NOT NULL,"
		"  description TEXT NOT NULL DEFAULT '',"
		"  owner_id INTEGER NOT NULL,"
		"  owner TEXT NOT NULL,"
		"  filter TEXT NOT NULL DEFAULT '',"
		"  max_size INTEGER NOT NULL,"
		"  max_duration INTEGER NOT NULL,"
		"  snaplen INTEGER NOT NULL DEFAULT 0,"
		"  anonymise INTEGER NOT NULL DEFAULT 0 CHECK (anonymise IN (0, 1)),"
		"  classify INTEGER NOT NULL DEFAULT 0 CHECK (classify IN (0, 1)),"
		"  session_type TEXT NOT NULL DEFAULT 'biflow',"
		"  link TEXT NOT NULL,"
		"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running',"
		"    'finishing', 'processing', 'done', 'partial', 'failed', 'cancelled')),"
		"  reason TEXT NOT NULL DEFAULT '',"
		"  pid INTEGER NOT NULL DEFAULT 0,"
		"  created_at INTEGER NOT NULL,"
		"  started_at INTEGER,"
		"  ended_at INTEGER,"
		"  counters TEXT NOT NULL DEFAULT '{}',"
		"  has_script INTEGER NOT NULL DEFAULT 0 CHECK (has_script IN (0, 1)),"
		"  script_timeout INTEGER NOT NULL DEFAULT 300,"
		"  group_id INTEGER,"
		"  shared INTEGER NOT NULL DEFAULT 0,"
		"  dataset_bytes INTEGER NOT NULL DEFAULT 0,"
		"  max_packets INTEGER NOT NULL DEFAULT 0,"
		"  lookback_s INTEGER NOT NULL DEFAULT 0,"
		"  pending_reason TEXT NOT NULL DEFAULT '',"
		"  shard_size INTEGER NOT NULL DEFAULT 0,"
		"  shard_time INTEGER NOT NULL DEFAULT 0);"
		"INSERT INTO jobs_new (" JOBS_V10_COLUMNS ") SELECT " JOBS_V10_COLUMNS " FROM jobs;"
		"DROP TABLE jobs;"
		"ALTER TABLE jobs_new RENAME TO jobs;"
		"CREATE INDEX jobs_by_owner ON jobs(owner_id, id);"
		"CREATE INDEX jobs_by_state ON jobs(state, link, id);"
		"CREATE INDEX jobs_by_group ON jobs(group_id, id);" },

	{ 11, "jobs.pid dropped (always 0: captures run in the drones)",
		/* nothing reads or sets it since captures stopped being the Hive's children; the
		 * table is rebuilt as at step 10 without it (foreign keys are off during a step, so
		 * job_links and job_files keep their rows) */
		"CREATE TABLE jobs_new ("
		"  id INTEGER PRIMARY KEY,"
		"  name TEXT NOT NULL,"
		"  description TEXT NOT NULL DEFAULT '',"
		"  owner_id INTEGER NOT NULL,"
		"  owner TEXT NOT NULL,"
		"  filter TEXT NOT NULL DEFAULT '',"
		"  max_size INTEGER NOT NULL,"
		"  max_duration INTEGER NOT NULL,"
		"  snaplen INTEGER NOT NULL DEFAULT 0,"
		"  anonymise INTEGER NOT NULL DEFAULT 0 CHECK (anonymise IN (0, 1)),"
		"  classify INTEGER NOT NULL DEFAULT 0 CHECK (classify IN (0, 1)),"
		"  session_type TEXT NOT NULL DEFAULT 'biflow',"
		"  link TEXT NOT NULL,"
		"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running',"
		"    'finishing', 'processing', 'done', 'partial', 'failed', 'cancelled')),"
		"  reason TEXT NOT NULL DEFAULT '',"
		"  created_at INTEGER NOT NULL,"
		"  started_at INTEGER,"
		"  ended_at INTEGER,"
		"  counters TEXT NOT NULL DEFAULT '{}',"
		"  has_script INTEGER NOT NULL DEFAULT 0 CHECK (has_script IN (0, 1)),"
		"  script_timeout INTEGER NOT NULL DEFAULT 300,"
		"  group_id INTEGER,"
		"  shared INTEGER NOT NULL DEFAULT 0,"
		"  dataset_bytes INTEGER NOT NULL DEFAULT 0,"
		"  max_packets INTEGER NOT NULL DEFAULT 0,"
		"  lookback_s INTEGER NOT NULL DEFAULT 0,"
		"  pending_reason TEXT NOT NULL DEFAULT '',"
		"  shard_size INTEGER NOT NULL DEFAULT 0,"
		"  shard_time INTEGER NOT NULL DEFAULT 0);"
		"INSERT INTO jobs_new (" JOBS_V11_COLUMNS ") SELECT " JOBS_V11_COLUMNS " FROM jobs;"
		"DROP TABLE jobs;"
		"ALTER TABLE jobs_new RENAME TO jobs;"
		"CREATE INDEX jobs_by_owner ON jobs(owner_id, id);"
		"CREATE INDEX jobs_by_state ON jobs(state, link, id);"
		"CREATE INDEX jobs_by_group ON jobs(group_id, id);" },

	{ 12, "flow export: a job's collector destination",
		/* '' = no export, as for every job made before (tide_job.h, tide_export.h) */
		"ALTER TABLE jobs ADD COLUMN export TEXT NOT NULL DEFAULT '';" },

	{ 13, "selection by application: the applications or services a job keeps",
		/* apps is the contract's canonical list ("QUIC,YouTube"), '' = every session, as for
		 * every job made before; the bounds' defaults are tide_job.h's */
		"ALTER TABLE jobs ADD COLUMN apps TEXT NOT NULL DEFAULT '';"
		"ALTER TABLE jobs ADD COLUMN apps_keep_undecided INTEGER NOT NULL DEFAULT 0"
		"  CHECK (apps_keep_undecided IN (0, 1));"
		"ALTER TABLE jobs ADD COLUMN apps_packets INTEGER NOT NULL DEFAULT 32;"
		"ALTER TABLE jobs ADD COLUMN apps_wait INTEGER NOT NULL DEFAULT 5;" },
};

const int cp_migrations_count = sizeof(cp_migrations) / sizeof(cp_migrations[0]);
