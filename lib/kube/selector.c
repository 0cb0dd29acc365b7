/* Label selectors: parsing (JSON and string forms), matching, formatting; see selector.h. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "kube/selector.h"

enum label_op {
	LABEL_OP_IN,
	LABEL_OP_NOT_IN,
	LABEL_OP_EXISTS,
	LABEL_OP_DOES_NOT_EXIST,
	LABEL_OP_GT,
	LABEL_OP_LT,
};

struct label_requirement {
	char *key;
	enum label_op op;
	char **values; /* sorted, unique */
	size_t n_values;
	long long operand; /* Gt, Lt */
};

struct kube_selector {
	bool nothing;
	size_t n;
	struct label_requirement *reqs;
};

/* ---- names ---------------------------------------------------------------------------------- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The name part of a qualified name and a label value share one rule (without the length). */
static const char *check_name_chars(const char *s, size_t len)
{
	if (!is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return "must start and end with an alphanumeric character";
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return "must consist of alphanumeric characters, '-', '_' or '.'";
	return NULL;
}

/* A DNS-1123 subdomain: dot-separated lowercase labels, each alphanumeric at both ends. */
static const char *check_dns_subdomain(const char *s, size_t len)
{
	if (len == 0)
		return "prefix part must be non-empty";
	if (len > 253)
		return "prefix part must be no more than 253 characters";
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			char c = s[i];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
				return "prefix part must be a lowercase DNS subdomain";
			continue;
		}
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return "prefix part must be a lowercase DNS subdomain";
		start = i + 1;
	}
	return NULL;
}

static const char *check_key(const char *key)
{
	size_t len = strlen(key);
	const char *slash = memchr(key, '/', len);
	const char *name = key;
	if (slash) {
		const char *why = check_dns_subdomain(key, (size_t)(slash - key));
		if (why)
			return why;
		name = slash + 1;
		if (strchr(name, '/'))
			return "must be a qualified name ([prefix/]name) with at most one '/'";
	}
	size_t nl = strlen(name);
	if (nl == 0)
		return "name part must be non-empty";
	if (nl > 63)
		return "name part must be no more than 63 characters";
	const char *why = check_name_chars(name, nl);
	return why ? why : NULL;
}

static const char *check_value(const char *v)
{
	size_t len = strlen(v);
	if (len == 0)
		return NULL;
	if (len > 63)
		return "must be no more than 63 characters";
	return check_name_chars(v, len);
}

/* Gt/Lt operands: a decimal integer that fits in 64 bits. */
static bool parse_integer(const char *s, long long *ret)
{
	if (!*s)
		return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || isspace((unsigned char)*s))
		return false;
	*ret = v;
	return true;
}

/* ---- building ------------------------------------------------------------------------------- */

struct kube_selector *kube_selector_free(struct kube_selector *sel)
{
	if (!sel)
		return NULL;
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->reqs[i].key);
		for (size_t j = 0; j < sel->reqs[i].n_values; j++)
			free(sel->reqs[i].values[j]);
		free(sel->reqs[i].values);
	}
	free(sel->reqs);
	free(sel);
	return NULL;
}

static void selector_freep(struct kube_selector **sel)
{
	kube_selector_free(*sel);
}
#define _cleanup_selector_ _cleanup_(selector_freep)

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_free(char **values, size_t n);

/* Appends a requirement, taking key and values (freed on failure); sorts and de-duplicates
 * the values. */
static int add_requirement(struct kube_selector *sel, char *key, enum label_op op, char **values,
			   size_t n_values, long long operand)
{
	struct label_requirement *reqs = realloc(sel->reqs, (sel->n + 1) * sizeof(*reqs));
	if (!reqs) {
		free(key);
		strv_free(values, n_values);
		return -ENOMEM;
	}
	sel->reqs = reqs;
	if (n_values > 1)
		qsort(values, n_values, sizeof(*values), cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < n_values; i++) {
		if (k > 0 && strcmp(values[k - 1], values[i]) == 0)
			free(values[i]);
		else
			values[k++] = values[i];
	}
	sel->reqs[sel->n++] = (struct label_requirement){
		.key = key, .op = op, .values = values, .n_values = k, .operand = operand};
	return 0;
}

static int cmp_req(const void *a, const void *b)
{
	const struct label_requirement *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return (int)x->op - (int)y->op;
}

/* Canonical order, so equal selectors format (and hash) alike. */
static void sort_requirements(struct kube_selector *sel)
{
	if (sel->n > 1)
		qsort(sel->reqs, sel->n, sizeof(sel->reqs[0]), cmp_req);
}

