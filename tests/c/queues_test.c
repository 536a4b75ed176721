/*
 * Event queues from C: two queues polled from two threads and the default
 * queue polled from the main thread, 10,000 requests spread over the
 * three. Every event must arrive on its request's queue, exactly one
 * ended event per id, none after it; event memory of one queue stays
 * valid while the others are polled; destroying a queue with requests in
 * flight ends nothing elsewhere and delivers nothing from it anywhere.
 * Prints one line per failed check; exits 1 on any failure.
 *
 *   queues_test URL_OF_SMALL_BODY URL_OF_SLOW_BODY BODY_LEN [REQUESTS]
 *
 * REQUESTS defaults to 10,000 (fewer under valgrind).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdl.h"

#define MAX_REQUESTS 10000
#define SLOW 200
#define MAX_ID (MAX_REQUESTS + 4 * SLOW + 64)
static int REQUESTS = MAX_REQUESTS;

static atomic_int failures;
#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            atomic_fetch_add(&failures, 1);                                 \
        }                                                                   \
    } while (0)

/* Which queue each id was started on (0: default, 1, 2, 3), and how many
 * ended events it got. Written before the id's events can arrive. */
static atomic_int queue_of[MAX_ID];
static atomic_int ended_count[MAX_ID];
static atomic_int ended_total;
static long body_len;
static const char *small_url;

typedef struct {
    net_queue *q; /* NULL: the default queue */
    int number;
    int expected; /* ended events to wait for */
} poller;

/* Drains `p`'s queue until it has seen `expected` ended events. Checks
 * each event, and that the previous batch's strings are intact after the
 * other threads polled their queues in between. */
static void *poll_queue(void *arg) {
    poller *p = arg;
    net_event ev[64];
    int ended = 0;
    int idle_rounds = 0;
    while (ended < p->expected && idle_rounds < 300) {
        size_t n = net_queue_wait(p->q, ev, 64, 100);
        idle_rounds = n ? 0 : idle_rounds + 1;
        for (size_t i = 0; i < n; i++) {
            net_id id = ev[i].id;
            CHECK(id > 0 && id < MAX_ID);
            if (id == 0 || id >= MAX_ID)
                continue;
            CHECK(atomic_load(&queue_of[id]) == p->number);
            CHECK(atomic_load(&ended_count[id]) == 0); /* nothing after ended */
            CHECK(ev[i].user_data == (void *)(size_t)(p->number + 1));
            if (ev[i].phase == NET_PHASE_ENDED) {
                atomic_fetch_add(&ended_count[id], 1);
                atomic_fetch_add(&ended_total, 1);
                ended++;
                CHECK(!ev[i].is_error && ev[i].status == 200);
                CHECK(ev[i].body_len == (size_t)body_len && ev[i].body != NULL);
            }
        }
        /* The batch is still ours: other queues' polls do not free it. */
        for (size_t i = 0; i < n; i++)
            CHECK(strcmp(ev[i].url, small_url) == 0);
    }
    if (ended != p->expected)
        printf("queue %d: %d of %d ended\n", p->number, ended, p->expected);
    CHECK(ended == p->expected);
    return NULL;
}

static net_id start(net_queue *q, int number, const char *url, bool progress) {
    net_params params;
    memset(&params, 0, sizeof params);
    params.queue = q;
    params.progress = progress;
    params.user_data = (void *)(size_t)(number + 1);
    net_id id = net_request(url, "GET", &params);
    CHECK(id > 0 && id < MAX_ID);
    return id;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: queues_test SMALL_URL SLOW_URL BODY_LEN [REQUESTS]\n");
        return 2;
    }
    if (argc == 5)
        REQUESTS = atoi(argv[4]);
    if (REQUESTS < 3 || REQUESTS > MAX_REQUESTS) {
        fprintf(stderr, "REQUESTS must be 3..%d\n", MAX_REQUESTS);
        return 2;
    }
    small_url = argv[1];
    const char *slow_url = argv[2];
    body_len = atol(argv[3]);

    net_queue *q1 = net_queue_create();
    net_queue *q2 = net_queue_create();
    CHECK(q1 != NULL && q2 != NULL && q1 != q2);

    /* Ids are handed out in order from 1 in a fresh process: the queue of
     * each is known before it is started, so pollers can check it. */
    poller pollers[3] = {{NULL, 0, 0}, {q1, 1, 0}, {q2, 2, 0}};
    for (int i = 1; i <= REQUESTS; i++) {
        atomic_store(&queue_of[i], i % 3);
        pollers[i % 3].expected++;
    }
    pthread_t threads[2];
    pthread_create(&threads[0], NULL, poll_queue, &pollers[1]);
    pthread_create(&threads[1], NULL, poll_queue, &pollers[2]);
    net_queue *queues[3] = {NULL, q1, q2};
    for (int i = 1; i <= REQUESTS; i++) {
        net_id id = start(queues[i % 3], i % 3, small_url, i % 7 == 0);
        CHECK(id == (net_id)i);
    }
    poll_queue(&pollers[0]);
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    CHECK(atomic_load(&ended_total) == REQUESTS);
    for (int i = 1; i <= REQUESTS; i++)
        CHECK(atomic_load(&ended_count[i]) == 1);

    /* Destroying a queue with requests in flight: SLOW requests on q3 that
     * take seconds, SLOW quick ones on q1 and on the default queue. */
    net_queue *q3 = net_queue_create();
    CHECK(q3 != NULL);
    net_id first = REQUESTS + 1;
    for (int i = 0; i < 3 * SLOW; i++) {
        net_id id = first + (net_id)i;
        int number = i % 3 == 0 ? 3 : i % 3 == 1 ? 1 : 0;
        atomic_store(&queue_of[id], number);
    }
    for (int i = 0; i < 3 * SLOW; i++) {
        int number = atomic_load(&queue_of[first + (net_id)i]);
        if (number == 3) {
            net_params params;
            memset(&params, 0, sizeof params);
            params.queue = q3;
            params.progress = true;
            CHECK(net_request(slow_url, "GET", &params) == first + (net_id)i);
        } else {
            CHECK(start(number ? q1 : NULL, number, small_url, false) == first + (net_id)i);
        }
    }
    /* Some of q3's requests are running, some queued: destroy it now. */
    net_event ev[16];
    CHECK(net_queue_wait(q3, ev, 16, 5000) > 0); /* one began at least */
    net_queue_destroy(q3);
    atomic_store(&ended_total, 0);
    poller rest[2] = {{NULL, 0, SLOW}, {q1, 1, SLOW}};
    pthread_create(&threads[0], NULL, poll_queue, &rest[1]);
    poll_queue(&rest[0]);
    pthread_join(threads[0], NULL);
    CHECK(atomic_load(&ended_total) == 2 * SLOW);
    /* Nothing of q3 arrives anywhere afterwards, and nothing else is left:
     * cancelling q3's ids finds none live. */
    CHECK(net_wait(ev, 16, 200) == 0);
    CHECK(net_queue_poll(q1, ev, 16) == 0);
    CHECK(net_queue_poll(q2, ev, 16) == 0);
    for (int i = 0; i < 3 * SLOW; i += 3)
        CHECK(!net_cancel(first + (net_id)i));

    net_queue_destroy(q1);
    net_shutdown();
    CHECK(net_queue_create() == NULL);
    CHECK(net_queue_poll(q2, ev, 16) == 0);
    net_queue_destroy(q2); /* after shutdown: still frees it */
    net_queue_destroy(NULL);

    int f = atomic_load(&failures);
    printf("%s: %d failure(s)\n", f ? "FAILED" : "ok", f);
    return f ? 1 : 0;
}
