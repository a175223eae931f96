/* cls_apps.h — the application table (config/tide_apps.txt, in the spirit of TIE's
 * tie_apps.txt): numeric ids, sub ids, names as users know them, and a group.
 *
 * File format, one application or sub-application per line, '#' comments:
 *   <app_id> <sub_id> <name> <group>      e.g.  "7 0 TLS web"   "7 1 TLS/HTTP2 web"
 * sub_id 0 is the application itself. Ids and names are unique. */
#ifndef CLS_APPS_H
#define CLS_APPS_H

#include <stddef.h>
#include <stdint.h>

struct cls_apps;

/* Load a table. NULL on error with "FILE:LINE: reason" in err. */
struct cls_apps *cls_apps_load(const char *path, char *err, size_t errlen);
void cls_apps_free(struct cls_apps *a);

/* app id of an application name (sub_id 0 entries; case-insensitive); 0 if unknown. */
uint16_t cls_apps_id(const struct cls_apps *a, const char *name);
/* sub id of "<app name>/<sub name>" or of a sub name under app_id; 0 if unknown. */
uint16_t cls_apps_sub_id(const struct cls_apps *a, uint16_t app_id, const char *sub_name);
/* name and group of (app, sub); "unknown" / "" for id 0 or an id not in the table. */
const char *cls_apps_name(const struct cls_apps *a, uint16_t app_id, uint16_t sub_id);
const char *cls_apps_group(const struct cls_apps *a, uint16_t app_id);
size_t cls_apps_count(const struct cls_apps *a);

#endif
