/*
 * test_queue.c - the bounded queue between the ingest threads (queue.h).
 */
#include <pthread.h>

#include "testutil.h"
#include "queue.h"

#define N 100000

struct side {
	struct queue *q;
	long pushed;		/* items the producer got in */
	bool refused;		/* a push returned false */
};

/* Pushes 1..N (as pointers), then closes. */
static void *producer(void *arg)
{
	struct side *s = arg;

	for (long i = 1; i <= N; i++) {
		if (!queue_push(s->q, (void *)(intptr_t)i)) {
			s->refused = true;
			return NULL;
		}
		s->pushed++;
	}
	queue_close(s->q);
	return NULL;
}

static void test_items_arrive_in_order_and_close_ends_the_stream(void **state)
{
	struct side s = { .q = queue_new(4) };
	pthread_t t;
	long expect = 1;
	void *item;

	(void)state;
	assert_non_null(s.q);
	assert_int_equal(pthread_create(&t, NULL, producer, &s), 0);
	while ((item = queue_pop(s.q)) != NULL) {
		assert_int_equal((intptr_t)item, expect);
		expect++;
	}
	pthread_join(t, NULL);
	assert_int_equal(expect - 1, N);
	assert_false(s.refused);
	assert_null(queue_pop(s.q));	/* closed and empty stays so */
	queue_free(s.q);
}

static void test_stop_wakes_a_producer_blocked_on_a_full_queue(void **state)
{
	struct side s = { .q = queue_new(2) };
	pthread_t t;

	(void)state;
	assert_non_null(s.q);
	assert_int_equal(pthread_create(&t, NULL, producer, &s), 0);
	/* take three, then stop: the producer is (or soon will be) blocked */
	for (int i = 0; i < 3; i++)
		assert_non_null(queue_pop(s.q));
	queue_stop(s.q);
	pthread_join(t, NULL);	/* hangs here if stop did not wake it */
	assert_true(s.refused);
	assert_true(s.pushed < N);
	assert_false(queue_push(s.q, (void *)1));
	queue_free(s.q);
}

static void test_a_queue_of_nothing_is_refused(void **state)
{
	(void)state;
	assert_null(queue_new(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_items_arrive_in_order_and_close_ends_the_stream),
		cmocka_unit_test(test_stop_wakes_a_producer_blocked_on_a_full_queue),
		cmocka_unit_test(test_a_queue_of_nothing_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
