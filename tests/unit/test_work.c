/*
 * test_work.c - the daemon's worker pool (work.h), on a real libevent
 * loop with real threads.  Blocking jobs wait on a gate the test opens, so
 * every assertion is about order, never about time.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "testutil.h"
#include "work.h"

/* A gate a job waits at until the test opens it. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
};

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->open = false;
}

static void gate_wait(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* Each worker's context: its number and how often it was reloaded. */
struct ctx {
	int i;
	int reloads;
};

static void *ctx_new(void *arg, int i, struct errbuf *e)
{
	struct ctx *c = calloc(1, sizeof(*c));

	(void)arg;
	(void)e;
	c->i = i;
	return c;
}

static void ctx_free(void *arg, void *ctx)
{
	(void)arg;
	free(ctx);
}

static void ctx_reload(void *arg, void *ctx)
{
	(void)arg;
	((struct ctx *)ctx)->reloads++;
}

static const struct work_ops ops = { ctx_new, ctx_free, ctx_reload, NULL };

static atomic_int writers_now;	/* writing jobs running at this moment */
static atomic_int writers_max;

/* One job: where it ran, in which order its done came back. */
struct job {
	struct gate *gate;	/* waits here first; NULL: does not wait */
	pthread_t ran_on, done_on;
	int reloads;		/* its worker's reloads when it ran */
	bool ran, done;
	int order;		/* 1, 2, ... in the order done was called */
	bool writes;
};

static int done_count;

static void run(void *ctx, void *arg)
{
	struct job *j = arg;
	int now;

	j->ran_on = pthread_self();
	j->reloads = ((struct ctx *)ctx)->reloads;
	if (j->writes) {
		now = atomic_fetch_add(&writers_now, 1) + 1;
		if (now > atomic_load(&writers_max))
			atomic_store(&writers_max, now);
	}
	if (j->gate != NULL)
		gate_wait(j->gate);
	if (j->writes)
		atomic_fetch_sub(&writers_now, 1);
	j->ran = true;
}

static void done(void *arg)
{
	struct job *j = arg;

	j->done_on = pthread_self();
	j->done = true;
	j->order = ++done_count;
}

/* Runs the loop until job j's done came back. */
static void loop_until_done(struct event_base *base, struct job *j)
{
	while (!j->done)
		event_base_loop(base, EVLOOP_ONCE);
}

/* Waits (yielding) until the pool runs `running` jobs and has `queued` waiting. */
static void wait_for(struct work_pool *p, int running, int queued)
{
	struct work_stats s;

	for (;;) {
		work_pool_stats(p, &s);
		if (s.running == running && s.queued == queued)
			return;
		sched_yield();
	}
}

static void test_run_on_a_worker_done_on_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct errbuf e;
	struct work_pool *p = work_pool_new(base, 2, 4, &ops, &e);
	struct job j[8] = { 0 };

	(void)state;
	assert_non_null(p);
	done_count = 0;
	for (int i = 0; i < 8; i++)
		assert_true(work_submit(p, 0, run, done, &j[i]));
	for (int i = 0; i < 8; i++)
		loop_until_done(base, &j[i]);
	for (int i = 0; i < 8; i++) {
		assert_true(j[i].ran);
		assert_false(pthread_equal(j[i].ran_on, pthread_self()));
		assert_true(pthread_equal(j[i].done_on, pthread_self()));
	}
	work_pool_free(p);
	event_base_free(base);
}

/*
 * One worker, two places in the queue: with the worker held by a job and
 * two jobs waiting, a refusable job is refused (and counted), the daemon's
 * own job is not; the figures say so, and the oldest waiting job has an age.
 */
