/* cls_builtin.h — the table of classifiers linked into tide. Adding a built-in classifier is one
 * new file plus one line in cls_builtin.c. */
#ifndef CLS_BUILTIN_H
#define CLS_BUILTIN_H

#include "cls_plugin.h"

/* The built-in plugin called `name`, or NULL. */
const struct cls_plugin *cls_builtin_find(const char *name);
/* Names of all built-ins, NULL-terminated (for --help and errors). */
const char *const *cls_builtin_names(void);

#endif
