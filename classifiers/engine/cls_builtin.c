/* cls_builtin.c — the built-in classifiers. Adding one: write cls_<name>.c exporting
 * `const struct cls_plugin cls_plugin_<name>`, and add one line to the table below. */
#include <stddef.h>
#include <string.h>

#include "cls_builtin.h"

extern const struct cls_plugin cls_plugin_port;
extern const struct cls_plugin cls_plugin_payload;
extern const struct cls_plugin cls_plugin_tls;
extern const struct cls_plugin cls_plugin_quic;
extern const struct cls_plugin cls_plugin_dns;
extern const struct cls_plugin cls_plugin_http;
extern const struct cls_plugin cls_plugin_stat;
extern const struct cls_plugin cls_plugin_ftp;
extern const struct cls_plugin cls_plugin_tftp;
extern const struct cls_plugin cls_plugin_rtp;
extern const struct cls_plugin cls_plugin_ntp;

static const struct cls_plugin *const builtins[] = {
	&cls_plugin_port,
	&cls_plugin_payload,
	&cls_plugin_tls,
	&cls_plugin_quic,
	&cls_plugin_dns,
	&cls_plugin_http,
	&cls_plugin_stat,
	&cls_plugin_ftp,
	&cls_plugin_tftp,
	&cls_plugin_rtp,
	&cls_plugin_ntp,
};

#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

const struct cls_plugin *
cls_builtin_find(const char *name)
{
	for (size_t i = 0; i < N_BUILTINS; i++)
		if (builtins[i] && strcmp(builtins[i]->name, name) == 0)
			return builtins[i];
	return NULL;
}

const char *const *
cls_builtin_names(void)
{
	static const char *names[N_BUILTINS + 1];
	size_t n = 0;
	for (size_t i = 0; i < N_BUILTINS; i++)
		if (builtins[i])
			names[n++] = builtins[i]->name;
	names[n] = NULL;
	return names;
}
