"""|M|² from a compiled library (Process.from_library): the three C interfaces, errors, threads.

The library is examples/c/ee_mumu_me.c (e+e− → μ+μ− through a photon), compiled once per
session with the system C compiler; every test here skips, saying why, where there is none.
"""

import math
import pickle
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import mlintegrate as mli
from mlintegrate.errors import ConfigError, IntegrandError
from mlintegrate.processes import CompiledMatrixElement, ee

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "examples" / "c" / "ee_mumu_me.c"
MASSLESS = {"incoming": (0.0, 0.0), "outgoing_masses": (0.0, 0.0), "sqrt_s": 91.2}
INTERFACES = [("events", "ee_mumu_events"), ("components", "ee_mumu_components"), ("umami", None)]


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc or gcc) on PATH: the compiled-|M|² tests need one")
    out = tmp_path_factory.mktemp("compiled") / "libee_mumu.so"
    cmd = [cc, "-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-o", str(out), str(SOURCE), "-lm"]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def momenta(n: int = 500, seed: int = 1) -> np.ndarray:
    ref = ee.ee_mumu()
    return ref.momenta(np.random.default_rng(seed).random((n, ref.dim)))[0]


@pytest.mark.parametrize(("layout", "symbol"), INTERFACES)
def test_every_interface_gives_the_python_matrix_element(lib, layout, symbol):
    me = CompiledMatrixElement(lib, 4, symbol=symbol, layout=layout)
    p = momenta()
    np.testing.assert_allclose(me(p), ee.ee_mumu().matrix_element(p), rtol=1e-13)
    assert me(p[:0]).shape == (0,)


@pytest.mark.parametrize(("layout", "symbol"), [INTERFACES[0], INTERFACES[2]])
def test_integrating_the_library_reproduces_4_pi_alpha2_over_3s(lib, layout, symbol):
    process = mli.processes.Process.from_library(lib, symbol=symbol, layout=layout, **MASSLESS)
    exact = 4 * math.pi * ee.ALPHA**2 / (3 * 91.2**2) * mli.processes.GEV2_TO_PB
    assert math.isclose(exact, ee.sigma_mumu(91.2), rel_tol=1e-14)
    integ = mli.Integrator(mli.backends.Vegas(dim=process.dim), rng=5, progress=False)
    integ.train(process, calls=20_000)
    result = integ.integrate(process, calls=40_000)
    assert abs(result.mean - exact) < 5 * result.sdev
    assert result.sdev / exact < 5e-4  # (1 + cos²θ) under a VEGAS map: rsd ≈ 0.06


def test_umami_gets_one_handle_per_thread_and_frees_them(lib):
    me = CompiledMatrixElement(lib, 4, layout="umami")
    p = momenta(200)
    expected = me(p)
    results: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        results[k] = me(p)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(me._handles) == 4  # the main thread's and one per worker thread
    assert all(np.array_equal(r, expected) for r in results.values())
    me.close()
    assert me._handles == []
    np.testing.assert_array_equal(me(p), expected)  # a new handle after close
    assert len(me._handles) == 1


@pytest.mark.parametrize(("layout", "symbol"), INTERFACES)
def test_pickles_by_path_for_process_pools(lib, layout, symbol):
    me = CompiledMatrixElement(lib, 4, symbol=symbol, layout=layout)
    clone = pickle.loads(pickle.dumps(me))
    p = momenta(50)
    np.testing.assert_array_equal(clone(p), me(p))


def test_missing_library_names_the_path(tmp_path):
    with pytest.raises(ConfigError, match=r"library='.*nowhere\.so' does not exist"):
        mli.processes.from_library(tmp_path / "nowhere.so", **MASSLESS)


def test_a_file_that_is_not_a_library_is_refused(tmp_path):
    fake = tmp_path / "libfake.so"
    fake.write_text("not an ELF file")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        mli.processes.from_library(fake, **MASSLESS)


def test_missing_symbol_names_it_and_the_signature(lib):
    with pytest.raises(ConfigError, match=r"symbol='me_typo' is not exported .*int64_t n"):
        mli.processes.from_library(lib, symbol="me_typo", **MASSLESS)
    with pytest.raises(ConfigError, match="nope_initialize"):
        mli.processes.from_library(lib, symbol="nope", layout="umami", **MASSLESS)


def test_wrong_particle_count_is_caught(lib):
    three_body = {**MASSLESS, "outgoing_masses": (0.0, 0.0, 0.0)}
    with pytest.raises(ConfigError, match="4 external particles but the process has n_part"):
        mli.processes.from_library(lib, layout="umami", **three_body)
    with pytest.raises(ConfigError, match="n_particles=4 but incoming and outgoing_masses list 5"):
        mli.processes.from_library(lib, symbol="ee_mumu_events", n_particles=4, **three_body)
    me = CompiledMatrixElement(lib, 4, symbol="ee_mumu_events")
    with pytest.raises(IntegrandError, match=r"shape \(3, 5, 4\) but the library takes"):
        me(np.zeros((3, 5, 4)))


def test_nan_from_the_library_is_an_integrand_error(lib):
    process = mli.processes.from_library(lib, symbol="ee_mumu_nan", **MASSLESS)
    integ = mli.Integrator(mli.backends.Uniform(dim=process.dim), rng=1, progress=False)
    with pytest.raises(IntegrandError, match=r"ee_mumu_nan returned NaN .* for 50 of 100 events"):
        integ.integrate(process, calls=100)


def test_bad_options_are_refused(lib):
    with pytest.raises(ConfigError, match="layout='soa' is unknown"):
        CompiledMatrixElement(lib, 4, layout="soa")
    with pytest.raises(ConfigError, match="UMAMI inputs"):
        CompiledMatrixElement(lib, 4, symbol="ee_mumu_events", alpha_s=0.118)
    with pytest.raises(IntegrandError, match="UMAMI_ERROR_UNSUPPORTED_INPUT"):
        CompiledMatrixElement(lib, 4, layout="umami", flavor_index=0)(momenta(4))


def test_the_example_integrates_both_interfaces(lib, capsys):
    import runpy

    ns = runpy.run_path(str(ROOT / "examples" / "compiled_matrix_element.py"), run_name="ex")
    results = ns["main"](lib)
    exact = ee.sigma_mumu(91.2)
    for result in results.values():
        assert abs(result.mean - exact) < 5 * result.sdev and result.sdev / exact < 1e-3
    assert "layout=umami" in capsys.readouterr().out


def test_batch_innermost_is_the_transpose_at_every_block_edge():
    from mlintegrate.processes.compiled import batch_innermost

    p = np.random.default_rng(3).random((10, 5, 4))
    for block in (1, 3, 10, 64):
        out = batch_innermost(p, block=block)
        assert out.flags.c_contiguous and out.shape == (4, 5, 10)
        np.testing.assert_array_equal(out, p.transpose(2, 1, 0))


GPU_UMAMI = """
int umami_get_meta(int key, void *result) { *(int *)result = key == 0 ? 1 : 4; return 0; }
int umami_initialize(void **h, const char *card) { (void)card; *h = (void *)1; return 0; }
int umami_matrix_element(void) { return 1; }
int umami_free(void *h) { (void)h; return 0; }
"""


def test_a_gpu_umami_library_is_refused_before_any_call(lib, tmp_path):
    source = tmp_path / "gpu.c"
    source.write_text(GPU_UMAMI)
    out = tmp_path / "libgpu.so"
    cc = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(out), str(source)], check=True)
    with pytest.raises(ConfigError, match="evaluates on CUDA .* build the library for the CPU"):
        mli.processes.from_library(out, layout="umami", **MASSLESS)
