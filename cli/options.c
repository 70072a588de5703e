/*
 * vigie options: every option of every group, from the option tables (docs/options.md is this
 * command's --markdown output).
 */
#include <stdio.h>
#include <string.h>

#include <vigie/vigie.h>

#include "cli.h"

static void print_option(const char *group, const vg_option_t *o, int markdown)
{
    char def[128], range[256];
    vg_opt_format_default(o, def, sizeof(def));
    vg_opt_format_range(o, range, sizeof(range));
    if (markdown) {
        printf("| `%s.%s` | %s | `%s` | %s%s%s | %s | %s |\n", group, o->name,
               vg_opt_type_name(o->type), def, range, o->unit ? " " : "", o->unit ? o->unit : "",
               o->flags & VG_OPT_LIVE ? "yes" : "no", o->help);
    } else {
        printf("  %s.%s\n      %s\n      type %s, default %s, range %s%s%s, %s\n", group, o->name,
               o->help, vg_opt_type_name(o->type), def[0] ? def : "\"\"", range, o->unit ? " " : "",
               o->unit ? o->unit : "",
               o->flags & VG_OPT_LIVE ? "can change live" : "needs a restart");
    }
}

int cmd_options(int argc, char **argv)
{
    const vg_option_group_t *const *groups = vg_option_groups();
    int markdown = 0, found = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--markdown"))
            markdown = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: vigie options [GROUP] [--markdown]\n"
                   "Prints every option: name, help, type, default, range, whether it can "
                   "change live.\nThe same names work with --set and in scene files.\n");
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "vigie options: unknown flag %s (see vigie options --help)\n", argv[i]);
            return EXIT_USAGE;
        } else
            only = argv[i];
    }
    if (markdown)
        printf("| option | type | default | range | live | help |\n|---|---|---|---|---|---|\n");
    for (int g = 0; groups[g]; g++) {
        if (only && strcmp(only, groups[g]->name)) continue;
        found = 1;
        if (!markdown) printf("%s: %s\n", groups[g]->name, groups[g]->help);
        for (const vg_option_t *o = groups[g]->options; o && o->name; o++)
            print_option(groups[g]->name, o, markdown);
    }
    if (only && !found) {
        fprintf(stderr, "vigie options: no option group '%s'; groups are:", only);
        for (int g = 0; groups[g]; g++) fprintf(stderr, " %s", groups[g]->name);
        fprintf(stderr, "\n");
        return EXIT_USAGE;
    }
    return 0;
}
