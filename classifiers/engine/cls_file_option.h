/* cls_file_option.h — for classifiers that read one table file (the port table, the payload
 * signatures): their only option is `file=<path>`, and without it the file is
 * <config_dir>/<default_name>. One definition, so every such plugin refuses unknown options
 * and resolves its path the same way. */
#ifndef CLS_FILE_OPTION_H
#define CLS_FILE_OPTION_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cls_plugin.h"

/* The table's path into out. 0, -EINVAL for an unknown option (logged with the
 * plugin's name), -ENAMETOOLONG if the path does not fit. */
static inline int
cls_file_option(const struct cls_config *cfg, const char *plugin, const char *default_name,
	char *out, size_t outlen)
{
	const char *file = NULL;
	size_t file_len = 0;
	int n = 0;

	for (const char *o = cfg->options ? cfg->options : ""; *o;) {
		size_t len = strcspn(o, ",");

		if (len > 5 && strncmp(o, "file=", 5) == 0) {
			file = o + 5;
			file_len = len - 5;
		} else if (len) {
			cfg->log(CLS_LOG_ERROR, plugin, "unknown option '%.*s' (known: file=<path>)",
				(int)len, o);
			return -EINVAL;
		}
		o += len + (o[len] == ',');
	}
	out[0] = '\0';
	if (file)
		n = snprintf(out, outlen, "%.*s", (int)file_len, file);
	else if (cfg->config_dir)
		n = snprintf(out, outlen, "%s/%s", cfg->config_dir, default_name);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

#endif
