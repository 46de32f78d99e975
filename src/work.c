/*
 * work.c - the daemon's worker threads (see work.h).
 *
 * One mutex guards the queue, the list of finished jobs and the counts.
 * A worker that finishes a job puts it on the finished list and, when the
 * list was empty, writes a byte to a pipe; the loop's read event on the
 * pipe takes the whole list and calls each job's done.  (A pipe rather
 * than event_active(): libevent is then used from the loop's thread only,
 * without evthread_use_pthreads().)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "work.h"

struct job {
	struct job *next;
	int flags;
	work_run_fn *run;
	work_done_fn *done;
	void *arg;
	struct timespec queued;	/* CLOCK_MONOTONIC */
};

struct worker {
	struct work_pool *p;
	pthread_t thread;
	void *ctx;
	unsigned gen;		/* the reload generation its context has */
	bool started;
};

struct work_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* a job was queued, a writer finished, or stopping */
	struct job *head, *tail;	/* waiting, oldest first */
	struct job *fin_head, *fin_tail;	/* finished, not yet handed back */
	int queued, running, max_queued, nworkers;
	bool writing, stopping;
	unsigned long ndone, nrefused;
	atomic_uint gen;
	int pipefd[2];
	struct event *ev;
	struct work_ops ops;
	struct worker *workers;
};

static double since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* The first waiting job that may run now, taken off the queue; NULL: none.
 * Called with p->mu held. */
static struct job *take(struct work_pool *p)
{
	struct job *prev = NULL;

	for (struct job *j = p->head; j != NULL; prev = j, j = j->next) {
		if ((j->flags & WORK_WRITES) && p->writing)
			continue;
		if (prev == NULL)
			p->head = j->next;
		else
			prev->next = j->next;
		if (p->tail == j)
			p->tail = prev;
		j->next = NULL;
		p->queued--;
		return j;
	}
	return NULL;
}

/* Puts j on the finished list and tells the loop. */
static void finished(struct work_pool *p, struct job *j)
{
	bool first;

	pthread_mutex_lock(&p->mu);
	p->running--;
	if (j->flags & WORK_WRITES)
		p->writing = false;
	p->ndone++;
	first = p->fin_head == NULL;
	if (first)
		p->fin_head = j;
	else
		p->fin_tail->next = j;
	p->fin_tail = j;
	pthread_cond_broadcast(&p->cv);	/* a writer may wait for its turn */
	pthread_mutex_unlock(&p->mu);
	if (first) {
		ssize_t n;

		do
			n = write(p->pipefd[1], "x", 1);
		while (n < 0 && errno == EINTR);
		/* EAGAIN: the pipe is full of wake-ups the loop has yet to read. */
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct work_pool *p = w->p;

	for (;;) {
		struct job *j;
		unsigned gen;

		pthread_mutex_lock(&p->mu);
		while ((j = take(p)) == NULL && !(p->stopping && p->head == NULL))
			pthread_cond_wait(&p->cv, &p->mu);
		if (j == NULL) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		p->running++;
		if (j->flags & WORK_WRITES)
			p->writing = true;
		pthread_mutex_unlock(&p->mu);
		gen = atomic_load(&p->gen);
		if (gen != w->gen && p->ops.ctx_reload != NULL)
			p->ops.ctx_reload(p->ops.arg, w->ctx);
		w->gen = gen;
		j->run(w->ctx, j->arg);
		finished(p, j);
	}
}

/* Hands the finished jobs back: their done, on the caller's thread. */
static void hand_back(struct work_pool *p)
{
	struct job *j, *next;

	pthread_mutex_lock(&p->mu);
	j = p->fin_head;
	p->fin_head = p->fin_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

static void on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	char buf[256];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	hand_back(arg);
}

/* The pipe, non-blocking at both ends, and the loop's event on it. */
static enum status open_pipe(struct work_pool *p, struct event_base *base, struct errbuf *e)
{
	if (pipe2(p->pipefd, O_CLOEXEC | O_NONBLOCK) != 0) {
		p->pipefd[0] = p->pipefd[1] = -1;
		return errbuf_set(e, ST_FAIL, "cannot make the workers' pipe: %s", strerror(errno));
	}
	p->ev = event_new(base, p->pipefd[0], EV_READ | EV_PERSIST, on_wakeup, p);
	if (p->ev == NULL || event_add(p->ev, NULL) != 0)
		return errbuf_set(e, ST_FAIL, "cannot watch the workers' pipe");
	return ST_OK;
}

struct work_pool *work_pool_new(struct event_base *base, int workers, int max_queued,
				const struct work_ops *ops, struct errbuf *e)
{
	struct work_pool *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->workers = calloc((size_t)(workers > 0 ? workers : 1),
					      sizeof(*p->workers))) == NULL) {
		free(p);
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	atomic_init(&p->gen, 0);
	p->ops = *ops;
	p->max_queued = max_queued > 0 ? max_queued : 1;
	if (open_pipe(p, base, e) != ST_OK)
		goto out_free;
	for (int i = 0; i < (workers > 0 ? workers : 1); i++) {
		struct worker *w = &p->workers[i];

		w->p = p;
		w->ctx = ops->ctx_new != NULL ? ops->ctx_new(ops->arg, i, e) : NULL;
		if (ops->ctx_new != NULL && w->ctx == NULL)
			goto out_free;
		p->nworkers++;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			errbuf_set(e, ST_FAIL, "cannot start a worker thread");
			goto out_free;
		}
		w->started = true;
	}
	return p;
