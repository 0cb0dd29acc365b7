/* Label selectors: the string form (parse, canonical format, every error), the
 * metav1.LabelSelector JSON form (every validation error names its field), and matching,
 * including the empty-selects-all / null-selects-none rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "kube/selector.h"

static char *format(const struct kube_selector *sel)
{
	struct buf b = BUF_INIT(1 << 16);
	assert_int_equal(kube_selector_format(sel, &b), 0);
	char *s = buf_steal(&b);
	return s ? s : strdup("");
}

static void string_form_parses_to_canonical_text(void **state)
{
	static const struct {
		const char *in, *canonical;
	} cases[] = {
		{"", ""},
		{"   ", ""},
		{"app=web", "app=web"},
		{"app==web", "app=web"},
		{" app = web , tier in ( b , a ) ", "app=web,tier in (a,b)"},
		{"!canary", "!canary"},
		{"! canary", "!canary"},
		{"env!=prod", "env!=prod"},
		{"release notin (x,y)", "release notin (x,y)"},
		{"release notin(y,x)", "release notin (x,y)"},
		{"track", "track"},
		{"a in (x,x)", "a=x"},
		{"a notin (x)", "a!=x"},
		{"example.com/app=web", "example.com/app=web"},
		{"a=", "a="},
		{"a=,b", "a=,b"},
		{"x in (a,)", "x in (,a)"},
		{"replicas>3", "replicas>3"},
		{"replicas < 10", "replicas<10"},
		{"b=1,a=2", "a=2,b=1"},
		{"in=notin", "in=notin"},
		{"a_b.c-d=E_f.G-h", "a_b.c-d=E_f.G-h"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_selector *sel = NULL;
		struct field_error err = {0};
		int r = kube_selector_parse(cases[i].in, NULL, &sel, &err);
		if (r != 0)
			fail_msg("\"%s\": %s: %s", cases[i].in, err.field, err.reason);
		char *s = format(sel);
		if (strcmp(s, cases[i].canonical) != 0)
			fail_msg("\"%s\" formats as \"%s\", want \"%s\"", cases[i].in, s,
				 cases[i].canonical);
		/* The canonical text parses to itself. */
		struct kube_selector *again = NULL;
		assert_int_equal(kube_selector_parse(s, NULL, &again, NULL), 0);
		char *s2 = format(again);
		assert_string_equal(s, s2);
		free(s);
		free(s2);
		kube_selector_free(sel);
		kube_selector_free(again);
	}
}

