#include "landlock/field.h"

#include <stdio.h>
#include <string.h>

const char *landlock_field(landlock_field_t out, const char *parent, const char *key, long index)
{
	const char *dot = parent[0] && key[0] ? "." : "";
	int w = index >= 0 ? snprintf(out, sizeof(landlock_field_t), "%s%s%s[%ld]", parent, dot,
				      key, index)
			   : snprintf(out, sizeof(landlock_field_t), "%s%s%s", parent, dot, key);
	if (w < 0)
		out[0] = '\0';
	return out;
}

int landlock_check_keys(const json_t *obj, const char *field, const char *const *known,
			struct field_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)obj, key, v) {
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			ok = ok || strcmp(key, known[i]) == 0;
		if (!ok) {
			landlock_field_t f;
			return field_error_set(err, landlock_field(f, field, key, -1),
					       "unknown field");
		}
	}
	return 0;
}

int landlock_check_array(const json_t *a, const char *field, size_t max, bool nonempty,
			 struct field_error *err)
{
	if (!json_is_array(a))
		return field_error_set(err, field, "must be an array");
	if (nonempty && json_array_size(a) == 0)
		return field_error_set(err, field, "must not be empty");
	if (json_array_size(a) > max)
		return field_error_set(err, field, "must have at most %zu items, not %zu", max,
				       json_array_size(a));
	return 0;
}

int landlock_rights_from_json(const json_t *a, enum landlock_kind kind, const char *field,
			      bool nonempty, uint64_t *ret, struct field_error *err)
{
	int r = landlock_check_array(a, field, 64, nonempty, err);
	if (r < 0)
		return r;
	uint64_t bits = 0;
	size_t i;
	json_t *v;
	json_array_foreach (a, i, v) {
		landlock_field_t f;
		uint64_t bit;
		landlock_field(f, field, "", (long)i);
		if (!json_is_string(v))
			return field_error_set(err, f, "must be a string");
		if (landlock_right_from_name(kind, json_string_value(v), &bit) < 0)
			return field_error_set(err, f, "unknown %s \"%.64s\"; known: %s",
					       landlock_kind_noun(kind), json_string_value(v),
					       landlock_kind_names(kind));
		bits |= bit;
	}
	*ret = bits;
	return 0;
}
