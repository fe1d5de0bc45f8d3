/*
 * e+ e- -> mu+ mu- through a photon, massless: the spin-averaged |M|^2 = 2 e^4 (t^2 + u^2) / s^2
 * with e^2 = 4 pi alpha. Particles: e-(p1, along +z), e+(p2), mu-(p3), mu+(p4); components
 * (E, px, py, pz); metric (+,-,-,-).
 *
 * Exported in the three forms mlintegrate's Process.from_library understands:
 *   ee_mumu_events      void f(int64_t n, const double *p, double *out), p[(i*4 + k)*4 + mu]
 *   ee_mumu_components  the same signature, batch innermost: p[(mu*4 + k)*n + i]
 *   umami_*             the UMAMI 1.0 interface (momenta p[stride*(4*mu + k) + i])
 * plus ee_mumu_nan (returns NaN for every other event) to exercise the error path.
 *
 * Build: cc -O2 -shared -fPIC -o libee_mumu.so ee_mumu_me.c -lm
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define N_PARTICLES 4
static const double ALPHA = 1.0 / 137.035999084;

static double dot(const double a[4], const double b[4]) {
    return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
}

/* |M|^2 of one event given its four momenta */
static double me_one(const double p[N_PARTICLES][4]) {
    const double e2 = 4.0 * M_PI * ALPHA;
    double s = 2.0 * dot(p[0], p[1]);
    double t = -2.0 * dot(p[0], p[2]);
    double u = -2.0 * dot(p[0], p[3]);
    return 2.0 * e2 * e2 * (t * t + u * u) / (s * s);
}

void ee_mumu_events(int64_t n, const double *p, double *out) {
    for (int64_t i = 0; i < n; ++i)
        out[i] = me_one((const double (*)[4])(p + i * N_PARTICLES * 4));
}

/* gather one event from a batch-innermost array: component mu of particle k of event i at
   p[stride*(N*mu + k) + i] */
static void gather(const double *p, size_t stride, size_t i, double ev[N_PARTICLES][4]) {
    for (int k = 0; k < N_PARTICLES; ++k)
        for (int mu = 0; mu < 4; ++mu) ev[k][mu] = p[stride * (N_PARTICLES * mu + k) + i];
}

void ee_mumu_components(int64_t n, const double *p, double *out) {
    double ev[N_PARTICLES][4];
    for (int64_t i = 0; i < n; ++i) {
        gather(p, (size_t)n, (size_t)i, ev);
        out[i] = me_one(ev);
    }
}

void ee_mumu_nan(int64_t n, const double *p, double *out) {
    ee_mumu_events(n, p, out);
    for (int64_t i = 1; i < n; i += 2) out[i] = NAN;
}

/* ------------------------------------------------------------------ UMAMI 1.0 subset */
typedef void *UmamiHandle;
enum { UMAMI_SUCCESS = 0, UMAMI_ERROR = 1, UMAMI_ERROR_UNSUPPORTED_INPUT = 3,
       UMAMI_ERROR_UNSUPPORTED_OUTPUT = 4, UMAMI_ERROR_UNSUPPORTED_META = 6,
       UMAMI_ERROR_MISSING_INPUT = 7 };
enum { UMAMI_META_DEVICE = 0, UMAMI_META_PARTICLE_COUNT = 1 };
enum { UMAMI_IN_MOMENTA = 0, UMAMI_IN_ALPHA_S = 1 };
enum { UMAMI_OUT_MATRIX_ELEMENT = 0 };

/* a handle counts its calls: state that would race if two threads shared one */
typedef struct { long calls; } Instance;

int umami_get_meta(int key, void *result) {
    if (key == UMAMI_META_DEVICE) { *(int *)result = 0; return UMAMI_SUCCESS; }
    if (key == UMAMI_META_PARTICLE_COUNT) { *(int *)result = N_PARTICLES; return UMAMI_SUCCESS; }
    return UMAMI_ERROR_UNSUPPORTED_META;
}

int umami_initialize(UmamiHandle *handle, const char *param_card_path) {
    (void)param_card_path; /* no parameters: alpha is fixed above */
    Instance *inst = calloc(1, sizeof(Instance));
    if (!inst) return UMAMI_ERROR;
    *handle = inst;
    return UMAMI_SUCCESS;
}

int umami_matrix_element(UmamiHandle handle, size_t count, size_t stride, size_t offset,
                         size_t input_count, const int *input_keys, const void *const *inputs,
                         size_t output_count, const int *output_keys, void *const *outputs) {
    const double *momenta = NULL;
    double *me = NULL;
    if (!handle || offset > stride || count > stride - offset) return UMAMI_ERROR;
    for (size_t j = 0; j < input_count; ++j) {
        if (input_keys[j] == UMAMI_IN_MOMENTA) momenta = inputs[j];
        else if (input_keys[j] != UMAMI_IN_ALPHA_S) return UMAMI_ERROR_UNSUPPORTED_INPUT;
    }
    for (size_t j = 0; j < output_count; ++j) {
        if (output_keys[j] == UMAMI_OUT_MATRIX_ELEMENT) me = outputs[j];
        else return UMAMI_ERROR_UNSUPPORTED_OUTPUT;
    }
    if (!momenta) return UMAMI_ERROR_MISSING_INPUT;
    double ev[N_PARTICLES][4];
    for (size_t i = offset; i < offset + count; ++i) {
        gather(momenta, stride, i, ev);
        if (me) me[i] = me_one(ev);
    }
    ((Instance *)handle)->calls += 1;
    return UMAMI_SUCCESS;
}

int umami_free(UmamiHandle handle) {
    free(handle);
    return UMAMI_SUCCESS;
}
