r"""Massless 4-body phase space along one colour ring a–b–c–d: a generator adapted to its antenna.

A colour ordering of four partons has the poles 1/(s_ab s_bc s_cd s_da). The generator builds
the event as a 3-parton ring (ã, c̃, d) plus the emission of b between ã and c̃ (Catani–Seymour
final-state dipole kinematics, emitter a, spectator c):

    dΦ_4(p_a, p_b, p_c, p_d) = dΦ_3(p̃_a, p̃_c, p_d) · s̃_ac/(16π²) · (1 − y) dy dz dφ/(2π),

    p_a = z p̃_a + y(1−z) p̃_c + k_⊥,  p_b = (1−z) p̃_a + y z p̃_c − k_⊥,  p_c = (1−y) p̃_c,

with k_⊥ ⊥ p̃_a, p̃_c, −k_⊥² = z(1−z) y s̃_ac, so that exactly

    s_ab = y s̃_ac,   s_bc = (1−z)(1−y) s̃_ac,   s_ac = z(1−y) s̃_ac,   s̃_ac = s_abc.

With v = (s_ab + s_bc)/s_abc and ρ = s_ab/(s_ab + s_bc) (y = ρv, 1 − z = v(1 − ρ)/(1 − y)),
(1 − y) dy dz = v dv dρ, and a soft b (v → 0) collinear to a (ρ → 0) or c (ρ → 1) carries
1/(s_ab s_bc) = 1/(s_abc² v² ρ(1 − ρ)). The same holds for the 3-parton ring, with v_d = x̃_cd +
x̃_da = 2E_d/√s and ρ_d = x̃_cd/v_d (dx̃_cd dx̃_da = v_d dv_d dρ_d). Eight numbers t ∈ [0,1]^8:

- t0 → v_d = 2E_d/√s: 5 % of t flat below v_min = 2 e_min/√s (no parton of the process is
  softer than e_min, e.g. p_T,min), the rest ∝ 1/(v_d (1 − v_d + 3·scale)) above it (soft d,
  and three collinear partons abc, s_abc = (1 − v_d)s → 0);
- t1 → ρ_d ∝ 1/((ρ + a)(1 − ρ + a)), a = 10·scale/v_d (s̃_cd and s̃_da logarithmic);
- t2, t3: direction of d (cos θ = 2t2 − 1, φ = 2π t3); t4: angle χ = 2π t4 of ã about d;
- t5 → v_b as t0 (v_b ≥ v_min whenever E_b ≥ e_min in the lab: the boost of abc is bounded by
  √s/√s_abc), ∝ 1/v_b above; t6 → ρ_b as t1 with a = 10·scale/(v_b x̃_ac); t7 → φ = 2π t7, the
  azimuth of k_⊥ measured from the part of the beam axis (1, 0, 0, 1) transverse to p̃_a, p̃_c;
  with ``energy_azimuth``, φ = φ₀ + ψ is drawn 95 % of the time on the arcs where both partons
  of the dipole keep E ≥ e_min (E_a and E_b are E⁰ ± K cos ψ: :mod:`.arcs`), an exact factor
  (1/2π)/h(ψ) on the weight (the lab energy is not a variable of the dipole map: untrained,
  the 12 ee_4jet channels put every parton above e_min in 46.6 % of their points with φ flat,
  57.4 % with it; ``benchmarks/results/azimuth.md``).

So 1/s_ab and 1/s_bc (soft b, collinear a∥b, b∥c) and 1/s̃_cd, 1/s̃_da (soft d, collinear
c∥d, d∥a) are flat in t while the whole of phase space stays covered (the dipole map is a
bijection onto every massless 4-parton point with y, z ∈ (0, 1)). The weight

    w = s/(128π³) · v_d J_0 J_1 · x̃_ac s/(16π²) · v_b J_5 J_6,    J_k = d(variable)/dt_k,

has mean V_4 over uniform t. Scales that depend on the point are fixed before the variable
they scale is drawn, so the Jacobian stays a product of one-dimensional ones. Round trips are
exact to ~1e-9 except where s_abc/s ≲ 1e-7 (three collinear partons, far outside any cut:
the transverse frame of the emission loses digits there).

>>> import numpy as np
>>> t = np.random.default_rng(1).random((4, 8))
>>> p, w = antenna_generate(t, 91.2, (0, 1, 2, 3), 5e-4, 5.0)
>>> t2, w2 = antenna_inverse(p, 91.2, (0, 1, 2, 3), 5e-4, 5.0)
>>> bool(np.allclose(t2, t, atol=1e-9)), bool(np.allclose(w2, w))
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .arcs import ArcLaw, arc_cdf, arc_density, arc_law, arc_quantile
from .kinematics import dot
from .orientation import orient, orientation_of
from .pairing import _X_FLOOR, _direction_frame, _frame, _pair_mass2, _unit_fraction

__all__ = ["RINGS", "antenna_generate", "antenna_inverse"]

FloatArray = NDArray[np.float64]

#: the three colour rings of four partons (each with its reflection), as (a, b, c, d)
RINGS: tuple[tuple[int, int, int, int], ...] = ((0, 1, 2, 3), (0, 1, 3, 2), (0, 2, 1, 3))

_TWO_PI = 2.0 * math.pi
_CONST_3 = 1.0 / (128.0 * math.pi**3)
_CONST_EMIT = 1.0 / (16.0 * math.pi**2)


def _check(sqrt_s: float, ring: Sequence[int], scale: float) -> tuple[int, int, int, int]:
    if not (math.isfinite(sqrt_s) and sqrt_s > 0):
        raise ValueError(f"sqrt_s must be a positive energy in GeV, got {sqrt_s!r}")
    if sorted(ring) != [0, 1, 2, 3]:
        raise ValueError(f"ring must order the particles 0..3 as (a, b, c, d), got {ring!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive fraction of s (e.g. 5e-4), got {scale!r}")
    a, b, c, d = (int(i) for i in ring)
    return a, b, c, d


def _beam(n: int) -> FloatArray:
    """The light-like reference (1, 0, 0, 1) (n, 4) the azimuth of the emission is measured
    from (not p_d: it turns collinear to p̃_a at the pole s_da → 0, where its transverse part
    vanishes)."""
    ref = np.zeros((n, 4))
    ref[:, 0] = ref[:, 3] = 1.0
    return ref


def _transverse_basis(
    pa: FloatArray, pc: FloatArray, pr: FloatArray, ref: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Two orthonormal space-like 4-vectors (e₁, e₂), both ⊥ the light-like pa and pc (pr =
    pa·pc, passed in: computed from pa and pc it cancels when they are nearly collinear): e₁
    along the part of the light-like ``ref`` transverse to them, e₂ = ε(pa, pc, e₁, ·)
    normalised."""
    ra, rc = dot(ref, pa), dot(ref, pc)
    v = ref - (rc / pr)[:, None] * pa - (ra / pr)[:, None] * pc
    e1 = v / np.sqrt(2.0 * ra * rc / pr)[:, None]
    rows = np.stack([pa, pc, e1], axis=1)  # (n, 3, 4)
    cof = np.empty_like(pa)
    for mu in range(4):  # covariant w_μ = (−1)^μ det(rows without column μ): w_μ x^μ = det(x; rows)
        cols = [k for k in range(4) if k != mu]
        cof[:, mu] = (-1.0) ** mu * np.linalg.det(rows[:, :, cols])
    e2 = cof * np.array([1.0, -1.0, -1.0, -1.0])  # raise the index
    e2 /= np.sqrt(-dot(e2, e2))[:, None]
    return e1, e2


