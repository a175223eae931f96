/* dp_files.c — where tide finds its own files (see dp_files.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_files.h"

const char *
dp_find_demo_pcap(void)
{
	static char path[PATH_MAX + 64];
	const char *env = getenv("TIDE_DEMO_PCAP");
	if (env)
		return env;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		static const char *const rel[] = {"/../config/demo.pcap",
			"/../share/tide/demo.pcap"};
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(path, sizeof(path), "%s%s", exe, rel[i]);
			if (access(path, R_OK) == 0)
				return path;
		}
	}
	/* a build directory outside the source tree */
	snprintf(path, sizeof(path), "%s/config/demo.pcap", TIDE_SOURCE_DIR);
	if (access(path, R_OK) == 0)
		return path;
	return NULL;
}

const char *
dp_find_config_dir(const char *given)
{
	static char path[PATH_MAX + 64];
	if (given)
		return given;
	const char *env = getenv("TIDE_CONFIG_DIR");
	if (env)
		return env;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		static const char *const rel[] = {"/../config", "/../share/tide/config",
			"/../../config"};
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(path, sizeof(path), "%s%s/tide_apps.txt", exe, rel[i]);
			if (access(path, R_OK) == 0) {
				snprintf(path, sizeof(path), "%s%s", exe, rel[i]);
				return path;
			}
		}
	}
	snprintf(path, sizeof(path), "%s/config/tide_apps.txt", TIDE_SOURCE_DIR);
	if (access(path, R_OK) == 0) {
		snprintf(path, sizeof(path), "%s/config", TIDE_SOURCE_DIR);
		return path;
	}
	return "/etc/tide";
}
