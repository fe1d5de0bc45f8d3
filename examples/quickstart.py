"""Integrate a built-in test function with VEGAS and read the result.

Run: python examples/quickstart.py
"""

import mlintegrate as mli

f = mli.functions.get("camel", dim=4)  # two Gaussians on the diagonal; f.exact is known
integ = mli.Integrator(mli.backends.Vegas(dim=4), rng=1)
integ.train(f, calls=200_000)  # adapt the VEGAS grid
result = integ.integrate(f, calls=200_000, iterations=5)  # fresh points, frozen grid

print(result.summary())
print(f"\nexact {f.exact:.6f}, pull {result.pull:+.2f}")
print(
    f"unweighting efficiency (bootstrap median-of-maxima w_max): {result.efficiency.median_max:.1%}"
)
