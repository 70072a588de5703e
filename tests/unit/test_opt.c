/* Option tables and settings: parsing, ranges, messages naming where a bad value came from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include <vigie/vigie.h>

typedef struct params {
    int n;
    double d;
    int b;
    char *s;
    int e;
} params_t;

static const char *const modes[] = {"fast", "exact", NULL};
#define OFF(x) offsetof(params_t, x)
static const vg_option_t table[] = {
    {.name = "n",
     .type = VG_OPT_INT,
     .offset = OFF(n),
     .def.i = 5,
     .min = 1,
     .max = 10,
     .help = "count"},
    {.name = "d",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(d),
     .def.d = 0.5,
     .min = 0,
     .max = 1,
     .unit = "s",
     .help = "delay",
     .flags = VG_OPT_LIVE},
    {.name = "b", .type = VG_OPT_BOOL, .offset = OFF(b), .def.i = 1, .max = 1, .help = "flag"},
    {.name = "s",
     .type = VG_OPT_STRING,
     .offset = OFF(s),
     .def.s = "abc",
     .max = 8,
     .help = "text"},
    {.name = "e",
     .type = VG_OPT_ENUM,
     .offset = OFF(e),
     .def.i = 1,
     .choices = modes,
     .help = "mode"},
    {.name = NULL},
};
static const vg_option_group_t group = {"demo", "demo group", table};

static void test_defaults_and_parse(void **state)
{
    params_t p = {0};
    char err[256], buf[64];
    (void)state;
    assert_int_equal(vg_opt_defaults(&p, table), 0);
    assert_int_equal(p.n, 5);
    assert_true(p.d == 0.5);
    assert_int_equal(p.b, 1);
    assert_string_equal(p.s, "abc");
    assert_int_equal(p.e, 1);

    assert_int_equal(vg_opt_set(&p, table, "n", "7", err, sizeof(err)), 0);
    assert_int_equal(p.n, 7);
    assert_int_equal(vg_opt_set(&p, table, "n", "11", err, sizeof(err)), VG_ERANGE);
    assert_non_null(strstr(err, "from 1 to 10"));
    assert_int_equal(p.n, 7); /* untouched on error */
    assert_int_equal(vg_opt_set(&p, table, "n", "7x", err, sizeof(err)), VG_EINVAL);
    assert_int_equal(vg_opt_set(&p, table, "n", "", err, sizeof(err)), VG_EINVAL);
    assert_int_equal(vg_opt_set(&p, table, "d", "nan", err, sizeof(err)), VG_EINVAL);
    assert_int_equal(vg_opt_set(&p, table, "d", "1.5", err, sizeof(err)), VG_ERANGE);
    assert_non_null(strstr(err, "s")); /* unit in the message */
    assert_int_equal(vg_opt_set(&p, table, "b", "off", err, sizeof(err)), 0);
    assert_int_equal(p.b, 0);
    assert_int_equal(vg_opt_set(&p, table, "b", "maybe", err, sizeof(err)), VG_EINVAL);
    assert_int_equal(vg_opt_set(&p, table, "e", "FAST", err, sizeof(err)), 0);
    assert_int_equal(p.e, 0);
    assert_int_equal(vg_opt_set(&p, table, "e", "slow", err, sizeof(err)), VG_EINVAL);
    assert_non_null(strstr(err, "fast|exact"));
    assert_int_equal(vg_opt_set(&p, table, "s", "123456789", err, sizeof(err)), VG_ERANGE);
    assert_int_equal(vg_opt_set(&p, table, "zz", "1", err, sizeof(err)), VG_EOPTION);

    vg_opt_format(&p, vg_opt_find(table, "e"), buf, sizeof(buf));
    assert_string_equal(buf, "fast");
    vg_opt_format_default(vg_opt_find(table, "b"), buf, sizeof(buf));
    assert_string_equal(buf, "yes");
    vg_opt_format_range(vg_opt_find(table, "d"), buf, sizeof(buf));
    assert_string_equal(buf, "0 .. 1");

    params_t q = {0};
    assert_int_equal(vg_opt_copy(&q, &p, table), 0);
    assert_string_equal(q.s, p.s);
    assert_true(q.s != p.s);
    vg_opt_free(&q, table);
    vg_opt_free(&p, table);
    assert_null(p.s);
}