static void test_a_full_queue_refuses_refusable_jobs_only(void **state)
{
	struct event_base *base = event_base_new();
	struct errbuf e;
	struct work_pool *p = work_pool_new(base, 1, 2, &ops, &e);
	struct gate g;
	struct job hold = { 0 }, a = { 0 }, b = { 0 }, c = { 0 }, own = { 0 };
	struct work_stats s;

	(void)state;
	assert_non_null(p);
	gate_init(&g);
	hold.gate = &g;
	done_count = 0;
	assert_false(work_full(p));
	assert_true(work_submit(p, WORK_REFUSABLE, run, done, &hold));
	wait_for(p, 1, 0);
	assert_true(work_submit(p, WORK_REFUSABLE, run, done, &a));
	assert_true(work_submit(p, WORK_REFUSABLE, run, done, &b));
	assert_true(work_full(p));
	assert_false(work_submit(p, WORK_REFUSABLE, run, done, &c));
	assert_true(work_submit(p, 0, run, done, &own));
	work_pool_stats(p, &s);
	assert_int_equal(s.workers, 1);
	assert_int_equal(s.max_queued, 2);
	assert_int_equal(s.queued, 3);
	assert_int_equal(s.running, 1);
	assert_int_equal(s.refused, 1);
	assert_true(s.oldest_s >= 0);
	gate_open(&g);
	loop_until_done(base, &own);
	assert_true(hold.done && a.done && b.done);
	assert_false(c.ran || c.done);
	/* in order of submission */
	assert_int_equal(hold.order, 1);
	assert_int_equal(a.order, 2);
	assert_int_equal(b.order, 3);
	assert_int_equal(own.order, 4);
	work_pool_stats(p, &s);
	assert_int_equal(s.queued, 0);
	assert_int_equal(s.running, 0);
	assert_int_equal(s.done, 4);
	assert_true(s.oldest_s == 0);
	work_pool_free(p);
	event_base_free(base);
}

/*
 * Writing jobs take turns; a job that does not write passes a writing job
 * that waits for its turn, and finishes while the first writer still runs.
 */
static void test_writers_take_turns_readers_pass(void **state)
{
	struct event_base *base = event_base_new();
	struct errbuf e;
	struct work_pool *p = work_pool_new(base, 3, 8, &ops, &e);
	struct gate g;
	struct job w1 = { .writes = true }, w2 = { .writes = true }, r = { 0 };

	(void)state;
	assert_non_null(p);
	gate_init(&g);
	w1.gate = &g;
	atomic_store(&writers_now, 0);
	atomic_store(&writers_max, 0);
	done_count = 0;
	assert_true(work_submit(p, WORK_WRITES, run, done, &w1));
	wait_for(p, 1, 0);
	assert_true(work_submit(p, WORK_WRITES, run, done, &w2));
	assert_true(work_submit(p, 0, run, done, &r));
	loop_until_done(base, &r);	/* the reader is done, the first writer still runs */
	assert_false(w1.done);
	assert_false(w2.ran);
	wait_for(p, 1, 1);
	gate_open(&g);
	loop_until_done(base, &w2);
	assert_true(w1.done);
	assert_int_equal(r.order, 1);
	assert_int_equal(w1.order, 2);
	assert_int_equal(w2.order, 3);
	assert_int_equal(atomic_load(&writers_max), 1);
	work_pool_free(p);
	event_base_free(base);
}

/*
 * The loop's own turn to write: refused while a writing job runs; while
 * the loop holds it, a writing job waits and a job that does not write runs.
 */
static void test_the_callers_write_turn(void **state)
{
	struct event_base *base = event_base_new();
	struct errbuf e;
	struct work_pool *p = work_pool_new(base, 2, 4, &ops, &e);
	struct gate g;
	struct job w1 = { .writes = true }, w2 = { .writes = true }, r = { 0 };

	(void)state;
	assert_non_null(p);
	gate_init(&g);
	w1.gate = &g;
	assert_true(work_submit(p, WORK_WRITES, run, done, &w1));
	wait_for(p, 1, 0);
	assert_false(work_try_write(p));	/* w1 writes */
	gate_open(&g);
	loop_until_done(base, &w1);
	assert_true(work_try_write(p));
	assert_true(work_submit(p, WORK_WRITES, run, done, &w2));
	assert_true(work_submit(p, 0, run, done, &r));
	loop_until_done(base, &r);
	wait_for(p, 0, 1);	/* w2 waits for the turn */
	assert_false(w2.ran);
	work_end_write(p);
	loop_until_done(base, &w2);
	work_pool_free(p);
	event_base_free(base);
}