out_free:
	work_pool_free(p);
	return NULL;
}

bool work_submit(struct work_pool *p, int flags, work_run_fn *run, work_done_fn *done,
		 void *arg)
{
	struct job *j;

	pthread_mutex_lock(&p->mu);
	if (p->stopping) {	/* a done called by work_pool_free() */
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	if ((flags & WORK_REFUSABLE) && p->queued >= p->max_queued) {
		p->nrefused++;
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	pthread_mutex_unlock(&p->mu);
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return false;
	*j = (struct job){ .flags = flags, .run = run, .done = done, .arg = arg };
	clock_gettime(CLOCK_MONOTONIC, &j->queued);
	pthread_mutex_lock(&p->mu);
	if (p->tail == NULL)
		p->head = j;
	else
		p->tail->next = j;
	p->tail = j;
	p->queued++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return true;
}

bool work_full(struct work_pool *p)
{
	bool full;

	pthread_mutex_lock(&p->mu);
	full = p->queued >= p->max_queued;
	pthread_mutex_unlock(&p->mu);
	return full;
}

void work_note_refused(struct work_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->nrefused++;
	pthread_mutex_unlock(&p->mu);
}

bool work_try_write(struct work_pool *p)
{
	bool got;

	pthread_mutex_lock(&p->mu);
	got = !p->writing;
	p->writing = true;
	pthread_mutex_unlock(&p->mu);
	return got;
}

void work_end_write(struct work_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->writing = false;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void work_pool_reload(struct work_pool *p)
{
	atomic_fetch_add(&p->gen, 1);
}

void work_pool_stats(struct work_pool *p, struct work_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = (struct work_stats){
		.workers = p->nworkers, .max_queued = p->max_queued, .queued = p->queued,
		.running = p->running, .writing = p->writing,
		.oldest_s = p->head != NULL ? since(&p->head->queued) : 0,
		.done = p->ndone, .refused = p->nrefused,
	};
	pthread_mutex_unlock(&p->mu);
}

void work_pool_free(struct work_pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nworkers; i++) {
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
		if (p->ops.ctx_free != NULL && p->workers[i].ctx != NULL)
			p->ops.ctx_free(p->ops.arg, p->workers[i].ctx);
	}
	hand_back(p);
	if (p->ev != NULL)
		event_free(p->ev);
	for (int i = 0; i < 2; i++)
		if (p->pipefd[i] >= 0)
			close(p->pipefd[i]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->workers);
	free(p);
}
