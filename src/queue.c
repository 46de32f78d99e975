/*
 * queue.c - a bounded queue of pointers between two threads (see queue.h):
 * a ring under one mutex, with a condition for each side to wait on.
 * Batches go through it, not single records, so the lock is taken a few
 * hundred times per 10^5 records.
 */
#include <pthread.h>
#include <stdlib.h>

#include "queue.h"

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	size_t cap, head, len;
	bool closed, stopped;
	void *ring[];
};

struct queue *queue_new(size_t cap)
{
	struct queue *q;

	if (cap == 0)
		return NULL;
	q = calloc(1, sizeof(*q) + cap * sizeof(q->ring[0]));
	if (q == NULL)
		return NULL;
	q->cap = cap;
	if (pthread_mutex_init(&q->lock, NULL) != 0)
		goto out_free;
	if (pthread_cond_init(&q->not_empty, NULL) != 0)
		goto out_mutex;
	if (pthread_cond_init(&q->not_full, NULL) != 0)
		goto out_cond;
	return q;
out_cond:
	pthread_cond_destroy(&q->not_empty);
out_mutex:
	pthread_mutex_destroy(&q->lock);
out_free:
	free(q);
	return NULL;
}

void queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

bool queue_push(struct queue *q, void *item)
{
	bool added = false;

	pthread_mutex_lock(&q->lock);
	while (q->len == q->cap && !q->stopped)
		pthread_cond_wait(&q->not_full, &q->lock);
	if (!q->stopped) {
		q->ring[(q->head + q->len) % q->cap] = item;
		q->len++;
		added = true;
		pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->lock);
	return added;
}

void *queue_pop(struct queue *q)
{
	void *item = NULL;

	pthread_mutex_lock(&q->lock);
	while (q->len == 0 && !q->closed && !q->stopped)
		pthread_cond_wait(&q->not_empty, &q->lock);
	if (q->len > 0) {
		item = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		pthread_cond_signal(&q->not_full);
	}
	pthread_mutex_unlock(&q->lock);
	return item;
}

void queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

void queue_stop(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopped = true;
	pthread_cond_broadcast(&q->not_full);
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}
