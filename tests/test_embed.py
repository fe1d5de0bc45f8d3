"""The C interface (mlintegrate.h): its Python logic directly, then the built library from C and
Fortran (examples/c/ee_mumu_flow.c, examples/fortran/ee_mumu_flow.f90, tests/test_embed_harness.c).

The library is built once per session with ``python -m mlintegrate.embed.build``; the tests
that need it skip, saying why, without cffi, a C compiler or gfortran.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlintegrate.embed import api
from mlintegrate.embed.build import HEADER, cdef
from mlintegrate.processes import ee

ROOT = Path(__file__).resolve().parent.parent
VEGAS = json.dumps({"backend": "vegas", "dim": 3, "seed": 5})
SIGMA = re.compile(r"sigma = \s*([-\d.]+) \+- \s*([\d.]+) pb\s+exact = \s*([\d.]+) pb")


# ---------------------------------------------------------------- the logic, from Python
def peak(u: np.ndarray) -> np.ndarray:
    return np.exp(-np.sum((u - 0.5) ** 2, axis=1) / 0.02)


def ask_tell(handle: int, rounds: int = 3, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    dim = []
    assert api.dim(handle, dim) == api.OK
    u, q = np.empty((n, dim[0])), np.empty(n)
    for _ in range(rounds):
        assert api.sample(handle, u, q) == api.OK
        assert api.adapt(handle, u, q, peak(u)) == api.OK
    assert api.sample(handle, u, q) == api.OK
    return u.copy(), q.copy()


def test_header_codes_are_the_python_codes():
    defined = dict(re.findall(r"#define (MLI_\w+) (\d+)", HEADER.read_text()))
    assert {k: int(v) for k, v in defined.items()} == api.CODES


def test_header_declarations_parse_for_cffi():
    cffi = pytest.importorskip("cffi", reason="cffi is not installed (the embed extra)")
    cffi.FFI().cdef(cdef())  # raises on anything cffi cannot parse
    declared = set(re.findall(r"\b(mli_\w+)\(", cdef()))
    names = {"mli_open", "mli_dim", "mli_sample", "mli_adapt", "mli_density", "mli_save"}
    assert declared == names | {"mli_load", "mli_close", "mli_last_error"}


def test_same_seed_same_points_and_handles_are_independent():
    a, b = api.open_handle(VEGAS), api.open_handle(VEGAS)
    assert a > 0 and b > 0 and a != b
    ua, qa = ask_tell(a)
    ub, qb = ask_tell(b)
    np.testing.assert_array_equal(ua, ub)
    np.testing.assert_array_equal(qa, qb)
    other = api.open_handle(json.dumps({"backend": "vegas", "dim": 3, "seed": 6}))
    assert not np.array_equal(ask_tell(other)[0], ua)
    for h in (a, b, other):
        assert api.close(h) == api.OK


def test_density_is_the_sampling_density():
    h = api.open_handle(VEGAS)
    u, q = ask_tell(h)
    q2 = np.empty_like(q)
    assert api.density(h, u, q2) == api.OK
    np.testing.assert_allclose(q2, q, rtol=1e-12)
    api.close(h)


def test_save_and_load_continue_exactly(tmp_path):
    h = api.open_handle(VEGAS)
    ask_tell(h)
    assert api.save(h, str(tmp_path / "p.npz")) == api.OK
    after_save = ask_tell(h, rounds=1)
    restored = api.load(str(tmp_path / "p.npz"))
    assert restored > 0
    np.testing.assert_array_equal(ask_tell(restored, rounds=1)[0], after_save[0])


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ("{oops", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"backend": "vegas", "dim": 2, "sede": 1}', "unknown keys \\['sede'\\]"),
        ('{"backend": "magic", "dim": 2}', "unknown backend 'magic'"),
        ('{"backend": "vegas", "dim": -1}', '"dim" must be a positive integer, got -1'),
        ('{"backend": "vegas", "dim": 2, "seed": -3}', '"seed" must be an integer >= 0'),
        ('{"backend": "flow", "dim": 2, "settings": {"bins": 1}}', "bins"),
    ],
)
def test_bad_configs_return_0_and_a_message(config, match):
    assert api.open_handle(config) == 0
    assert re.search(match, api.last_error(0))


def test_errors_are_codes_with_one_line_messages(tmp_path):
    h = api.open_handle(VEGAS)
    u, q = np.random.default_rng(0).random((10, 3)), np.ones(10)
    f = np.ones(10)
    f[4] = np.nan
    assert api.adapt(h, u, q, f) == api.ERR_ARGUMENT
    assert "NaN" in api.last_error(h) and "\n" not in api.last_error(h)
    assert api.adapt(h, u[:, :2], q, np.ones(10)) == api.ERR_ARGUMENT
    assert "dimension 3" in api.last_error(h)
    assert api.sample(h + 999, u, q) == api.ERR_HANDLE
    assert f"handle {h + 999} is not open" in api.last_error(0)
    assert api.save(h, str(tmp_path / "file")) == api.OK
    assert api.save(h, str(tmp_path / "file" / "below.npz")) == api.ERR_IO
    assert "cannot write path=" in api.last_error(h)
    assert api.load(str(tmp_path / "missing.npz")) == 0
    assert "does not exist" in api.last_error(0)
    assert api.run(h, lambda integ: 1 / 0) == api.ERR_INTERNAL
    assert api.last_error(h).startswith("internal error (ZeroDivisionError")
    assert api.close(h) == api.OK and api.close(h) == api.ERR_HANDLE


def test_a_handle_used_by_two_threads_at_once_is_busy_not_corrupted():
    h = api.open_handle(VEGAS)
    session = api._sessions[h]
    with session.lock:  # another thread is inside a call on h
        assert api.sample(h, np.empty((5, 3)), np.empty(5)) == api.ERR_BUSY
        assert "one handle per thread" in api.last_error(h)
    assert api.sample(h, np.empty((5, 3)), np.empty(5)) == api.OK
    api.close(h)


# ---------------------------------------------------------------- the library, from C/Fortran
@pytest.fixture(scope="module")
def libdir(tmp_path_factory) -> Path:
    pytest.importorskip("cffi", reason="cffi is not installed (pip install 'mlintegrate[embed]')")
    if shutil.which("cc") is None:
        pytest.skip("no C compiler `cc` on PATH: libmlintegrate cannot be built")
    out = tmp_path_factory.mktemp("embed")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "mlintegrate.embed.build", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(done.stdout.strip()) == out / "libmlintegrate.so"
    return out


def compile_and_run(libdir: Path, compiler: str, sources: list[Path], *args: str) -> str:
    exe = libdir / sources[-1].stem
    flags = ["-O2", f"-I{libdir}", "-o", str(exe), *map(str, sources)]
    if compiler == "gfortran":
        flags = ["-O2", "-J", str(libdir), "-o", str(exe), *map(str, sources)]
    link = [f"-L{libdir}", "-lmlintegrate", f"-Wl,-rpath,{libdir}", "-lm", "-lpthread"]
    built = subprocess.run([compiler, *flags, *link], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    ran = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=120)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    return ran.stdout


def check_sigma(output: str) -> None:
    found = SIGMA.search(output)
    assert found, output
    mean, err, exact = map(float, found.groups())
    assert math.isclose(exact, ee.sigma_mumu(91.2), rel_tol=1e-6)
    assert abs(mean - exact) < 5 * err
    assert 0 < err / exact < 2e-3  # 20000 fresh points, rsd of the weights about 0.2


def test_c_harness_gets_every_error_as_a_code(libdir, tmp_path):
    out = compile_and_run(libdir, "cc", [ROOT / "tests" / "test_embed_harness.c"], str(tmp_path))
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    code = {name: int(rest.split(" | ")[0]) for name, rest in lines.items()}
    message = {name: rest.split(" | ", 1)[1] for name, rest in lines.items()}
    for name in ("open_bad_json", "open_unknown_backend", "open_bad_dim", "open_bad_setting"):
        assert code[name] == 0 and message[name], name  # mli_open returned 0, with a reason
    assert "unknown setting 'no_such_knob'" in message["open_bad_setting"]
    assert "config_json is NULL" in message["open_null"]
    assert code["dim"] == 3
    assert code["sample_bad_handle"] == api.ERR_HANDLE
    assert code["sample_null"] == api.ERR_ARGUMENT and "u_out is NULL" in message["sample_null"]
    assert code["sample_n0"] == api.ERR_ARGUMENT and "n=0" in message["sample_n0"]
    assert code["adapt_nan"] == api.ERR_ARGUMENT and "NaN" in message["adapt_nan"]
    assert code["adapt_q0"] == api.ERR_ARGUMENT and "q must be" in message["adapt_q0"]
    assert code["save_unwritable"] == api.ERR_IO and "cannot write" in message["save_unwritable"]
    assert code["save_null"] == api.ERR_ARGUMENT
    assert code["close_twice"] == api.ERR_HANDLE
    assert code["load_missing"] == 0 and "does not exist" in message["load_missing"]
    assert code["load_corrupt"] == 0 and "not a readable" in message["load_corrupt"]
    for name in ("open_ok", "sample_ok", "density_ok", "close_ok", "save_ok", "load_ok"):
        assert code[name] == api.OK, name
    assert code["reload_continues_identically"] == 0
    assert code["threads_match_sequential"] == 0


def test_c_example_trains_a_flow_and_reproduces_sigma(libdir, tmp_path):
    source = ROOT / "examples" / "c" / "ee_mumu_flow.c"
    out = compile_and_run(libdir, "cc", [source], str(tmp_path / "flow.npz"))
    assert "dim = 2" in out
    check_sigma(out)
    assert (tmp_path / "flow.npz").is_file()


def test_fortran_example_trains_a_flow_and_reproduces_sigma(libdir):
    if shutil.which("gfortran") is None:
        pytest.skip("gfortran is not installed (apt-get install gfortran): Fortran example")
    sources = [libdir / "mlintegrate.f90", ROOT / "examples" / "fortran" / "ee_mumu_flow.f90"]
    out = compile_and_run(libdir, "gfortran", sources)
    assert "dim = 2" in out
    check_sigma(out)