def _log2_map(
    t: FloatArray, x_max: FloatArray, a: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """x on [0, x_max] with density ∝ 1/((x + a)(x_max − x + a)) (both ends logarithmic):
    x = a expm1(2Lt)/(1 + e^{2Lt − L}), L = ln(1 + x_max/a); returns x, x_max − x (x at 1 − t,
    no cancellation) and dx/dt = 2L (x + a)(x_max − x + a)/(x_max + 2a). Kept 1e-16 x_max away
    from the ends."""
    big_l = np.log1p(x_max / a)
    edge = _X_FLOOR * x_max

    def x_of(v: FloatArray) -> FloatArray:
        return np.clip(a * np.expm1(2.0 * big_l * v) / (1.0 + np.exp(2.0 * big_l * v - big_l)),
                       edge, x_max - edge)  # fmt: skip

    x, rest = x_of(t), x_of(1.0 - t)
    return x, rest, _log2_jacobian(x, rest, a)


def _log2_jacobian(x: FloatArray, rest: FloatArray, a: float) -> FloatArray:
    x_max = x + rest
    return 2.0 * np.log1p(x_max / a) * (x + a) * (rest + a) / (x_max + 2.0 * a)


def _log2_unmap(x: FloatArray, rest: FloatArray, a: float) -> FloatArray:
    """Inverse of :func:`_log2_map`: t from x and x_max − x."""
    big_l = np.log1p((x + rest) / a)
    return np.clip((np.log((x + a) / (rest + a)) + big_l) / (2.0 * big_l), 0.0, 1.0)


#: the share of each energy variable spent below its cut (v < v_min, where the process is zero)
BELOW_CUT = 0.05


def _energy_map(
    t: FloatArray, v_min: float, a1: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """v ∈ [0, 1] (an energy fraction): the share ``BELOW_CUT`` of t flat on [0, v_min], the rest
    with density ∝ 1/(v (1 + a1 − v)) on [v_min, 1] (logarithmic at v_min, and towards v = 1 from
    the scale a1). Returns v, 1 − v (no cancellation) and dv/dt."""
    f0, c = BELOW_CUT, 1.0 + a1
    r_min = v_min / (c - v_min)
    big_g = math.log((c - v_min) / (v_min * a1))  # c · ∫ dv/(v(c − v)) over [v_min, 1]
    g = np.clip((t - f0) / (1.0 - f0), 0.0, 1.0)
    r = r_min * np.exp(g * big_g)  # v/(c − v)
    v_hi = c * r / (1.0 + r)
    rest_hi = -np.expm1(-(1.0 - g) * big_g) / (1.0 + r)  # 1 − v = (1 − a1 r)/(1 + r), a1 r(1) = 1
    low = t < f0
    v = np.where(low, v_min * t / f0, v_hi)
    rest = np.where(low, 1.0 - v, rest_hi)
    v = np.clip(v, _X_FLOOR, 1.0 - _X_FLOOR)
    rest = np.clip(rest, _X_FLOOR, 1.0 - _X_FLOOR)
    return v, rest, _energy_jacobian(v, rest, v_min, a1)


def _energy_jacobian(v: FloatArray, rest: FloatArray, v_min: float, a1: float) -> FloatArray:
    c = 1.0 + a1
    big_g = math.log((c - v_min) / (v_min * a1))
    f0 = BELOW_CUT
    return np.where(v < v_min, v_min / f0, v * (rest + a1) * big_g / (c * (1.0 - f0)))


def _energy_unmap(v: FloatArray, rest: FloatArray, v_min: float, a1: float) -> FloatArray:
    """Inverse of :func:`_energy_map`: t from v and 1 − v."""
    f0, c = BELOW_CUT, 1.0 + a1
    big_g = math.log((c - v_min) / (v_min * a1))
    g = np.log(v * (c - v_min) / (v_min * (rest + a1))) / big_g
    return np.clip(np.where(v < v_min, f0 * v / v_min, f0 + (1.0 - f0) * g), 0.0, 1.0)


#: the scale of 1 − v_d = s_abc/s, in units of ``scale`` (s_abc ≥ s_ab + s_bc + s_ac)
_ABC_SCALE = 3.0
#: the scale of 1 − v_b = s_ac/s_abc (no pole there in the ring: nearly 1/v)
_FLAT_END = 1e3
#: the log scale of the splits ρ in units of scale/(energy fraction): 10 measured best
#: (multi-channel VEGAS on ee_4jet, 2·10⁵ training calls: ε_median-max 2.5 % against 1.2–2.2 %
#: with 1, 3, 30)
_SPLIT_SCALE = 10.0


def _weight(v_d, vd_bar, rho_d, rhod_bar, v_b, vb_bar, rho_b, rhob_bar, x_ac, s, scale, v_min):  # noqa: ANN001, ANN202, E501
    """w of the module docstring from the sampled variables (all (n,) arrays)."""
    j_d = v_d * _energy_jacobian(v_d, vd_bar, v_min, _ABC_SCALE * scale)
    j_d = j_d * _log2_jacobian(rho_d, rhod_bar, _SPLIT_SCALE * scale / v_d)
    j_b = v_b * _energy_jacobian(v_b, vb_bar, v_min, _FLAT_END)
    j_b = j_b * _log2_jacobian(rho_b, rhob_bar, _SPLIT_SCALE * scale / (v_b * x_ac))
    return _CONST_3 * s * j_d * _CONST_EMIT * x_ac * s * j_b


def _check_e_min(e_min: float, sqrt_s: float) -> float:
    if not (math.isfinite(e_min) and 0 < e_min < sqrt_s / 2):
        raise ValueError(
            f"e_min must be an energy in (0, sqrt_s/2) GeV (the smallest parton energy the cuts "
            f"allow, e.g. p_T,min), got {e_min!r}"
        )
    return 2.0 * e_min / sqrt_s


#: t2, t3, t4 of the body frame the cut-aware orientation turns: d along x, ã in the x–y plane
#: (y > 0), so the reference of the emission's azimuth, the z axis, is ⊥ p̃_a, p̃_c always
_BODY_T = (0.5, 0.0, 0.25)


def _check_pt_min(pt_min: float | None, sqrt_s: float) -> float | None:
    if pt_min is not None and not (math.isfinite(pt_min) and 0 < pt_min < sqrt_s / 2):
        raise ValueError(
            f"pt_min must be None or a transverse momentum in (0, sqrt_s/2) GeV (the p_T cut "
            f"to the beam), got {pt_min!r}"
        )
    return pt_min


def _check_dr_min(dr_min: float | None, pt_min: float | None) -> None:
    if dr_min is None:
        return
    if not (math.isfinite(dr_min) and dr_min > 0):
        raise ValueError(f"dr_min must be None or a positive ΔR (e.g. 0.4), got {dr_min!r}")
    if pt_min is None:
        raise ValueError("dr_min needs pt_min: it steers the cut-aware orientation; pass both")


#: the share of the emission's azimuth drawn flat with ``energy_azimuth`` (the rest on the arcs
#: where both partons of the dipole keep E ≥ e_min)
AZIMUTH_SHARE_OUTSIDE = 0.05


def _azimuth_law(
    pa_t: FloatArray,
    pc_t: FloatArray,
    y: FloatArray,
    z: FloatArray,
    zb: FloatArray,
    k_t: FloatArray,
    e1: FloatArray,
    e2: FloatArray,
    e_min: float,
) -> tuple[ArcLaw, FloatArray]:
    """The law of the emission's azimuth ψ = φ − φ₀ that keeps E_a, E_b ≥ e_min, and φ₀ (n,).

    k_⊥⁰ = k_t (cos φ e₁⁰ + sin φ e₂⁰) = K cos(φ − φ₀) with K = k_t |(e₁⁰, e₂⁰)|, so
    E_a = z Ẽ_a + y(1−z) Ẽ_c + K cos ψ and E_b = (1−z) Ẽ_a + y z Ẽ_c − K cos ψ: both pass on
    (e_min − E_a⁰)/K ≤ cos ψ ≤ (E_b⁰ − e_min)/K (:mod:`.arcs`)."""
    big_k = k_t * np.hypot(e1[:, 0], e2[:, 0])
    phi0 = np.arctan2(e2[:, 0], e1[:, 0])
    ea0 = z * pa_t[:, 0] + y * zb * pc_t[:, 0]
    eb0 = zb * pa_t[:, 0] + y * z * pc_t[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        law = arc_law((e_min - ea0) / big_k, (eb0 - e_min) / big_k, AZIMUTH_SHARE_OUTSIDE)
    return law, phi0


def antenna_generate(
    t: FloatArray,
    sqrt_s: float,
    ring: Sequence[int],
    scale: float,
    e_min: float,
    pt_min: float | None = None,
    energy_azimuth: bool = False,
    dr_min: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """t (n, 8) in [0,1] → (momenta (n, 4, 4) of particles 0..3, weight w (n,)) (module doc;
    with ``pt_min``, t2–t4 orient the event by :mod:`.orientation` instead, with ``dr_min``
    turning a pair closer than ΔR_min towards the beam; with ``energy_azimuth``, t7 draws the
    emission's azimuth mostly where E_a, E_b ≥ e_min)."""
    a_, b_, c_, d_ = _check(sqrt_s, ring, scale)
    _check_dr_min(dr_min, pt_min)
    v_min = _check_e_min(e_min, sqrt_s)
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] != 8:
        raise ValueError(f"t has shape {t.shape}; expected (n, 8)")
    if _check_pt_min(pt_min, sqrt_s) is not None:
        t_body = t.copy()
        t_body[:, 2:5] = _BODY_T
        p_body, w = antenna_generate(t_body, sqrt_s, ring, scale, e_min, None, energy_azimuth)
        p, factor = orient(p_body, t[:, 2:5], pt_min, dr_min)
        return p, w * factor
    s = sqrt_s * sqrt_s
    v_d, x_ac, _ = _energy_map(t[:, 0], v_min, _ABC_SCALE * scale)  # v_d = 2E_d/√s = 1 − x̃_ac
    rho_d, rhod_bar, _ = _log2_map(t[:, 1], np.ones_like(v_d), _SPLIT_SCALE * scale / v_d)
    x_cd, x_da = rho_d * v_d, rhod_bar * v_d
    # the 3-parton ring in the centre-of-mass frame: energies E_i = √s (1 − x_jk)/2
    half = 0.5 * sqrt_s
    e_a, e_d = half * (x_ac + x_da), half * v_d
    # sin²(θ_ad/2) = x̃_da / ((1 − x̃_cd)(1 − x̃_ac)), cos²(θ_ad/2) = x̃_ac x̃_cd / (same), exactly
    norm = (x_ac + x_da) * v_d
    sin2_half, cos2_half = x_da / norm, x_ac * x_cd / norm
    cos_ad = cos2_half - sin2_half
    sin_ad = 2.0 * np.sqrt(sin2_half * cos2_half)
    e, f1, f2 = _frame(2.0 * t[:, 2] - 1.0, t[:, 3])
    chi = _TWO_PI * t[:, 4]
    n_a = cos_ad[:, None] * e + sin_ad[:, None] * (
        np.cos(chi)[:, None] * f1 + np.sin(chi)[:, None] * f2
    )
    n = t.shape[0]
    pd, pa_t, pc_t = np.empty((n, 4)), np.empty((n, 4)), np.empty((n, 4))
    pd[:, 0], pd[:, 1:] = e_d, e_d[:, None] * e
    pa_t[:, 0], pa_t[:, 1:] = e_a, e_a[:, None] * n_a
    pc_t[:, 1:] = -(pd[:, 1:] + pa_t[:, 1:])
    pc_t[:, 0] = half * (x_ac + x_cd)
    # the emission of b between ã and c̃: v_b = (s_ab + s_bc)/s_abc, ρ_b = s_ab/(s_ab + s_bc)
    v_b, vb_bar, _ = _energy_map(t[:, 5], v_min, _FLAT_END)
    rho_b, rhob_bar, _ = _log2_map(t[:, 6], np.ones_like(v_b), _SPLIT_SCALE * scale / (v_b * x_ac))
    y = rho_b * v_b
    y_bar = vb_bar + v_b * rhob_bar
    zb = v_b * rhob_bar / y_bar
    z = vb_bar / y_bar
    k_t = np.sqrt(z * zb * y * x_ac * s)
    e1, e2 = _transverse_basis(pa_t, pc_t, 0.5 * x_ac * s, _beam(n))
    phi = _TWO_PI * t[:, 7]
    if energy_azimuth:
        law, phi0 = _azimuth_law(pa_t, pc_t, y, z, zb, k_t, e1, e2, e_min)
        psi = arc_quantile(t[:, 7], law)
        phi = phi0 + psi
        azimuth_factor = 1.0 / (_TWO_PI * arc_density(psi, law))
    k_perp = k_t[:, None] * (np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2)
    p = np.empty((n, 4, 4))
    p[:, a_] = z[:, None] * pa_t + (y * zb)[:, None] * pc_t + k_perp
    p[:, b_] = zb[:, None] * pa_t + (y * z)[:, None] * pc_t - k_perp
    p[:, c_] = y_bar[:, None] * pc_t
    p[:, d_] = pd
    w = _weight(v_d, x_ac, rho_d, rhod_bar, v_b, vb_bar, rho_b, rhob_bar, x_ac, s, scale, v_min)
    return p, w * azimuth_factor if energy_azimuth else w


def _body_to_lab(p: FloatArray, ring: tuple[int, int, int, int]) -> FloatArray:
    """Q (n, 3, 3), columns the body axes of ``_BODY_T`` in the lab: x along p_d, y along the
    part of p̃_a ⊥ p_d, z = x × y."""
    a_, b_, c_, d_ = ring
    x = p[:, d_, 1:] / np.linalg.norm(p[:, d_, 1:], axis=1)[:, None]
    pa_t = _tilde_a(p[:, a_], p[:, b_], p[:, c_])[:, 1:]
    y = pa_t - np.sum(pa_t * x, axis=1)[:, None] * x
    y /= np.linalg.norm(y, axis=1)[:, None]
    return np.stack([x, y, np.cross(x, y)], axis=2)


def _tilde_a(pa: FloatArray, pb: FloatArray, pc: FloatArray) -> FloatArray:
    """p̃_a = p_a + p_b − y/(1 − y) p_c of the dipole map (module docstring)."""
    s_ab, s_ac, s_bc = _pair_mass2(pa, pb), _pair_mass2(pa, pc), _pair_mass2(pb, pc)
    return pa + pb - (s_ab / (s_ac + s_bc))[:, None] * pc


def antenna_inverse(
    p: FloatArray,
    sqrt_s: float,
    ring: Sequence[int],
    scale: float,
    e_min: float,
    pt_min: float | None = None,
    energy_azimuth: bool = False,
    dr_min: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Momenta (n, 4, 4) summing to (√s, 0, 0, 0) → (t (n, 8), weight w (n,)) of
    :func:`antenna_generate` (with the same ``pt_min``, ``energy_azimuth`` and ``dr_min``):
    its inverse, and the weight it gives at that t."""
    a_, b_, c_, d_ = _check(sqrt_s, ring, scale)
    _check_dr_min(dr_min, pt_min)
    v_min = _check_e_min(e_min, sqrt_s)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (4, 4):
        raise ValueError(f"p has shape {p.shape}; expected (n, 4, 4)")
    if _check_pt_min(pt_min, sqrt_s) is not None:
        q = _body_to_lab(p, (a_, b_, c_, d_))
        p_body = p.copy()
        p_body[..., 1:] = np.einsum("nji,nkj->nki", q, p[..., 1:])
        t, w = antenna_inverse(p_body, sqrt_s, ring, scale, e_min, None, energy_azimuth)
        t[:, 2:5], factor = orientation_of(p, pt_min, dr_min)
        return t, w * factor
    s = sqrt_s * sqrt_s
    pa, pb, pc, pd = p[:, a_], p[:, b_], p[:, c_], p[:, d_]
    s_ab, s_ac, s_bc = _pair_mass2(pa, pb), _pair_mass2(pa, pc), _pair_mass2(pb, pc)
    s_abc = s_ab + s_ac + s_bc
    y_bar = (s_ac + s_bc) / s_abc
    v_b, vb_bar = (s_ab + s_bc) / s_abc, s_ac / s_abc
    rho_b, rhob_bar = s_ab / (s_ab + s_bc), s_bc / (s_ab + s_bc)
    pc_t = pc / y_bar[:, None]
    pa_t = _tilde_a(pa, pb, pc)
    x_ac = np.clip(s_abc / s, _X_FLOOR, 1.0)
    x_cd = _pair_mass2(pc_t, pd) / s
    x_da = _pair_mass2(pa_t, pd) / s
    v_d = x_cd + x_da
    rho_d, rhod_bar = x_cd / v_d, x_da / v_d
    t = np.empty((p.shape[0], 8))
    t[:, 0] = _energy_unmap(v_d, x_ac, v_min, _ABC_SCALE * scale)
    t[:, 1] = _log2_unmap(rho_d, rhod_bar, _SPLIT_SCALE * scale / v_d)
    axis, f1, f2 = _direction_frame(pd[:, 1:])
    t[:, 2] = np.clip(0.5 * (1.0 + axis[:, 2]), 0.0, 1.0)
    t[:, 3] = _unit_fraction(np.arctan2(axis[:, 1], axis[:, 0]))
    t[:, 4] = _unit_fraction(
        np.arctan2(np.sum(pa_t[:, 1:] * f2, axis=1), np.sum(pa_t[:, 1:] * f1, axis=1))
    )
    t[:, 5] = _energy_unmap(v_b, vb_bar, v_min, _FLAT_END)
    t[:, 6] = _log2_unmap(rho_b, rhob_bar, _SPLIT_SCALE * scale / (v_b * x_ac))
    e1, e2 = _transverse_basis(pa_t, pc_t, 0.5 * s_abc, _beam(p.shape[0]))
    # k_⊥·e_i = −p_b·e_i (e_i ⊥ p̃_a, p̃_c); e_i space-like, so k_⊥ = k_t (cos φ e₁ + sin φ e₂)
    # has p_b·e₁ = k_t cos φ
    phi = np.arctan2(dot(pb, e2), dot(pb, e1))
    w = _weight(v_d, x_ac, rho_d, rhod_bar, v_b, vb_bar, rho_b, rhob_bar, x_ac, s, scale, v_min)
    if not energy_azimuth:
        t[:, 7] = _unit_fraction(phi)
        return t, w
    y = rho_b * v_b
    z, zb = vb_bar / y_bar, v_b * rhob_bar / y_bar
    k_t = np.sqrt(z * zb * y * x_ac * s)
    law, phi0 = _azimuth_law(pa_t, pc_t, y, z, zb, k_t, e1, e2, e_min)
    psi = np.mod(phi - phi0, _TWO_PI)
    t[:, 7] = np.clip(arc_cdf(psi, law), 0.0, 1.0)
    return t, w / (_TWO_PI * arc_density(psi, law))