static void string_form_errors_say_where_and_why(void **state)
{
	static char long_name[80], long_value[80], too_long[KUBE_SELECTOR_MAX_STRING + 2];
	memset(long_name, 'a', 64);
	snprintf(long_value, sizeof(long_value), "a=%064d", 0);
	memset(too_long, 'a', sizeof(too_long) - 1);
	static const struct {
		const char *in, *reason;
	} cases[] = {
		{"app=web,", "at offset 8: expected a requirement after ',', found the end"},
		{",app", "at offset 0: expected a label key, found ','"},
		{"app in ()", "at offset 8: in/notin need at least one value, found ')'"},
		{"app in (a", "at offset 9: expected ',' or ')' in the value list, found the end"},
		{"app in a", "at offset 7: expected '(' after in/notin, found 'a'"},
		{"-bad=x", "at offset 0: invalid label key \"-bad\": must start and end with an "
			   "alphanumeric character"},
		{"app=-bad",
		 "at offset 4: invalid label value \"-bad\": must start and end with an "
		 "alphanumeric character"},
		{"app=we$b",
		 "at offset 4: invalid label value \"we$b\": must consist of alphanumeric "
		 "characters, '-', '_' or '.'"},
		{"app=web)", "at offset 7: expected ',' or the end after a requirement, found ')'"},
		{"a b",
		 "at offset 2: expected =, ==, !=, in, notin, >, <, ',' or the end after a key, "
		 "found 'b'"},
		{"x>abc", "at offset 2: \"abc\" is not an integer (for >)"},
		{"Example.com/app=1",
		 "at offset 0: invalid label key \"Example.com/app\": prefix part "
		 "must be a lowercase DNS subdomain"},
		{"a..b/c", "at offset 0: invalid label key \"a..b/c\": prefix part must be a "
			   "lowercase DNS subdomain"},
		{"/c", "at offset 0: invalid label key \"/c\": prefix part must be non-empty"},
		{"a/", "at offset 0: invalid label key \"a/\": name part must be non-empty"},
		{"a/b/c", "at offset 0: invalid label key \"a/b/c\": must be a qualified name "
			  "([prefix/]name) with at most one '/'"},
		{long_name, "name part must be no more than 63 characters"},
		{long_value, "must be no more than 63 characters"},
		{"!", "at offset 1: expected a label key, found the end"},
		{"!a=b", "at offset 2: expected ',' or the end after a requirement, found '='"},
		{"a=b=c", "at offset 3: expected ',' or the end after a requirement, found '='"},
		{too_long, "longer than 4096 bytes"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_selector *sel = NULL;
		struct field_error err = {0};
		int r = kube_selector_parse(cases[i].in, "labelSelector", &sel, &err);
		if (r != -EINVAL)
			fail_msg("\"%.40s\" parsed (%d)", cases[i].in, r);
		assert_null(sel);
		assert_string_equal(err.field, "labelSelector");
		if (!strstr(err.reason, cases[i].reason))
			fail_msg("\"%.40s\": reason \"%s\", want \"%s\"", cases[i].in, err.reason,
				 cases[i].reason);
	}
	/* Too many requirements. */
	struct buf b = BUF_INIT(1 << 16);
	for (int i = 0; i <= KUBE_SELECTOR_MAX_REQUIREMENTS; i++)
		buf_printf(&b, "%sk%d", i ? "," : "", i);
	struct kube_selector *sel = NULL;
	struct field_error err = {0};
	assert_int_equal(kube_selector_parse(buf_str(&b), NULL, &sel, &err), -EINVAL);
	assert_string_equal(err.reason, "too many requirements (at most 256)");
	buf_free(&b);
}

static void matching_follows_kubernetes(void **state)
{
	static const struct {
		const char *selector, *labels;
		bool match;
	} cases[] = {
		{"", "{}", true},
		{"", NULL, true},
		{"app=web", "{\"app\":\"web\"}", true},
		{"app=web", "{\"app\":\"db\"}", false},
		{"app=web", "{}", false},
		{"app=web", NULL, false},
		{"env!=prod", "{}", true},
		{"env!=prod", "{\"env\":\"prod\"}", false},
		{"env!=prod", "{\"env\":\"dev\"}", true},
		{"tier in (a,b)", "{\"tier\":\"b\"}", true},
		{"tier in (a,b)", "{\"tier\":\"c\"}", false},
		{"tier notin (a,b)", "{}", true},
		{"tier notin (a,b)", "{\"tier\":\"a\"}", false},
		{"track", "{\"track\":\"\"}", true},
		{"track", "{}", false},
		{"!canary", "{\"canary\":\"x\"}", false},
		{"!canary", "{}", true},
		{"replicas>3", "{\"replicas\":\"4\"}", true},
		{"replicas>3", "{\"replicas\":\"3\"}", false},
		{"replicas>3", "{\"replicas\":\"x\"}", false},
		{"replicas>3", "{}", false},
		{"replicas<3", "{\"replicas\":\"-1\"}", true},
		{"app=web,!canary", "{\"app\":\"web\",\"canary\":\"1\"}", false},
		{"app=web,!canary", "{\"app\":\"web\",\"x\":\"1\"}", true},
		{"a=", "{\"a\":\"\"}", true},
		{"a=", "{}", false},
		/* A non-string label is treated as absent. */
		{"app", "{\"app\":1}", false},
		{"app!=1", "{\"app\":1}", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_selector *sel = NULL;
		assert_int_equal(kube_selector_parse(cases[i].selector, NULL, &sel, NULL), 0);
		json_t *labels = cases[i].labels ? json_loads(cases[i].labels, 0, NULL) : NULL;
		if (kube_selector_matches(sel, labels) != cases[i].match)
			fail_msg("\"%s\" vs %s: want %s", cases[i].selector,
				 cases[i].labels ? cases[i].labels : "no labels",
				 cases[i].match ? "match" : "no match");
		json_decref(labels);
		kube_selector_free(sel);
	}
}

static struct kube_selector *from_json(const char *text)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	assert_non_null(j);
	struct kube_selector *sel = NULL;
	struct field_error err = {0};
	int r = kube_selector_from_json(j, "spec.podSelector", &sel, &err);
	if (r != 0)
		fail_msg("%s: %s: %s", text, err.field, err.reason);
	json_decref(j);
	return sel;
}

static bool json_matches(const struct kube_selector *sel, const char *labels)
{
	json_t *l = json_loads(labels, 0, NULL);
	bool m = kube_selector_matches(sel, l);
	json_decref(l);
	return m;
}

static void json_form_and_the_null_and_empty_selectors(void **state)
{
	/* null selects nothing, {} everything. */
	struct kube_selector *sel = NULL;
	assert_int_equal(kube_selector_from_json(NULL, "spec.podSelector", &sel, NULL), 0);
	assert_true(kube_selector_is_nothing(sel));
	assert_false(kube_selector_matches(sel, NULL));
	struct buf b = BUF_INIT(64);
	assert_int_equal(kube_selector_format(sel, &b), -EDOM);
	kube_selector_free(sel);
	sel = from_json("null");
	assert_true(kube_selector_is_nothing(sel));
	assert_false(json_matches(sel, "{}"));
	kube_selector_free(sel);
	sel = from_json("{}");
	assert_true(kube_selector_is_everything(sel));
	assert_true(json_matches(sel, "{}"));
	assert_true(json_matches(sel, "{\"a\":\"b\"}"));
	kube_selector_free(sel);
	sel = from_json("{\"matchLabels\":null,\"matchExpressions\":null}");
	assert_true(kube_selector_is_everything(sel));
	kube_selector_free(sel);

	sel = from_json("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
			"{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"fe\",\"be\"]},"
			"{\"key\":\"canary\",\"operator\":\"DoesNotExist\"},"
			"{\"key\":\"track\",\"operator\":\"Exists\",\"values\":[]},"
			"{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\"]}]}");
	assert_false(kube_selector_is_everything(sel));
	char *s = format(sel);
	assert_string_equal(s, "app=web,!canary,env!=prod,tier in (be,fe),track");
	free(s);
	assert_true(json_matches(sel, "{\"app\":\"web\",\"tier\":\"fe\",\"track\":\"x\"}"));
	assert_false(json_matches(sel, "{\"app\":\"web\",\"tier\":\"fe\"}"));
	assert_false(json_matches(sel, "{\"app\":\"web\",\"tier\":\"fe\",\"track\":\"\","
				       "\"canary\":\"y\"}"));
	assert_false(json_matches(sel, "{\"app\":\"web\",\"tier\":\"fe\",\"track\":\"\","
				       "\"env\":\"prod\"}"));
	assert_false(json_matches(sel, "{\"app\":\"db\",\"tier\":\"fe\",\"track\":\"\"}"));
	kube_selector_free(sel);
	buf_free(&b);
}

static void json_form_errors_name_the_field(void **state)
{
	static const struct {
		const char *json, *field, *reason;
	} cases[] = {
		{"[]", "spec.podSelector", "must be an object (a label selector)"},
		{"{\"matchLabel\":{}}", "spec.podSelector.matchLabel",
		 "unknown field (expected matchLabels or matchExpressions)"},
		{"{\"matchLabels\":[]}", "spec.podSelector.matchLabels",
		 "must be an object of label keys to values"},
		{"{\"matchLabels\":{\"app\":1}}", "spec.podSelector.matchLabels[app]",
		 "must be a string"},
		{"{\"matchLabels\":{\"-x\":\"a\"}}", "spec.podSelector.matchLabels[-x]",
		 "invalid label key \"-x\": must start and end with an alphanumeric character"},
		{"{\"matchLabels\":{\"app\":\"a b\"}}", "spec.podSelector.matchLabels[app]",
		 "invalid label value \"a b\": must consist of alphanumeric characters, '-', '_' "
		 "or "
		 "'.'"},
		{"{\"matchExpressions\":{}}", "spec.podSelector.matchExpressions",
		 "must be an array"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"x\"]},"
		 "{\"key\":\"b\",\"operator\":\"In\",\"values\":[]}]}",
		 "spec.podSelector.matchExpressions[1].values",
		 "must be non-empty for operator In"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"NotIn\"}]}",
		 "spec.podSelector.matchExpressions[0].values",
		 "must be non-empty for operator NotIn"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}"
		 "]}",
		 "spec.podSelector.matchExpressions[0].values",
		 "must be empty for operator Exists"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"DoesNotExist\",\"values\":["
		 "\"\"]"
		 "}]}",
		 "spec.podSelector.matchExpressions[0].values",
		 "must be empty for operator DoesNotExist"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Equals\",\"values\":[\"x\"]}"
		 "]}",
		 "spec.podSelector.matchExpressions[0].operator",
		 "must be In, NotIn, Exists or DoesNotExist, not \"Equals\""},
		{"{\"matchExpressions\":[{\"operator\":\"Exists\"}]}",
		 "spec.podSelector.matchExpressions[0].key", "is required"},
		{"{\"matchExpressions\":[{\"key\":7,\"operator\":\"Exists\"}]}",
		 "spec.podSelector.matchExpressions[0].key", "must be a string"},
		{"{\"matchExpressions\":[{\"key\":\"a\"}]}",
		 "spec.podSelector.matchExpressions[0].operator", "is required"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":\"x\"}]}",
		 "spec.podSelector.matchExpressions[0].values", "must be an array of strings"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"x\",2]}]"
		 "}",
		 "spec.podSelector.matchExpressions[0].values[1]", "must be a string"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"x\",\"-"
		 "\"]}]}",
		 "spec.podSelector.matchExpressions[0].values[1]",
		 "invalid label value \"-\": must start and end with an alphanumeric character"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"foo\":1}]}",
		 "spec.podSelector.matchExpressions[0].foo", "unknown field"},
		{"{\"matchExpressions\":[\"a=b\"]}", "spec.podSelector.matchExpressions[0]",
		 "must be an object with key, operator and values"},
		{"{\"matchExpressions\":[{\"key\":\"Bad.Prefix/a\",\"operator\":\"Exists\"}]}",
		 "spec.podSelector.matchExpressions[0].key",
		 "invalid label key \"Bad.Prefix/a\": prefix part must be a lowercase DNS "
		 "subdomain"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		struct kube_selector *sel = NULL;
		struct field_error err = {0};
		assert_int_equal(kube_selector_from_json(j, "spec.podSelector", &sel, &err),
				 -EINVAL);
		assert_null(sel);
		if (strcmp(err.field, cases[i].field) || strcmp(err.reason, cases[i].reason))
			fail_msg("%s: got \"%s: %s\", want \"%s: %s\"", cases[i].json, err.field,
				 err.reason, cases[i].field, cases[i].reason);
		char line[800];
		assert_non_null(strstr(field_error_str(&err, line, sizeof(line)), cases[i].reason));
		json_decref(j);
	}

	/* Limits: requirements and values. */
	json_t *exprs = json_array();
	for (int i = 0; i <= KUBE_SELECTOR_MAX_REQUIREMENTS; i++)
		json_array_append_new(exprs,
				      json_pack("{s:s, s:s}", "key", "a", "operator", "Exists"));
	json_t *j = json_pack("{s:o}", "matchExpressions", exprs);
	struct kube_selector *sel = NULL;
	struct field_error err = {0};
	assert_int_equal(kube_selector_from_json(j, "spec.podSelector", &sel, &err), -EINVAL);
	assert_string_equal(err.field, "spec.podSelector.matchExpressions");
	assert_string_equal(err.reason, "too many requirements (at most 256)");
	json_decref(j);
	json_t *values = json_array();
	for (int i = 0; i <= KUBE_SELECTOR_MAX_VALUES; i++)
		json_array_append_new(values, json_string("v"));
	j = json_pack("{s:[{s:s, s:s, s:o}]}", "matchExpressions", "key", "a", "operator", "In",
		      "values", values);
	memset(&err, 0, sizeof(err));
	assert_int_equal(kube_selector_from_json(j, "spec.podSelector", &sel, &err), -EINVAL);
	assert_string_equal(err.field, "spec.podSelector.matchExpressions[0].values");
	assert_string_equal(err.reason, "too many values (at most 256)");
	json_decref(j);
	/* A NULL err is fine. */
	j = json_loads("[]", JSON_DECODE_ANY, NULL);
	assert_int_equal(kube_selector_from_json(j, "x", &sel, NULL), -EINVAL);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(string_form_parses_to_canonical_text),
		cmocka_unit_test(string_form_errors_say_where_and_why),
		cmocka_unit_test(matching_follows_kubernetes),
		cmocka_unit_test(json_form_and_the_null_and_empty_selectors),
		cmocka_unit_test(json_form_errors_name_the_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
