/* cp_perm.c — names and descriptions of permissions, generated from the X-macro list. */
#include <string.h>

#include "cp_perm.h"

static const char *const perm_names[CP_PERM_END] = {
	[CP_PERM_PUBLIC] = "public",
	[CP_PERM_AUTHENTICATED] = "authenticated",
	[CP_PERM_DRONE] = "drone",
#define CP_PERM_NAME(id, name, desc) [CP_PERM_##id] = name,
	CP_PERMISSIONS(CP_PERM_NAME)
#undef CP_PERM_NAME
};

static const char *const perm_descriptions[CP_PERM_END] = {
	[CP_PERM_PUBLIC] = "no credentials needed",
	[CP_PERM_AUTHENTICATED] = "any signed-in user",
	[CP_PERM_DRONE] = "a registered drone's token",
#define CP_PERM_DESC(id, name, desc) [CP_PERM_##id] = desc,
	CP_PERMISSIONS(CP_PERM_DESC)
#undef CP_PERM_DESC
};

const char *
cp_perm_name(enum cp_perm p)
{
	return p > CP_PERM_UNSET && p < CP_PERM_END ? perm_names[p] : NULL;
}

const char *
cp_perm_description(enum cp_perm p)
{
	return p > CP_PERM_UNSET && p < CP_PERM_END ? perm_descriptions[p] : NULL;
}

enum cp_perm
cp_perm_lookup(const char *name)
{
	for (int p = CP_PERM_FIRST_NAMED; p < CP_PERM_END; p++)
		if (strcmp(perm_names[p], name) == 0)
			return (enum cp_perm)p;
	return CP_PERM_UNSET;
}
