/* The open-addressing table under the informer and the work queue: lookups stay correct
 * through backward-shift deletion, including long collision runs that wrap around the end of
 * the slot array, growth, shrinking and iteration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/hashtab.h"

struct item {
	uint64_t hash;
	int id;
	char name[24];
};

static bool item_eq(const void *item, const void *key)
{
	return strcmp(((const struct item *)item)->name, key) == 0;
}

#define N 4096

static void check_all(struct hashtab *t, struct item *items, const bool *present)
{
	size_t live = 0;
	for (int i = 0; i < N; i++) {
		struct item *got = hashtab_get(t, items[i].hash, items[i].name, item_eq);
		if (present[i]) {
			assert_ptr_equal(got, &items[i]);
			live++;
		} else {
			assert_null(got);
		}
	}
	assert_int_equal(t->n, live);
	size_t seen = 0;
	struct item *it;
	for (size_t pos = 0; (it = hashtab_next(t, &pos));) {
		assert_true(present[it->id]);
		seen++;
	}
	assert_int_equal(seen, live);
}

/* hash_of(i) picks the hash: a real string hash, or a degenerate one that puts every item in
 * a few home slots near the end of the array so probe runs wrap around. */
static void churn(uint64_t (*hash_of)(const struct item *))
{
	struct item *items = calloc(N, sizeof(*items));
	bool *present = calloc(N, sizeof(*present));
	struct hashtab t = HASHTAB_INIT;
	for (int i = 0; i < N; i++) {
		items[i].id = i;
		snprintf(items[i].name, sizeof(items[i].name), "ns/pod-%d", i);
		items[i].hash = hash_of(&items[i]);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(hashtab_put(&t, items[i].hash, &items[i]), 0);
		present[i] = true;
	}
	check_all(&t, items, present);
	/* Remove a pseudo-random half, then re-add some, checking as we go. */
	unsigned seed = 7;
	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < N / 2; k++) {
			int i = (int)(rand_r(&seed) % N);
			struct item *got =
				hashtab_remove(&t, items[i].hash, items[i].name, item_eq);
			assert_ptr_equal(got, present[i] ? &items[i] : NULL);
			present[i] = false;
		}
		check_all(&t, items, present);
		for (int k = 0; k < N / 4; k++) {
			int i = (int)(rand_r(&seed) % N);
			if (!present[i]) {
				assert_int_equal(hashtab_put(&t, items[i].hash, &items[i]), 0);
				present[i] = true;
			}
		}
		check_all(&t, items, present);
	}
	/* Removing everything frees the slots. */
	for (int i = 0; i < N; i++)
		if (present[i])
			assert_non_null(hashtab_remove(&t, items[i].hash, items[i].name, item_eq));
	assert_int_equal(t.n, 0);
	assert_int_equal(hashtab_bytes(&t), 0);
	assert_null(hashtab_get(&t, items[0].hash, items[0].name, item_eq));
	hashtab_free(&t);
	free(items);
	free(present);
}

static uint64_t real_hash(const struct item *it)
{
	return hashtab_hash_str(it->name);
}

static uint64_t colliding_hash(const struct item *it)
{
	/* Low bits all ones (the last slots of any power-of-two table), high bits distinct. */
	return ((uint64_t)(it->id % 3) << 40) | 0xFFFFFULL;
}

static void survives_churn_with_real_hashes(void **state)
{
	churn(real_hash);
}

static void survives_churn_with_wrapping_collisions(void **state)
{
	churn(colliding_hash);
}

static void reserve_and_shrink(void **state)
{
	struct hashtab t = HASHTAB_INIT;
	assert_int_equal(hashtab_reserve(&t, 1000), 0);
	size_t cap = t.cap;
	assert_true(cap >= 1000 * 4 / 3);
	static struct item items[1000];
	for (int i = 0; i < 1000; i++) {
		items[i].id = i;
		snprintf(items[i].name, sizeof(items[i].name), "k%d", i);
		items[i].hash = hashtab_hash_str(items[i].name);
		assert_int_equal(hashtab_put(&t, items[i].hash, &items[i]), 0);
	}
	/* Reserved room means no growth. */
	assert_int_equal(t.cap, cap);
	for (int i = 0; i < 990; i++)
		assert_non_null(hashtab_remove(&t, items[i].hash, items[i].name, item_eq));
	assert_true(t.cap < cap);
	for (int i = 990; i < 1000; i++)
		assert_ptr_equal(hashtab_get(&t, items[i].hash, items[i].name, item_eq), &items[i]);
	/* Same strings hash alike, different ones (almost always) differ. */
	assert_int_equal(hashtab_hash_str("ns/a"), hashtab_hash_str("ns/a"));
	assert_int_not_equal(hashtab_hash_str("ns/a"), hashtab_hash_str("ns/b"));
	hashtab_free(&t);
	assert_int_equal(t.cap, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(survives_churn_with_real_hashes),
		cmocka_unit_test(survives_churn_with_wrapping_collisions),
		cmocka_unit_test(reserve_and_shrink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
