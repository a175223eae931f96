/* cp_options.h — tide-control's settings: command line and configuration file.
 *
 * One table (cp_options.c) describes every setting once; the command line (`--data-dir DIR`)
 * and the configuration file (`data_dir = DIR`) are two spellings of the same entry, and the
 * command line wins. With no arguments the embedded defaults give a working loopback Hive. */
#ifndef CP_OPTIONS_H
#define CP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cp_options {
	/* process and storage */
	char *listen;              /* ADDR:PORT, IPv6 as [ADDR]:PORT */
	char *drone_listen;        /* drones' WebSocket; "" = listen's address, the next port */
	char *data_dir;            /* holds tide.db (and, later, datasets) */
	char *config_path;         /* --config FILE */
	char *log_file;            /* "" = <data_dir>/tide-control.log, "-" = stderr only */
	char *log_level;           /* debug | info | warn | error */
	bool access_log;           /* one info line per request */
	char *webui_dir;           /* static files of the web console */
	char *tls_cert;            /* PEM certificate (chain); with tls_key turns HTTPS on */
	char *tls_key;             /* PEM private key */
	char *tls_shim;            /* cp_ssl_shim.so; "" = beside the binary, then LIBDIR/tide */
	char *dataplane_path;      /* tide-dataplane; "" = next to tide-control's executable */
	char *local_links;         /* the local drone's links, NAME=SPEC;... ("" = no local drone) */
	uint64_t drone_grace;      /* seconds a drone may be away before its captures fail */
	uint64_t max_scripts;      /* post-processing scripts run at once */
	uint64_t max_upload;       /* bytes: largest file a drone may upload */
	uint64_t threads;          /* civetweb worker threads = concurrent connections served */
	uint64_t max_body;         /* request body cap in bytes (413 above it) */
	/* authentication */
	uint64_t session_ttl;      /* seconds a login session lives */
	uint64_t login_user_failures;  /* failures in a row before an account is locked */
	uint64_t login_addr_failures;  /* failures in a row before a client address is locked */
	uint64_t login_lockout;    /* first lock-out, seconds; doubles with each further failure */
	uint64_t login_lockout_max;/* cap of a single lock-out, seconds */
	uint64_t login_window;     /* seconds after which an unlocked failure streak is forgotten */
	uint64_t login_audit_window; /* seconds over which repeated login refusals share a row */
	/* LDAP sign-in (cp_ldap.c); ldap_uri empty = local accounts only */
	char *ldap_uri;            /* ldap://HOST[:PORT] or ldaps://...; several = tried in order */
	bool ldap_starttls;        /* StartTLS on an ldap:// connection (required, not opportunistic) */
	char *ldap_ca_file;        /* PEM CA bundle for ldaps/StartTLS; "" = system's (ldap.conf) */
	char *ldap_bind_dn;        /* service account for the search; "" = anonymous search */
	char *ldap_bind_password;  /* its password; or: */
	char *ldap_bind_password_file; /* a file holding it (first line), kept out of ps and config */
	char *ldap_base_dn;        /* where users are searched (subtree) */
	char *ldap_user_filter;    /* %s (and %u) = the RFC 4515-escaped user name */
	char *ldap_group_attr;     /* attribute of the user entry listing its group DNs */
	char *ldap_group_base;     /* non-empty: find groups by searching here instead */
	char *ldap_group_filter;   /* group search; %s = escaped user DN, %u = escaped user name */
	char *ldap_group_map;      /* GROUP=tidegroup;... with GROUP an LDAP group DN or CN */
	uint64_t ldap_timeout;     /* seconds for one whole LDAP login (connect, searches, binds) */

	/* one-shot actions */
	bool help;
	bool version;
	bool list_routes;          /* print METHOD PATH PERMISSION for every route and exit */
	uint64_t migrate_to;       /* hidden: migrate the database to this version and exit */
};

/* Fills o from defaults, then the config file named by --config, then the command line.
 * Returns 0, or -EINVAL after printing the problem (and where) to stderr. */
int cp_options_parse(struct cp_options *o, int argc, char **argv);
void cp_options_free(struct cp_options *o);
void cp_options_usage(FILE *out);

#endif