/* ---- JSON form ----------------------------------------------------------------------------- */

#define FIELD_MAX 256

/* A field path; a path too long for struct field_error is cut short, which is harmless. */
__attribute__((format(printf, 2, 3))) static void fieldf(char out[FIELD_MAX], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, FIELD_MAX, fmt, ap);
	va_end(ap);
}

static int strv_add(char ***values, size_t *n, const char *v)
{
	char **nv = realloc(*values, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*values = nv;
	if (!(nv[*n] = strdup(v)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static void strv_free(char **values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(values[i]);
	free(values);
}

static int too_many(struct kube_selector *sel, const char *field, struct field_error *err)
{
	if (sel->n >= KUBE_SELECTOR_MAX_REQUIREMENTS)
		return field_error_set(err, field, "too many requirements (at most %d)",
				       KUBE_SELECTOR_MAX_REQUIREMENTS);
	return 0;
}

static int parse_match_labels(struct kube_selector *sel, const json_t *ml, const char *field,
			      struct field_error *err)
{
	if (!ml || json_is_null(ml))
		return 0;
	if (!json_is_object(ml))
		return field_error_set(err, field, "must be an object of label keys to values");
	const char *k;
	const json_t *v;
	json_object_foreach ((json_t *)ml, k, v) {
		char f[FIELD_MAX];
		fieldf(f, "%s[%s]", field, k);
		int r = too_many(sel, field, err);
		if (r < 0)
			return r;
		const char *why = check_key(k);
		if (why)
			return field_error_set(err, f, "invalid label key \"%s\": %s", k, why);
		if (!json_is_string(v))
			return field_error_set(err, f, "must be a string");
		why = check_value(json_string_value(v));
		if (why)
			return field_error_set(err, f, "invalid label value \"%s\": %s",
					       json_string_value(v), why);
		char *key = strdup(k);
		char **values = NULL;
		size_t n = 0;
		if (!key || strv_add(&values, &n, json_string_value(v)) < 0) {
			free(key);
			strv_free(values, n);
			return -ENOMEM;
		}
		r = add_requirement(sel, key, LABEL_OP_IN, values, n, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_expression(struct kube_selector *sel, const json_t *e, const char *field,
			    struct field_error *err)
{
	char f[FIELD_MAX];
	if (!json_is_object(e))
		return field_error_set(err, field,
				       "must be an object with key, operator and values");
	const char *k;
	const json_t *v;
	json_object_foreach ((json_t *)e, k, v) {
		if (strcmp(k, "key") && strcmp(k, "operator") && strcmp(k, "values")) {
			fieldf(f, "%s.%s", field, k);
			return field_error_set(err, f, "unknown field");
		}
	}
	const json_t *jkey = json_object_get(e, "key");
	fieldf(f, "%s.key", field);
	if (!json_is_string(jkey))
		return field_error_set(err, f, jkey ? "must be a string" : "is required");
	const char *key = json_string_value(jkey);
	const char *why = check_key(key);
	if (why)
		return field_error_set(err, f, "invalid label key \"%s\": %s", key, why);

	const json_t *jop = json_object_get(e, "operator");
	fieldf(f, "%s.operator", field);
	if (!json_is_string(jop))
		return field_error_set(err, f, jop ? "must be a string" : "is required");
	const char *ops = json_string_value(jop);
	enum label_op op;
	if (strcmp(ops, "In") == 0)
		op = LABEL_OP_IN;
	else if (strcmp(ops, "NotIn") == 0)
		op = LABEL_OP_NOT_IN;
	else if (strcmp(ops, "Exists") == 0)
		op = LABEL_OP_EXISTS;
	else if (strcmp(ops, "DoesNotExist") == 0)
		op = LABEL_OP_DOES_NOT_EXIST;
	else
		return field_error_set(
			err, f, "must be In, NotIn, Exists or DoesNotExist, not \"%s\"", ops);

	const json_t *jvals = json_object_get(e, "values");
	fieldf(f, "%s.values", field);
	if (jvals && !json_is_null(jvals) && !json_is_array(jvals))
		return field_error_set(err, f, "must be an array of strings");
	size_t nv = json_array_size(jvals);
	bool set_op = op == LABEL_OP_IN || op == LABEL_OP_NOT_IN;
	if (set_op && nv == 0)
		return field_error_set(err, f, "must be non-empty for operator %s", ops);
	if (!set_op && nv > 0)
		return field_error_set(err, f, "must be empty for operator %s", ops);
	if (nv > KUBE_SELECTOR_MAX_VALUES)
		return field_error_set(err, f, "too many values (at most %d)",
				       KUBE_SELECTOR_MAX_VALUES);
	for (size_t i = 0; i < nv; i++) {
		const json_t *jv = json_array_get(jvals, i);
		fieldf(f, "%s.values[%zu]", field, i);
		if (!json_is_string(jv))
			return field_error_set(err, f, "must be a string");
		why = check_value(json_string_value(jv));
		if (why)
			return field_error_set(err, f, "invalid label value \"%s\": %s",
					       json_string_value(jv), why);
	}

	char *kcopy = strdup(key);
	char **values = NULL;
	size_t n = 0;
	int r = kcopy ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < nv; i++)
		r = strv_add(&values, &n, json_string_value(json_array_get(jvals, i)));
	if (r < 0) {
		free(kcopy);
		strv_free(values, n);
		return r;
	}
	return add_requirement(sel, kcopy, op, values, n, 0);
}

int kube_selector_from_json(const json_t *json, const char *field,
			    struct kube_selector **ret_selector, struct field_error *err)
{
	char f[FIELD_MAX];
	if (!field)
		field = "selector";
	_cleanup_selector_ struct kube_selector *sel = calloc(1, sizeof(*sel));
	if (!sel)
		return -ENOMEM;
	if (!json || json_is_null(json)) {
		sel->nothing = true;
		*ret_selector = TAKE_PTR(sel);
		return 0;
	}
	if (!json_is_object(json))
		return field_error_set(err, field, "must be an object (a label selector)");
	const char *k;
	const json_t *v;
	json_object_foreach ((json_t *)json, k, v) {
		if (strcmp(k, "matchLabels") && strcmp(k, "matchExpressions")) {
			fieldf(f, "%s.%s", field, k);
			return field_error_set(
				err, f, "unknown field (expected matchLabels or matchExpressions)");
		}
	}
	fieldf(f, "%s.matchLabels", field);
	int r = parse_match_labels(sel, json_object_get(json, "matchLabels"), f, err);
	if (r < 0)
		return r;
	const json_t *exprs = json_object_get(json, "matchExpressions");
	fieldf(f, "%s.matchExpressions", field);
	if (exprs && !json_is_null(exprs) && !json_is_array(exprs))
		return field_error_set(err, f, "must be an array");
	for (size_t i = 0; i < json_array_size(exprs); i++) {
		char fi[FIELD_MAX];
		fieldf(fi, "%s[%zu]", f, i);
		r = too_many(sel, f, err);
		if (r == 0)
			r = parse_expression(sel, json_array_get(exprs, i), fi, err);
		if (r < 0)
			return r;
	}
	sort_requirements(sel);
	*ret_selector = TAKE_PTR(sel);
	return 0;
}

/* ---- string form ----------------------------------------------------------------------------- */

struct lexer {
	const char *s;
	size_t pos;
	const char *field;
	struct field_error *err;
};

static bool is_special(char c)
{
	return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' || c == '<' || c == '>';
}

static void skip_space(struct lexer *lx)
{
	while (isspace((unsigned char)lx->s[lx->pos]))
		lx->pos++;
}

static int lex_error(struct lexer *lx, const char *what)
{
	char c = lx->s[lx->pos];
	if (c)
		return field_error_set(lx->err, lx->field, "at offset %zu: %s, found '%c'", lx->pos,
				       what, c);
	return field_error_set(lx->err, lx->field, "at offset %zu: %s, found the end", lx->pos,
			       what);
}

/* An identifier (a key or a value): the run of characters up to a space or a symbol; may be
 * empty. Returned as a new string. */
static int lex_word(struct lexer *lx, char **ret)
{
	skip_space(lx);
	size_t start = lx->pos;
	while (lx->s[lx->pos] && !isspace((unsigned char)lx->s[lx->pos]) &&
	       !is_special(lx->s[lx->pos]))
		lx->pos++;
	char *w = strndup(lx->s + start, lx->pos - start);
	if (!w)
		return -ENOMEM;
	*ret = w;
	return 0;
}

static bool lex_accept(struct lexer *lx, const char *sym)
{
	skip_space(lx);
	size_t n = strlen(sym);
	if (strncmp(lx->s + lx->pos, sym, n) != 0)
		return false;
	lx->pos += n;
	return true;
}

/* The keyword in / notin: a word of exactly that text. */
static bool lex_keyword(struct lexer *lx, const char *kw)
{
	skip_space(lx);
	size_t n = strlen(kw);
	const char *p = lx->s + lx->pos;
	if (strncmp(p, kw, n) != 0)
		return false;
	char c = p[n];
	if (c && !isspace((unsigned char)c) && !is_special(c))
		return false;
	lx->pos += n;
	return true;
}

static int lex_key(struct lexer *lx, char **ret)
{
	size_t at;
	skip_space(lx);
	at = lx->pos;
	_cleanup_free_ char *key = NULL;
	int r = lex_word(lx, &key);
	if (r < 0)
		return r;
	if (!*key) {
		lx->pos = at;
		return lex_error(lx, "expected a label key");
	}
	const char *why = check_key(key);
	if (why)
		return field_error_set(lx->err, lx->field,
				       "at offset %zu: invalid label key \"%s\": %s", at, key, why);
	*ret = TAKE_PTR(key);
	return 0;
}

static int lex_value(struct lexer *lx, char ***values, size_t *n)
{
	skip_space(lx);
	size_t at = lx->pos;
	_cleanup_free_ char *v = NULL;
	int r = lex_word(lx, &v);
	if (r < 0)
		return r;
	const char *why = check_value(v);
	if (why)
		return field_error_set(lx->err, lx->field,
				       "at offset %zu: invalid label value \"%s\": %s", at, v, why);
	if (*n >= KUBE_SELECTOR_MAX_VALUES)
		return field_error_set(lx->err, lx->field,
				       "at offset %zu: too many values (at most %d)", at,
				       KUBE_SELECTOR_MAX_VALUES);
	char **nv = realloc(*values, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*values = nv;
	nv[(*n)++] = TAKE_PTR(v);
	return 0;
}

static int parse_requirement(struct lexer *lx, struct kube_selector *sel)
{
	_cleanup_free_ char *key = NULL;
	char **values = NULL;
	size_t n = 0;
	enum label_op op;
	long long operand = 0;
	int r;

	if (lex_accept(lx, "!")) {
		r = lex_key(lx, &key);
		if (r < 0)
			return r;
		op = LABEL_OP_DOES_NOT_EXIST;
		goto add;
	}
	r = lex_key(lx, &key);
	if (r < 0)
		return r;
	skip_space(lx);
	char c = lx->s[lx->pos];
	if (c == '\0' || c == ',') {
		op = LABEL_OP_EXISTS;
		goto add;
	}
	if (lex_accept(lx, "==") || lex_accept(lx, "=")) {
		op = LABEL_OP_IN;
		r = lex_value(lx, &values, &n);
	} else if (lex_accept(lx, "!=")) {
		op = LABEL_OP_NOT_IN;
		r = lex_value(lx, &values, &n);
	} else if (lex_accept(lx, ">") || lex_accept(lx, "<")) {
		op = lx->s[lx->pos - 1] == '>' ? LABEL_OP_GT : LABEL_OP_LT;
		skip_space(lx);
		size_t at = lx->pos;
		r = lex_value(lx, &values, &n);
		if (r == 0 && !parse_integer(values[0], &operand))
			r = field_error_set(lx->err, lx->field,
					    "at offset %zu: \"%s\" is not an integer (for %c)", at,
					    values[0], op == LABEL_OP_GT ? '>' : '<');
	} else if ((op = LABEL_OP_NOT_IN, lex_keyword(lx, "notin")) ||
		   (op = LABEL_OP_IN, lex_keyword(lx, "in"))) {
		if (!lex_accept(lx, "("))
			r = lex_error(lx, "expected '(' after in/notin");
		skip_space(lx);
		if (r == 0 && lx->s[lx->pos] == ')')
			r = lex_error(lx, "in/notin need at least one value");
		while (r == 0) {
			r = lex_value(lx, &values, &n);
			if (r < 0 || lex_accept(lx, ")"))
				break;
			if (!lex_accept(lx, ","))
				r = lex_error(lx, "expected ',' or ')' in the value list");
		}
	} else {
		r = lex_error(lx,
			      "expected =, ==, !=, in, notin, >, <, ',' or the end after a key");
	}
	if (r < 0) {
		strv_free(values, n);
		return r;
	}
add:
	if (sel->n >= KUBE_SELECTOR_MAX_REQUIREMENTS) {
		strv_free(values, n);
		return field_error_set(lx->err, lx->field, "too many requirements (at most %d)",
				       KUBE_SELECTOR_MAX_REQUIREMENTS);
	}
	return add_requirement(sel, TAKE_PTR(key), op, values, n, operand);
}

int kube_selector_parse(const char *s, const char *field, struct kube_selector **ret_selector,
			struct field_error *err)
{
	if (!field)
		field = "labelSelector";
	if (!s)
		return field_error_set(err, field, "is required");
	size_t len = strnlen(s, KUBE_SELECTOR_MAX_STRING + 1);
	if (len > KUBE_SELECTOR_MAX_STRING)
		return field_error_set(err, field, "longer than %d bytes",
				       KUBE_SELECTOR_MAX_STRING);
	_cleanup_selector_ struct kube_selector *sel = calloc(1, sizeof(*sel));
	if (!sel)
		return -ENOMEM;
	struct lexer lx = {.s = s, .field = field, .err = err};
	skip_space(&lx);
	while (s[lx.pos]) {
		int r = parse_requirement(&lx, sel);
		if (r < 0)
			return r;
		skip_space(&lx);
		if (!s[lx.pos])
			break;
		if (!lex_accept(&lx, ","))
			return lex_error(&lx, "expected ',' or the end after a requirement");
		skip_space(&lx);
		if (!s[lx.pos])
			return lex_error(&lx, "expected a requirement after ','");
	}
	sort_requirements(sel);
	*ret_selector = TAKE_PTR(sel);
	return 0;
}

/* ---- matching and formatting ---------------------------------------------------------------- */

static bool has_value(const struct label_requirement *req, const char *v)
{
	return req->n_values > 0 &&
	       bsearch(&v, req->values, req->n_values, sizeof(*req->values), cmp_str) != NULL;
}

static bool requirement_matches(const struct label_requirement *req, const json_t *labels)
{
	const char *v = json_string_value(json_object_get(labels, req->key));
	long long n;
	switch (req->op) {
	case LABEL_OP_IN: return v && has_value(req, v);
	case LABEL_OP_NOT_IN: return !v || !has_value(req, v);
	case LABEL_OP_EXISTS: return v != NULL;
	case LABEL_OP_DOES_NOT_EXIST: return v == NULL;
	case LABEL_OP_GT: return v && parse_integer(v, &n) && n > req->operand;
	case LABEL_OP_LT: return v && parse_integer(v, &n) && n < req->operand;
	}
	return false;
}

bool kube_selector_matches(const struct kube_selector *sel, const json_t *labels)
{
	if (!sel || sel->nothing)
		return false;
	if (labels && !json_is_object(labels))
		labels = NULL;
	for (size_t i = 0; i < sel->n; i++)
		if (!requirement_matches(&sel->reqs[i], labels))
			return false;
	return true;
}

bool kube_selector_is_everything(const struct kube_selector *sel)
{
	return sel && !sel->nothing && sel->n == 0;
}

bool kube_selector_is_nothing(const struct kube_selector *sel)
{
	return !sel || sel->nothing;
}

static int format_values(const struct label_requirement *req, struct buf *out)
{
	int r = buf_append_str(out, " (");
	for (size_t i = 0; r == 0 && i < req->n_values; i++)
		r = buf_printf(out, "%s%s", i ? "," : "", req->values[i]);
	return r ? r : buf_append_str(out, ")");
}

int kube_selector_format(const struct kube_selector *sel, struct buf *out)
{
	if (kube_selector_is_nothing(sel))
		return -EDOM;
	int r = 0;
	for (size_t i = 0; r == 0 && i < sel->n; i++) {
		const struct label_requirement *req = &sel->reqs[i];
		if (i > 0)
			r = buf_append_str(out, ",");
		if (r < 0)
			break;
		switch (req->op) {
		case LABEL_OP_IN:
		case LABEL_OP_NOT_IN:
			if (req->n_values == 1) {
				r = buf_printf(out, "%s%s%s", req->key,
					       req->op == LABEL_OP_IN ? "=" : "!=", req->values[0]);
			} else {
				r = buf_printf(out, "%s %s", req->key,
					       req->op == LABEL_OP_IN ? "in" : "notin");
				if (r == 0)
					r = format_values(req, out);
			}
			break;
		case LABEL_OP_EXISTS: r = buf_append_str(out, req->key); break;
		case LABEL_OP_DOES_NOT_EXIST: r = buf_printf(out, "!%s", req->key); break;
		case LABEL_OP_GT: r = buf_printf(out, "%s>%lld", req->key, req->operand); break;
		case LABEL_OP_LT: r = buf_printf(out, "%s<%lld", req->key, req->operand); break;
		}
	}
	return r;
}
