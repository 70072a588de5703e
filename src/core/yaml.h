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

#endif
