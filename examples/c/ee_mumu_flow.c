/*
 * Train mlintegrate's normalizing flow on e+ e- -> mu+ mu- (photon exchange) from C, through
 * the ask/tell loop of mlintegrate.h, then estimate sigma +- delta sigma from fresh points.
 *
 *   python -m mlintegrate.embed.build build/
 *   cc -O2 -I build -o ee_mumu_flow examples/c/ee_mumu_flow.c -L build -lmlintegrate \
 *      -Wl,-rpath,$PWD/build -lm
 *   ./ee_mumu_flow [checkpoint.npz]
 *
 * Phase space: u0 -> cos(theta) = 2 u0 - 1, u1 -> phi = 2 pi u1, so
 *   sigma = int du  c/(2s) |M|^2 dPhi_2/du,   dPhi_2 = dOmega / (32 pi^2),   dOmega = 4 pi du,
 * with |M|^2 = 2 e^4 (t^2 + u^2) / s^2 and c = 0.3893793721e9 pb GeV^2. Exact: 4 pi alpha^2/(3s).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mlintegrate.h"

#define DIM 2
static const double ALPHA = 1.0 / 137.035999084;
static const double SQRT_S = 91.2;            /* GeV */
static const double GEV2_TO_PB = 0.3893793721e9;

#define CHECK(call)                                                                        \
    do {                                                                                   \
        if ((call) != MLI_OK) {                                                            \
            fprintf(stderr, "%s failed: %s\n", #call, mli_last_error(h));                  \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

static double dot(const double a[4], const double b[4]) {
    return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
}

/* the integrand in pb at a point u of the unit square */
static double integrand(const double *u) {
    const double e = SQRT_S / 2, s = SQRT_S * SQRT_S, e2 = 4 * M_PI * ALPHA;
    double cos_t = 2 * u[0] - 1, sin_t = sqrt(fmax(0.0, 1 - cos_t * cos_t));
    double phi = 2 * M_PI * u[1];
    double p1[4] = {e, 0, 0, e}, p3[4] = {e, e * sin_t * cos(phi), e * sin_t * sin(phi), e * cos_t};
    double p4[4] = {e, -p3[1], -p3[2], -p3[3]};
    double t = -2 * dot(p1, p3), uu = -2 * dot(p1, p4);
    double me2 = 2 * e2 * e2 * (t * t + uu * uu) / (s * s);
    double dphi2_du = 4 * M_PI / (32 * M_PI * M_PI);
    return GEV2_TO_PB / (2 * s) * me2 * dphi2_du;
}

/* one batch of fresh points: mean and standard error of w = f/q */
static int estimate(mli_handle h, long n, double *u, double *q, double *mean, double *err) {
    CHECK(mli_sample(h, n, u, q));
    double sum = 0, sum2 = 0;
    for (long i = 0; i < n; ++i) {
        double w = integrand(&u[i * DIM]) / q[i];
        sum += w;
        sum2 += w * w;
    }
    *mean = sum / n;
    *err = sqrt((sum2 / n - *mean * *mean) / (n - 1));
    return 0;
}

int main(int argc, char **argv) {
    const long n_train = 2000, n_iter = 6, n_final = 20000;
    mli_handle h = mli_open(
        "{\"backend\": \"flow\", \"dim\": 2, \"seed\": 11, \"settings\": "
        "{\"bins\": 8, \"hidden\": 16, \"steps_per_batch\": 5, \"minibatch\": 256}}");
    if (h == 0) {
        fprintf(stderr, "mli_open failed: %s\n", mli_last_error(0));
        return 1;
    }
    int dim = 0;
    CHECK(mli_dim(h, &dim));
    double *u = malloc(sizeof(double) * n_final * DIM), *q = malloc(sizeof(double) * n_final);
    double *f = malloc(sizeof(double) * n_final);
    for (long it = 0; it < n_iter; ++it) { /* train: ask, evaluate, tell */
        CHECK(mli_sample(h, n_train, u, q));
        for (long i = 0; i < n_train; ++i) f[i] = integrand(&u[i * DIM]);
        CHECK(mli_adapt(h, n_train, u, q, f));
    }
    if (argc > 1) { /* save the trained proposal and carry on with the reloaded one */
        CHECK(mli_save(h, argv[1]));
        CHECK(mli_close(h));
        h = mli_load(argv[1]);
        if (h == 0) {
            fprintf(stderr, "mli_load failed: %s\n", mli_last_error(0));
            return 1;
        }
    }
    double mean, err;
    if (estimate(h, n_final, u, q, &mean, &err)) return 1;
    double exact = 4 * M_PI * ALPHA * ALPHA / (3 * SQRT_S * SQRT_S) * GEV2_TO_PB;
    printf("dim = %d\n", dim);
    printf("sigma = %.6f +- %.6f pb   exact = %.6f pb\n", mean, err, exact);
    CHECK(mli_close(h));
    free(u), free(q), free(f);
    return 0;
}
