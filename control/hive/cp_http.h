/* cp_http.h — the HTTP layer between civetweb and the API handlers.
 *
 * civetweb's begin_request callback receives every request; cp_http.c matches it against the
 * route table, enforces the body cap, authenticates, checks CSRF and the route's permission,
 * parses the JSON body, then calls the handler with a struct cp_req. A handler validates its
 * input, does its work (one transaction for a change, its audit row included) and answers with
 * cp_reply() or cp_fail(); the response is written after the handler returns, so a 2xx is only
 * ever sent for a committed change. */
#ifndef CP_HTTP_H
#define CP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cp_crypto.h"
#include "cp_json.h"
#include "cp_perm.h"

struct mg_connection;
struct mg_context;
struct mg_request_info;
struct cp_db;
struct cp_ldap;
struct cp_options;
struct cp_route;

#define CP_USERNAME_MAX 64
#define CP_ADDR_MAX 48       /* civetweb's remote_addr */
#define CP_MAX_PARAMS 4      /* {id}-style segments in one route pattern */
#define CP_PARAM_MAX 128     /* bytes in one such segment */
#define CP_EXTRA_HEADERS 1024

/* Process-wide state, read-only once the server runs. */
struct cp_server {
	const struct cp_options *opt;
	struct mg_context *mg;
	char db_path[4096];
	char webui_dir[4096]; /* resolved with realpath; "" when missing (placeholder page) */
	bool tls;
	const struct cp_ldap *ldap; /* LDAP sign-in (cp_ldap.h); NULL = local accounts only */
};

enum cp_auth_kind { CP_AUTH_NONE = 0, CP_AUTH_SESSION, CP_AUTH_TOKEN };

/* Who sent the request, resolved once per request from a session cookie or a bearer token. */
struct cp_identity {
	enum cp_auth_kind kind;
	int64_t user_id;
	char username[CP_USERNAME_MAX + 1];
	uint64_t perms;                      /* named permissions, see cp_perm.h */
	int64_t token_id;                    /* CP_AUTH_TOKEN */
	uint8_t session_hash[32];            /* CP_AUTH_SESSION: SHA-256 of the cookie */
	char csrf[CP_SECRET_B64_LEN + 1];    /* CP_AUTH_SESSION */
	int64_t expires_at;                  /* ms; 0 = never (tokens without expiry) */
};

struct cp_req {
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	const struct cp_server *srv;
	struct cp_db *db;                    /* this worker thread's connection */
	const struct cp_route *route;
	const char *method;
	const char *path;                    /* URL-decoded path, no query string */
	char path_buf[2048];
	char params[CP_MAX_PARAMS][CP_PARAM_MAX + 1];
	int n_params;
	json_t *body;                        /* the parsed JSON body, or NULL when none */
	char addr[CP_ADDR_MAX];
	struct cp_identity who;
	char drone[32];                      /* CP_PERM_DRONE routes: the drone the token names */
	int64_t drone_id;

	/* the answer, sent by cp_http.c once the handler returns */
	int status;
	json_t *resp;
	const char *error_code;              /* for the access log */
	char headers[CP_EXTRA_HEADERS];      /* extra "Name: value\r\n" lines */
	size_t headers_len;
	bool sent;                           /* the handler streamed the response itself */
};

/* Starts civetweb on srv->opt's address with the API and static handlers. 0 or -errno. */
int cp_http_start(struct cp_server *srv);
/* The port actually bound (useful with port 0), or -errno. */
int cp_http_port(const struct cp_server *srv);
void cp_http_stop(struct cp_server *srv);

/* Answers status with body (stolen; NULL = no body). Returns status, for `return cp_reply(...)`. */
int cp_reply(struct cp_req *r, int status, json_t *body);
/* Answers {"error":{"code":code,"message":...}}. Returns status. */
int cp_fail(struct cp_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The usual failure for a -errno from the database layer: 409 for -EEXIST, 503 for -EBUSY,
 * 507 for -ENOSPC, else 500 (logged). */
int cp_fail_errno(struct cp_req *r, int err, const char *what);
/* Adds a response header; values are the caller's constants or checked strings. */
void cp_header(struct cp_req *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Route parameter i as a row id (1 .. 2^53). On a malformed id answers 404 and returns -1. */
int64_t cp_param_id(struct cp_req *r, int i);
/* Query parameter into buf; 0, -ENOENT when absent, -E2BIG when longer than buf allows. */
int cp_query(struct cp_req *r, const char *name, char *buf, size_t size);
/* Query parameter as an integer within [min, max]: 0, or answers 400 and returns -1. */
int cp_query_int(struct cp_req *r, const char *name, int64_t min, int64_t max, int64_t def,
	int64_t *out);

/* Body validation against a field table (cp_json.h). */
/* 0 when the body is an object matching fields; otherwise answers 400 and returns -1. */
int cp_check_body(struct cp_req *r, const struct cp_field *fields, size_t n_fields);

/* Writing a response directly, for handlers that do not answer JSON: r->status, the extra
 * headers and the body. cp_static_serve serves the console's files for every path outside
 * /api (cp_static.c). */
void cp_http_send(struct cp_req *r, const char *content_type, const char *body, size_t len);
/* Only the status line and headers (len < 0: no body headers); the caller then writes exactly
 * len bytes with mg_write. For handlers that stream a file. */
void cp_http_head(struct cp_req *r, const char *content_type, int64_t len);
int cp_static_serve(struct cp_req *r);

#endif
