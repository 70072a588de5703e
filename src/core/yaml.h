/* Small libfyaml helpers shared by the scene parser and vigie serve's config parser. */
#ifndef VG_CORE_YAML_H
#define VG_CORE_YAML_H

#include <libfyaml.h>
#include <stdarg.h>
#include <stddef.h>

/* The 1-based line of @n (of its first key or item for a mapping or sequence), 0 if unknown. */
int vg__yaml_line(struct fy_node *n);

/* "FILE:LINE: KEY: MESSAGE" (or without the line when unknown) into @err. */
void vg__yaml_vfail(char *err, size_t errlen, const char *file, struct fy_node *n, const char *key,
                    const char *fmt, va_list ap);
/* libfyaml's "<memory-@...>:LINE:COL: error: TEXT" as "FILE:LINE:COL: not valid YAML: TEXT". */
void vg__yaml_diag_message(char *err, size_t errlen, const char *file, const char *diag);

/* A mapping's member: its key (a known one) and value; 0 or a negative error. */
typedef int (*vg_yaml_member_fn)(void *ctx, const char *key, struct fy_node *value, void *obj);
/* Report @msg about @n (under @key); returns the error to give back (VG_ESYNTAX). */
typedef int (*vg_yaml_fail_fn)(void *ctx, struct fy_node *n, const char *key, const char *msg);

/*
 * Walk the mapping @n (@what names it in messages): each key must be a plain name from the
 * NULL-terminated @allowed; @member is called for each, in order. A node that is not a mapping,
 * a key that is not a plain name, and an unknown key (the message lists the known ones) go to
 * @fail. Returns 0, or the first error of @member or @fail. The one walker of the scene parser
 * and of vigie serve's config parser.
 */
int vg__yaml_walk(struct fy_node *n, const char *what, const char *const *allowed,
                  vg_yaml_member_fn member, vg_yaml_fail_fn fail, void *ctx, void *obj);

/* The first alias node under @n (YAML's *name: refused, an alias bomb otherwise expands without
 * bound), or a node nested more than 64 deep; NULL when there is none. */
struct fy_node *vg__yaml_find_alias(struct fy_node *n);

#endif