static void test_settings_apply_and_origin(void **state)
{
    vg_settings_t *s;
    params_t p = {0};
    char err[512];
    (void)state;
    assert_int_equal(vg_settings_new(&s), 0);
    assert_int_equal(vg_settings_add(s, "demo.n", "3", "scene.yaml:4"), 0);
    assert_int_equal(vg_settings_add_arg(s, "demo.n=9", err, sizeof(err)), 0);
    assert_int_equal(vg_settings_add_arg(s, "other.x=1", err, sizeof(err)), 0);
    assert_int_equal(vg_settings_add_arg(s, "novalue", err, sizeof(err)), VG_EINVAL);
    assert_non_null(strstr(err, "KEY=VALUE"));
    assert_string_equal(vg_settings_lookup(s, "demo.n"), "9");
    vg_opt_defaults(&p, table);
    assert_int_equal(vg_settings_apply(s, &group, &p, err, sizeof(err)), 0);
    assert_int_equal(p.n, 9); /* later wins */
    assert_int_equal(vg_settings_add(s, "demo.d", "7", "scene.yaml:12"), 0);
    assert_int_equal(vg_settings_apply(s, &group, &p, err, sizeof(err)), VG_ERANGE);
    assert_non_null(strstr(err, "scene.yaml:12: demo.d:"));
    vg_opt_free(&p, table);
    vg_settings_free(&s);
    assert_null(s);
}

static void test_settings_validate(void **state)
{
    const vg_option_group_t *groups[] = {&group, NULL};
    vg_settings_t *s;
    char err[512];
    (void)state;
    assert_int_equal(vg_settings_new(&s), 0);
    vg_settings_add(s, "demo.e", "exact", "--set");
    vg_settings_add(s, "demo.s", "xyz", "--set");
    assert_int_equal(vg_settings_validate(s, groups, err, sizeof(err)), 0);
    vg_settings_add(s, "demo.nope", "1", "cam.yaml:3");
    assert_int_equal(vg_settings_validate(s, groups, err, sizeof(err)), VG_EOPTION);
    assert_non_null(strstr(err, "cam.yaml:3: demo.nope: demo has no option 'nope'"));
    vg_settings_free(&s);
    assert_int_equal(vg_settings_new(&s), 0);
    vg_settings_add(s, "nogroup.x", "1", "--set");
    assert_int_equal(vg_settings_validate(s, groups, err, sizeof(err)), VG_EOPTION);
    assert_non_null(strstr(err, "GROUP one of demo"));
    vg_settings_free(&s);
}

static void test_library_groups(void **state)
{
    const vg_option_group_t *const *g = vg_option_groups();
    (void)state;
    /* input and pipeline always exist; every option has help, a valid default and range */
    assert_string_equal(g[0]->name, "input");
    assert_string_equal(g[1]->name, "pipeline");
    for (int i = 0; g[i]; i++)
        for (const vg_option_t *o = g[i]->options; o && o->name; o++) {
            char def[128], err[256];
            unsigned char scratch[512] __attribute__((aligned(16))) = {0};
            vg_option_t probe = *o;
            probe.offset = 0;
            assert_non_null(o->help);
            assert_true(strlen(o->help) > 5);
            vg_opt_format_default(o, def, sizeof(def));
            /* the default, printed, parses back and is in range */
            assert_int_equal(vg_opt_parse(scratch, &probe, def, err, sizeof(err)), 0);
            if (o->type == VG_OPT_STRING) vg_free(*(char **)scratch);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_parse),
        cmocka_unit_test(test_settings_apply_and_origin),
        cmocka_unit_test(test_settings_validate),
        cmocka_unit_test(test_library_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
