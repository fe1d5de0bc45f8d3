/*
 * mlintegrate.h: drive mlintegrate's importance-sampling proposals (VEGAS, a normalizing flow)
 * from C, C++ or Fortran through the ask/tell loop.
 *
 *   mli_handle h = mli_open("{\"backend\": \"flow\", \"dim\": 2, \"seed\": 1}");
 *   for (int it = 0; it < iterations; ++it) {
 *       mli_sample(h, n, u, q);                  // ask: u (n x d, row-major) and q(u) (n)
 *       for (i = 0; i < n; ++i) f[i] = my_integrand(&u[i * d]);
 *       mli_adapt(h, n, u, q, f);                // tell: the proposal learns from f
 *   }
 *   mli_sample(h, n, u, q);  // fresh points: sigma = mean(f/q), error = std(f/q)/sqrt(n)
 *   mli_close(h);
 *
 * Every function returns MLI_OK (0) or an error code and never aborts the program; the message
 * is mli_last_error(h), or mli_last_error(0) for mli_open/mli_load and invalid handles (kept
 * per thread). Arrays are double, row-major: u[i*d + j] is coordinate j of point i.
 * A handle belongs to one thread at a time (open one per thread); each has its own random
 * generator seeded from the config's "seed", so the same seed gives the same points.
 *
 * The library embeds CPython (cffi embedding mode): the first call starts the interpreter and
 * imports mlintegrate from the paths recorded when the library was built (see
 * python -m mlintegrate.embed.build --help); PYTHONPATH adds more.
 */
#ifndef MLINTEGRATE_H
#define MLINTEGRATE_H

#include <stdint.h>

#define MLI_OK 0
#define MLI_ERR_CONFIG 1   /* bad config JSON, backend name or settings */
#define MLI_ERR_ARGUMENT 2 /* bad n, NULL pointer, NaN/inf in f, q <= 0, ... */
#define MLI_ERR_HANDLE 3   /* not an open handle */
#define MLI_ERR_IO 4       /* mli_save/mli_load: unwritable path, missing or corrupt file */
#define MLI_ERR_BUSY 5     /* the handle is inside a call from another thread */
#define MLI_ERR_INTERNAL 6 /* a bug in mlintegrate: the message says what */

#ifdef __cplusplus
extern "C" {
#endif

/* cffi-begin: the declarations below are also the embedding API given to cffi */
typedef int64_t mli_handle;

/* A new proposal from a JSON config {"backend": "flow"|"vegas"|"uniform", "dim": d,
   "seed": s, "settings": {...}}; > 0 on success, 0 on failure (see mli_last_error(0)). */
mli_handle mli_open(const char *config_json);
/* The dimension d of the handle's points, in *dim_out. */
int mli_dim(mli_handle h, int *dim_out);
/* Ask: n points u_out (n x d) drawn from the proposal and their density q_out (n). */
int mli_sample(mli_handle h, int64_t n, double *u_out, double *q_out);
/* Tell: learn from n points u (n x d) drawn with density q (n) where the integrand is f (n). */
int mli_adapt(mli_handle h, int64_t n, const double *u, const double *q, const double *f);
/* The proposal density q_out (n) at any points u (n x d); 0 outside the unit cube. */
int mli_density(mli_handle h, int64_t n, const double *u, double *q_out);
/* Save the trained proposal and the generator state (npz + JSON, written atomically). */
int mli_save(mli_handle h, const char *path);
/* A handle restored from mli_save; its generator continues where the saved one stopped.
   > 0 on success, 0 on failure (see mli_last_error(0)). */
mli_handle mli_load(const char *path);
/* Release the handle. */
int mli_close(mli_handle h);
/* The last error message of h ("" if its last call succeeded); h = 0 or an invalid handle:
   this thread's last error of mli_open/mli_load/invalid handles. Valid until the next
   mli_last_error call for the same h on the same thread. Never NULL. */
const char *mli_last_error(mli_handle h);
/* cffi-end */

#ifdef __cplusplus
}
#endif

#endif /* MLINTEGRATE_H */
