/*
 * test_breaker.c - the circuit breaker per recipient (breaker.h).
 */
#include "testutil.h"
#include "breaker.h"

#define A "00000001000000001783"
#define B "00000001003214345000"

static void test_held_down_at_the_threshold_and_up_at_the_first_answer(void **state)
{
	struct breakers *b = breaker_new();
	struct breaker_state st;

	(void)state;
	assert_non_null(b);
	assert_int_equal(breaker_count(b, A, false, 3, 100, &st), BREAKER_NONE);
	assert_int_equal(breaker_count(b, A, false, 3, 101, &st), BREAKER_NONE);
	assert_false(st.down);
	assert_false(breaker_is_down(b, A));
	assert_true(breaker_may_send(b, A, 101));
	assert_int_equal(breaker_count(b, A, false, 3, 102, &st), BREAKER_DOWN);
	assert_true(st.down);
	assert_true(breaker_is_down(b, A));
	assert_false(breaker_is_down(b, B));
	assert_int_equal(st.failures, 3);
	assert_int_equal(st.since, 102);
	assert_int_equal(breaker_down_count(b), 1);
	breaker_set_probe(b, A, 110);
	assert_false(breaker_may_send(b, A, 109));
	assert_true(breaker_may_send(b, A, 110));
	assert_true(breaker_may_send(b, B, 109));	/* another recipient is not held */
	assert_int_equal(breaker_count(b, A, false, 3, 110, &st), BREAKER_NONE);
	assert_int_equal(st.attempts, 1);
	assert_int_equal(st.failures, 4);
	assert_int_equal(breaker_count(b, A, true, 3, 120, &st), BREAKER_UP);
	assert_int_equal(st.attempts, 2);	/* the answered probe included */
	assert_int_equal(st.failures, 4);
	assert_int_equal(st.since, 102);
	assert_int_equal(breaker_down_count(b), 0);
	assert_false(breaker_is_down(b, A));
	assert_true(breaker_may_send(b, A, 0));
	breaker_free(b);
}

static void test_an_answer_resets_the_count_of_failures(void **state)
{
	struct breakers *b = breaker_new();
	struct breaker_state st;

	(void)state;
	breaker_count(b, A, false, 2, 1, &st);
	assert_int_equal(breaker_count(b, A, true, 2, 2, &st), BREAKER_NONE);
	assert_int_equal(breaker_count(b, A, false, 2, 3, &st), BREAKER_NONE);
	assert_int_equal(breaker_count(b, A, false, 2, 4, &st), BREAKER_DOWN);
	/* a recipient that never failed makes no entry */
	assert_int_equal(breaker_count(b, B, true, 2, 5, &st), BREAKER_NONE);
	assert_false(st.down);
	breaker_free(b);
}

static void count_down(void *arg, const struct breaker_state *st)
{
	*(int *)arg += st->down ? 10 : 1;
}

static void test_each_lists_every_recipient_that_failed(void **state)
{
	struct breakers *b = breaker_new();
	struct breaker_state st;
	int n = 0;

	(void)state;
	breaker_count(b, B, false, 1, 1, &st);	/* down */
	breaker_count(b, A, false, 5, 1, &st);	/* one failure, up */
	breaker_each(b, count_down, &n);
	assert_int_equal(n, 11);
	breaker_free(b);
	breaker_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_held_down_at_the_threshold_and_up_at_the_first_answer),
		cmocka_unit_test(test_an_answer_resets_the_count_of_failures),
		cmocka_unit_test(test_each_lists_every_recipient_that_failed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
