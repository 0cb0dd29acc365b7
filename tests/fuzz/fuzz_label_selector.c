/* Fuzzes both label selector parsers. The first byte picks the form ('j': metav1.LabelSelector
 * JSON, anything else: the string form of a labelSelector query parameter); the rest is the
 * input. Beyond "no crash, no leak", every accepted selector must survive a round trip: its
 * canonical text parses again to the same text and selects the same label sets. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "kube/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const label_sets[] = {
	"{}",
	"{\"app\":\"web\"}",
	"{\"app\":\"web\",\"tier\":\"a\",\"canary\":\"\"}",
	"{\"a\":\"\",\"x\":\"1\",\"replicas\":\"5\",\"example.com/app\":\"b\"}",
};

static void check_round_trip(const struct kube_selector *sel)
{
	struct buf text = BUF_INIT(1 << 20);
	int r = kube_selector_format(sel, &text);
	if (r == -EDOM && kube_selector_is_nothing(sel)) {
		buf_free(&text);
		return;
	}
	if (r < 0)
		abort();
	struct kube_selector *again = NULL;
	if (kube_selector_parse(buf_str(&text), NULL, &again, NULL) < 0)
		abort(); /* our own canonical text must parse */
	struct buf text2 = BUF_INIT(1 << 20);
	if (kube_selector_format(again, &text2) < 0 || strcmp(buf_str(&text), buf_str(&text2)))
		abort();
	for (size_t i = 0; i < sizeof(label_sets) / sizeof(label_sets[0]); i++) {
		json_t *labels = json_loads(label_sets[i], 0, NULL);
		if (kube_selector_matches(sel, labels) != kube_selector_matches(again, labels))
			abort();
		json_decref(labels);
	}
	kube_selector_free(again);
	buf_free(&text);
	buf_free(&text2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct kube_selector *sel = NULL;
	struct field_error err = {0};
	int r;
	if (data[0] == 'j') {
		json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
		if (!j)
			return 0;
		r = kube_selector_from_json(j, "spec.podSelector", &sel, &err);
		json_decref(j);
	} else {
		char *s = malloc(size);
		if (!s)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		r = kube_selector_parse(s, "labelSelector", &sel, &err);
		free(s);
	}
	if (r == 0)
		check_round_trip(sel);
	else if (r == -EINVAL && (!err.field[0] || !err.reason[0]))
		abort(); /* every rejection names the field and the reason */
	kube_selector_free(sel);
	return 0;
}