/* After work_pool_reload() every worker reloads its context before its next job. */
static void test_reload_reaches_the_next_job(void **state)
{
	struct event_base *base = event_base_new();
	struct errbuf e;
	struct work_pool *p = work_pool_new(base, 1, 4, &ops, &e);
	struct job before = { 0 }, after = { 0 };

	(void)state;
	assert_non_null(p);
	assert_true(work_submit(p, 0, run, done, &before));
	loop_until_done(base, &before);
	work_pool_reload(p);
	assert_true(work_submit(p, 0, run, done, &after));
	loop_until_done(base, &after);
	assert_int_equal(before.reloads, 0);
	assert_int_equal(after.reloads, 1);
	work_pool_free(p);
	event_base_free(base);
}

/* Freeing the pool runs what is still queued and hands every outcome back. */
static void test_free_finishes_the_queue(void **state)
{
	struct event_base *base = event_base_new();
	struct errbuf e;
	struct work_pool *p = work_pool_new(base, 1, 8, &ops, &e);
	struct job j[5] = { 0 };

	(void)state;
	assert_non_null(p);
	for (int i = 0; i < 5; i++)
		assert_true(work_submit(p, WORK_WRITES, run, done, &j[i]));
	done_count = 0;
	work_pool_free(p);	/* the loop never ran */
	assert_int_equal(done_count, 5);
	for (int i = 0; i < 5; i++) {
		assert_true(j[i].ran);
		assert_true(j[i].done);
		assert_true(pthread_equal(j[i].done_on, pthread_self()));
	}
	event_base_free(base);
}

static struct work_pool *resubmit_pool;
static bool resubmitted;

static void done_resubmits(void *arg)
{
	done(arg);
	resubmitted = work_submit(resubmit_pool, 0, run, done, arg);
}

/* A done called while the pool is freed cannot queue more work. */
static void test_no_new_work_while_freeing(void **state)
{
	struct event_base *base = event_base_new();
	struct errbuf e;
	struct job j = { 0 };

	(void)state;
	resubmit_pool = work_pool_new(base, 1, 4, &ops, &e);
	assert_non_null(resubmit_pool);
	resubmitted = true;
	assert_true(work_submit(resubmit_pool, 0, run, done_resubmits, &j));
	work_pool_free(resubmit_pool);
	assert_true(j.done);
	assert_false(resubmitted);
	event_base_free(base);
}

/* A context that cannot be made fails the pool, with the reason. */
static void *ctx_refused(void *arg, int i, struct errbuf *e)
{
	(void)arg;
	if (i == 0)
		return calloc(1, sizeof(struct ctx));
	errbuf_set(e, ST_FAIL, "no context %d", i);
	return NULL;
}

static void test_a_worker_without_context_fails_the_pool(void **state)
{
	struct event_base *base = event_base_new();
	const struct work_ops bad = { ctx_refused, ctx_free, NULL, NULL };
	struct errbuf e;

	(void)state;
	assert_null(work_pool_new(base, 2, 4, &bad, &e));
	assert_string_equal(e.msg, "no context 1");
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_on_a_worker_done_on_the_loop),
		cmocka_unit_test(test_a_full_queue_refuses_refusable_jobs_only),
		cmocka_unit_test(test_writers_take_turns_readers_pass),
		cmocka_unit_test(test_the_callers_write_turn),
		cmocka_unit_test(test_reload_reaches_the_next_job),
		cmocka_unit_test(test_free_finishes_the_queue),
		cmocka_unit_test(test_no_new_work_while_freeing),
		cmocka_unit_test(test_a_worker_without_context_fails_the_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
