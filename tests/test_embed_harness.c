/*
 * Exercises libmlintegrate from C the way a generator code would, including every error path,
 * and prints one line per check: "name code | message". tests/test_embed.py builds and runs
 * it and checks the lines. Usage: test_embed_harness WORKDIR
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "mlintegrate.h"

#define D 3
#define N 500
static const char *VEGAS = "{\"backend\": \"vegas\", \"dim\": 3, \"seed\": 5}";

static void report(const char *name, long code, mli_handle h) {
    printf("%s %ld | %s\n", name, code, mli_last_error(h));
}

/* a peaked test function on the cube */
static double peak(const double *x) {
    double r2 = 0;
    for (int j = 0; j < D; ++j) r2 += (x[j] - 0.5) * (x[j] - 0.5);
    return exp(-r2 / 0.02);
}

/* three ask/tell rounds then one more ask; the last points into u_last */
static int run_loop(mli_handle h, double *u_last) {
    double u[N * D], q[N], f[N];
    for (int it = 0; it < 3; ++it) {
        if (mli_sample(h, N, u, q) != MLI_OK) return 1;
        for (int i = 0; i < N; ++i) f[i] = peak(&u[i * D]);
        if (mli_adapt(h, N, u, q, f) != MLI_OK) return 1;
    }
    return mli_sample(h, N, u_last, q) != MLI_OK;
}

typedef struct { double u[N * D]; int rc; } Job;

static void *thread_main(void *arg) {
    Job *job = arg;
    mli_handle h = mli_open(VEGAS); /* one handle per thread */
    job->rc = h == 0 || run_loop(h, job->u) || mli_close(h) != MLI_OK;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char path[4096];
    double u[N * D], q[N], f[N];

    report("open_bad_json", mli_open("{not json"), 0);
    report("open_unknown_backend", mli_open("{\"backend\": \"magic\", \"dim\": 2}"), 0);
    report("open_bad_dim", mli_open("{\"backend\": \"vegas\", \"dim\": 0}"), 0);
    report("open_bad_setting", mli_open("{\"backend\": \"vegas\", \"dim\": 2, "
                                        "\"settings\": {\"no_such_knob\": 1}}"), 0);
    report("open_null", mli_open(NULL), 0);

    mli_handle h = mli_open(VEGAS);
    report("open_ok", h > 0 ? 0 : -1, h > 0 ? h : 0);
    int dim = -1;
    report("dim", mli_dim(h, &dim) == MLI_OK ? dim : -1, h);
    report("sample_bad_handle", mli_sample(h + 1000, N, u, q), h + 1000);
    report("sample_null", mli_sample(h, N, NULL, q), h);
    report("sample_n0", mli_sample(h, 0, u, q), h);
    report("sample_ok", mli_sample(h, N, u, q), h);
    for (int i = 0; i < N; ++i) f[i] = peak(&u[i * D]);
    f[7] = NAN;
    report("adapt_nan", mli_adapt(h, N, u, q, f), h);
    f[7] = 0.0;
    q[3] = 0.0;
    report("adapt_q0", mli_adapt(h, N, u, q, f), h);
    report("density_ok", mli_density(h, N, u, q), h);
    report("save_unwritable", mli_save(h, "/dev/null/inside/a/file.npz"), h);
    report("save_null", mli_save(h, NULL), h);
    report("close_ok", mli_close(h), h);
    report("close_twice", mli_close(h), h);

    snprintf(path, sizeof path, "%s/missing.npz", argv[1]);
    report("load_missing", mli_load(path), 0);
    snprintf(path, sizeof path, "%s/corrupt.npz", argv[1]);
    FILE *fh = fopen(path, "w");
    fputs("this is not a checkpoint", fh);
    fclose(fh);
    report("load_corrupt", mli_load(path), 0);

    /* save after training, then the reloaded handle continues exactly where the saved one was */
    double u_a[N * D], u_b[N * D], u_seq[N * D];
    h = mli_open(VEGAS);
    if (run_loop(h, u_seq)) return 1;
    snprintf(path, sizeof path, "%s/vegas.npz", argv[1]);
    report("save_ok", mli_save(h, path), h);
    mli_sample(h, N, u_a, q);
    mli_close(h);
    mli_handle h2 = mli_load(path);
    report("load_ok", h2 > 0 ? 0 : -1, 0);
    mli_sample(h2, N, u_b, q);
    report("reload_continues_identically", memcmp(u_a, u_b, sizeof u_a) != 0, h2);
    mli_close(h2);

    /* two threads, one handle each, same seed: the same points as the sequential run */
    Job jobs[2];
    pthread_t threads[2];
    for (int t = 0; t < 2; ++t) pthread_create(&threads[t], NULL, thread_main, &jobs[t]);
    for (int t = 0; t < 2; ++t) pthread_join(threads[t], NULL);
    int same = jobs[0].rc == 0 && jobs[1].rc == 0 && !memcmp(jobs[0].u, u_seq, sizeof u_seq) &&
               !memcmp(jobs[1].u, u_seq, sizeof u_seq);
    report("threads_match_sequential", !same, 0);
    return 0;
}
