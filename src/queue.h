/*
 * queue.h - a bounded queue of pointers between two threads: one producer,
 * one consumer.
 *
 * The ingest pipeline (ingest.c) parses, checks and stores on three
 * threads; batches of records travel from one to the next through a queue
 * each, and back through a queue of empty ones, so memory stays bounded by
 * the number of batches however large the input.
 *
 * Either side can end the exchange: the producer closes (queue_close:
 * "nothing more"), the consumer stops (queue_stop: "I want nothing more",
 * which wakes a producer blocked on a full queue).
 */
#ifndef SCHAKEL_QUEUE_H
#define SCHAKEL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct queue;

/* A queue of at most cap pointers; NULL when out of memory. */
struct queue *queue_new(size_t cap);
void queue_free(struct queue *q);

/*
 * Adds item, waiting while the queue is full.  false when the consumer has
 * stopped (item was not added).
 */
bool queue_push(struct queue *q, void *item);

/*
 * Takes the oldest item, waiting while the queue is empty.  NULL when the
 * queue is closed (or stopped) and empty.
 */
void *queue_pop(struct queue *q);

/* The producer is done: a consumer waiting on the empty queue gets NULL. */
void queue_close(struct queue *q);

/* The consumer is done: pushes fail from now on, also a waiting one. */
void queue_stop(struct queue *q);

#endif
