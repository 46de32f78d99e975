/*
 * work.h - a small pool of worker threads for the daemon's heavy work
 * (ingest, matching, retention, checkpoint signing), fed from its libevent
 * loop through a bounded queue.
 *
 * The loop hands a job over with work_submit(); a worker runs it (run, on
 * the worker's thread, with that worker's own context: in the daemon an
 * installation opened for it alone, with its own database connection);
 * its outcome comes back to the loop (done, on the loop's thread, read
 * from a pipe the loop watches).  So the loop never waits for the work,
 * only hands it over and receives the outcome.
 *
 * A job that writes (WORK_WRITES) runs only when no other writing job
 * runs: writes take turns inside the process instead of waiting on
 * SQLite's busy timeout for each other.  Jobs are taken in order of
 * submission, except that a job that does not write may pass writing jobs
 * that wait for their turn.
 *
 * The queue is bounded: work_submit() with WORK_REFUSABLE refuses a job
 * when max_queued jobs already wait (the API answers 503 then); the
 * daemon's own jobs are never refused (each kind is queued at most once).
 */
#ifndef SCHAKEL_WORK_H
#define SCHAKEL_WORK_H

#include <stdbool.h>

#include <event2/event.h>

#include "status.h"

struct work_pool;

/* What each worker gets: its context, made and freed on the pool's thread. */
struct work_ops {
	/* Makes worker i's context; NULL with e set fails work_pool_new(). */
	void *(*ctx_new)(void *arg, int i, struct errbuf *e);
	void (*ctx_free)(void *arg, void *ctx);
	/* On the worker, before its next job after work_pool_reload(); may be NULL. */
	void (*ctx_reload)(void *arg, void *ctx);
	void *arg;
};

enum work_flags {
	WORK_WRITES = 1,	/* takes its turn with the other writing jobs */
	WORK_REFUSABLE = 2,	/* refused when the queue is full */
};

/*
 * The job's two halves: run(ctx, arg) on a worker, then done(arg) on the
 * loop (done may be NULL).  arg is the caller's; done frees it.
 */
typedef void work_run_fn(void *ctx, void *arg);
typedef void work_done_fn(void *arg);

/*
 * Starts workers threads (at least 1) whose outcomes come back on base;
 * at most max_queued jobs wait (at least 1).  NULL with e set.
 */
struct work_pool *work_pool_new(struct event_base *base, int workers, int max_queued,
				const struct work_ops *ops, struct errbuf *e);

/*
 * Queues a job (flags: enum work_flags).  false, and nothing queued, when
 * the job is refusable and the queue is full, when out of memory, or once
 * work_pool_free() has begun.
 */
bool work_submit(struct work_pool *p, int flags, work_run_fn *run, work_done_fn *done,
		 void *arg);

/* Whether a refusable job would be refused now. */
bool work_full(struct work_pool *p);

/* Counts a job the caller refused itself, seeing work_full(). */
void work_note_refused(struct work_pool *p);

/*
 * The caller's own turn to write (the loop's short writes, /healthz's
 * probe): true and the turn taken when no writing job runs (none starts
 * until work_end_write()); false, nothing taken, when one runs.
 */
bool work_try_write(struct work_pool *p);
void work_end_write(struct work_pool *p);

/* Each worker calls ops->ctx_reload before its next job (after a SIGHUP). */
void work_pool_reload(struct work_pool *p);

struct work_stats {
	int workers;
	int max_queued;
	int queued;		/* jobs waiting for a worker */
	int running;		/* jobs on a worker now */
	bool writing;		/* one of them is a writing job */
	double oldest_s;	/* how long the oldest waiting job has waited; 0: none */
	unsigned long done;	/* jobs finished since the start */
	unsigned long refused;	/* refusable jobs refused since the start */
};

/* The pool's figures now (any thread). */
void work_pool_stats(struct work_pool *p, struct work_stats *out);

/*
 * Runs what is still queued, stops the workers, then calls the done of
 * every finished job not yet handed back (on the caller's thread), and
 * frees the pool.  Accepts NULL.
 */
void work_pool_free(struct work_pool *p);

#endif
