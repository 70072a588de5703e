/*
 * vigie — option tables.
 *
 * Every tunable value of every module is declared once, in that module's table (FFmpeg's AVOption
 * and redis's config table are the models): name, help, type, where it lives in the module's
 * params struct, default, range, unit and flags. The same table drives `--set key=value`, the scene
 * file's `settings:` and per-event sections, `vigie options`, the generated reference in
 * docs/options.md and range checks with messages a person can act on.
 *
 * Full option names are "<group>.<name>" ("input.width", "pipeline.queue"). Values are stored in
 * the params struct at `offset`: VG_OPT_BOOL, VG_OPT_INT and VG_OPT_ENUM as `int`, VG_OPT_DOUBLE as
 * `double`, VG_OPT_STRING as an owned `char *` (vg_opt_free releases it).
 */
#ifndef VIGIE_OPT_H
#define VIGIE_OPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vg_opt_type {
    VG_OPT_BOOL,
    VG_OPT_INT,
    VG_OPT_DOUBLE,
    VG_OPT_STRING,
    VG_OPT_ENUM,
} vg_opt_type_t;

/** The option may change while running (the scene editor applies it live). */
#define VG_OPT_LIVE (1u << 0)
/** Secret: never printed, logged or exported (passwords, keys). */
#define VG_OPT_SECRET (1u << 1)

typedef struct vg_option {
    const char *name;
    const char *help;
    vg_opt_type_t type;
    size_t offset;
    union {
        int64_t i;
        double d;
        const char *s;
    } def;
    double min, max;
    /** Unit shown in help and docs ("s", "px", "m"); may be NULL. */
    const char *unit;
    /** For VG_OPT_ENUM: NULL-terminated list of names; the stored int is the index. */
    const char *const *choices;
    unsigned flags;
} vg_option_t;

/** A module's table of options under one group name. Tables end with an entry whose name is NULL.
 */
typedef struct vg_option_group {
    const char *name;
    const char *help;
    const vg_option_t *options;
} vg_option_group_t;

/** Set every option of @table in @obj to its default. Returns 0 or VG_ENOMEM (then vg_opt_free). */
int vg_opt_defaults(void *obj, const vg_option_t *table);
/** Release the strings owned by @obj's string options (safe after a failed vg_opt_defaults). */
void vg_opt_free(void *obj, const vg_option_t *table);
/** Copy every option value from @src to @dst (strings duplicated). @dst must hold no strings. */
int vg_opt_copy(void *dst, const void *src, const vg_option_t *table);

/** The option called @name in @table, or NULL. */
const vg_option_t *vg_opt_find(const vg_option_t *table, const char *name);

/**
 * Parse @value for option @o and store it in @obj. On error returns VG_EINVAL (not a value of
 * that type) or VG_ERANGE (outside min..max), leaves @obj untouched and writes a message into
 * @err (if not NULL) saying what is wrong and what is accepted.
 */
int vg_opt_parse(void *obj, const vg_option_t *o, const char *value, char *err, size_t errlen);

/** vg_opt_find + vg_opt_parse; VG_EOPTION (with a message) when @name is not in @table. */
int vg_opt_set(void *obj, const vg_option_t *table, const char *name, const char *value, char *err,
               size_t errlen);

/** Write @o's current value in @obj as text (the form vg_opt_parse reads). Returns its length. */
int vg_opt_format(const void *obj, const vg_option_t *o, char *buf, size_t len);
/** Write @o's default as text. */
int vg_opt_format_default(const vg_option_t *o, char *buf, size_t len);
/** Write @o's accepted range ("0 .. 100", "yes|no", "fast|exact") as text. */
int vg_opt_format_range(const vg_option_t *o, char *buf, size_t len);
/** "bool", "int", "float", "string", "enum". */
const char *vg_opt_type_name(vg_opt_type_t type);

/*
 * Settings: an ordered list of "group.name = value" pairs, each with the place it came from
 * ("--set", "scene.yaml:14"), gathered from the command line and the scene file before the
 * modules exist. Each module then takes the entries of its group with vg_settings_apply().
 */
typedef struct vg_settings vg_settings_t;

int vg_settings_new(vg_settings_t **out) __attribute__((warn_unused_result));
void vg_settings_free(vg_settings_t **s);
/** Append; a later entry for the same key wins. @origin is copied. */
int vg_settings_add(vg_settings_t *s, const char *key, const char *value, const char *origin);
/** Parse "key=value" as given to --set. VG_EINVAL with a message when there is no '='. */
int vg_settings_add_arg(vg_settings_t *s, const char *arg, char *err, size_t errlen);
/** Append all of @src's entries. */
int vg_settings_merge(vg_settings_t *s, const vg_settings_t *src);
size_t vg_settings_count(const vg_settings_t *s);
/** Entry @i; any out pointer may be NULL. */
void vg_settings_get(const vg_settings_t *s, size_t i, const char **key, const char **value,
                     const char **origin);
/** The last value given for @key, or NULL. */
const char *vg_settings_lookup(const vg_settings_t *s, const char *key);

/**
 * Apply to @obj every entry whose key is "<@group->name>.<option>". An unknown option name in
 * that group, a bad value or a value out of range stops it: returns the error and writes
 * "ORIGIN: KEY: what is wrong" into @err.
 */
int vg_settings_apply(const vg_settings_t *s, const vg_option_group_t *group, void *obj, char *err,
                      size_t errlen);

/**
 * Check that every key in @s names an option of one of @groups (NULL-terminated array of
 * pointers) and that its value parses and is in range. Returns VG_EOPTION/VG_EINVAL/VG_ERANGE
 * with a message naming the origin and the key, listing the groups when the group is unknown.
 */
int vg_settings_validate(const vg_settings_t *s, const vg_option_group_t *const *groups, char *err,
                         size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
