"""Parallel evaluation: the numbers never depend on the number or kind of workers.

Serial, a 2-process pool and a local 2-worker Dask cluster (127.0.0.1 only) must give
bit-identical σ, δσ, χ² and training state for the same seed; a Dask worker killed mid-run
must not change them either. The pool and the cluster are started once per module.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import mlintegrate as mli
from mlintegrate import cli
from mlintegrate import parallel as par
from mlintegrate.errors import ConfigError
from mlintegrate.parallel import ParallelError, ParallelIntegrand, open_executor, process_pool

QUICK_FLOW = {"bins": 8, "hidden": 16, "steps_per_batch": 5, "minibatch": 256}


# ------------------------------------------------------------------ module-level helpers
def mumu_me(p: np.ndarray) -> np.ndarray:
    """|M|² of e+e− → μ+μ− (photon) as a module-level function: a user Process that pickles."""
    cos = p[:, 2, 3] / np.linalg.norm(p[:, 2, 1:], axis=1)
    return 16.0 * math.pi**2 * mli.processes.ee.ALPHA**2 * (1.0 + cos**2)


def user_process(closure: bool) -> mli.processes.Process:
    if closure:
        scale = 1.0

        def me(p: np.ndarray) -> np.ndarray:  # a closure: the standard pickle refuses it
            return scale * mumu_me(p)

    else:
        me = mumu_me
    return mli.processes.Process(me, (0.0, 0.0), (0.0, 0.0), 91.2, name="my_mumu")


class KillWorkerOnce:
    """camel(d=2), but the first chunk evaluated kills its own worker process (SIGKILL)."""

    dim = 2
    name = "camel-kill-once"

    def __init__(self, marker: str):
        self.marker = marker
        self.f = mli.functions.get("camel", dim=2)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return self.f(u)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


# ------------------------------------------------------------------ fixtures
def _warm(executor) -> None:
    """Start the workers and import mlintegrate there, so the first test does not pay it."""
    ParallelIntegrand(mli.functions.get("camel", dim=2), executor, 1)(np.full((8, 2), 0.5))


@pytest.fixture(scope="module")
def pool():
    with process_pool(2) as executor:
        _warm(executor)
        yield executor


@contextlib.contextmanager
def _local_cluster(distributed):
    """A client of a 2-worker Dask cluster on the loopback address only (any free port)."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=50,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False, timeout=60) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed", reason="pip install 'mlintegrate[parallel]'")
    with _local_cluster(distributed) as client:
        _warm(client.get_executor())
        yield client


def _run(backend_factory, f, executor, train_calls, calls, chunk_size=par.DEFAULT_CHUNK_SIZE):
    integ = mli.Integrator(
        backend_factory(), rng=11, progress=False, executor=executor, chunk_size=chunk_size
    )
    integ.train(f, calls=train_calls)
    res = integ.integrate(f, calls=calls, iterations=3, batch_size=5000)
    return res, integ.backend.state_dict()


def _assert_identical(a, b) -> None:
    (ra, sa), (rb, sb) = a, b
    assert (ra.mean, ra.sdev, ra.chi2, ra.calls) == (rb.mean, rb.sdev, rb.chi2, rb.calls)
    assert [(e.mean, e.sdev) for e in ra.iterations] == [(e.mean, e.sdev) for e in rb.iterations]
    assert sa.keys() == sb.keys()
    for key in sa:
        assert np.array_equal(np.asarray(sa[key]), np.asarray(sb[key])), key


# ------------------------------------------------------------------ determinism
def test_vegas_bit_identical_serial_pool_dask(pool, dask_client):
    f = mli.functions.get("camel", dim=3)
    make = lambda: mli.backends.Vegas(dim=3)  # noqa: E731
    serial = _run(make, f, None, 12_000, 12_000)
    # chunks of 1000 points: several tasks per batch, so the workers really share the work
    _assert_identical(serial, _run(make, f, pool, 12_000, 12_000, chunk_size=1000))
    _assert_identical(serial, _run(make, f, dask_client.get_executor(), 12_000, 12_000, 1000))
    assert abs(serial[0].mean - f.exact) < 5 * serial[0].sdev


def test_flow_bit_identical_serial_pool_dask(pool, dask_client):
    f = mli.functions.get("camel", dim=2)
    make = lambda: mli.backends.Flow(2, **QUICK_FLOW)  # noqa: E731
    serial = _run(make, f, None, 4_000, 6_000)
    _assert_identical(serial, _run(make, f, pool, 4_000, 6_000, chunk_size=700))
    _assert_identical(serial, _run(make, f, dask_client.get_executor(), 4_000, 6_000, 700))


def test_builtin_process_in_a_pool_is_identical(pool):
    """ee_qqg (closures inside) travels by its recipe; numba phase space runs on the worker."""
    f = mli.processes.get("ee_qqg")
    make = lambda: mli.backends.Vegas(dim=f.dim)  # noqa: E731
    _assert_identical(_run(make, f, None, 6_000, 6_000), _run(make, f, pool, 6_000, 6_000))


def test_events_identical_with_a_pool(pool):
    f = mli.processes.get("ee_mumu")

    def events(executor):
        integ = mli.Integrator(mli.backends.Vegas(dim=f.dim), rng=4, progress=False)
        integ.executor = executor  # as the command line sets it on a loaded integrator
        integ.chunk_size = 900
        return integ.generate(f, 300, pilot_calls=3_000, batch_size=2_000)

    a, b = events(None), events(pool)
    assert (a.cross_section, a.error, a.w_max, a.calls) == (
        b.cross_section,
        b.error,
        b.w_max,
        b.calls,
    )
    assert np.array_equal(a.u, b.u) and np.array_equal(a.momenta, b.momenta)
    assert np.array_equal(a.pdg_ids, b.pdg_ids)


def test_chunks_reduced_in_submission_order_not_completion_order():
    """Early chunks finish last here; the values must still come back in the points' order."""
    finished: list[float] = []
    lock = threading.Lock()

    def slow_first(u: np.ndarray) -> np.ndarray:
        time.sleep(0.2 if u[0, 0] < 0.3 else 0.0)
        with lock:
            finished.append(float(u[0, 0]))
        return u[:, 0] * 2.0

    u = np.linspace(0.0, 1.0, 100).reshape(-1, 1)
    with ThreadPoolExecutor(4) as threads:
        values = ParallelIntegrand(slow_first, threads, chunk_size=10)(u)
    assert np.array_equal(values, u[:, 0] * 2.0)
    assert finished != sorted(finished)  # they did complete out of order
    assert len(finished) == 10


def test_wrapper_shows_the_integrands_attributes():
    f = mli.processes.get("ee_qqg")
    with ThreadPoolExecutor(1) as threads:
        w = ParallelIntegrand(f, threads, chunk_size=64)
        assert (w.dim, w.name, w.exact, w.unit) == (f.dim, f.name, f.exact, f.unit)
        assert w.particles is f.particles and hasattr(w, "momenta")
        assert not hasattr(ParallelIntegrand(lambda u: u[:, 0], threads), "momenta")
        info = mli.integrand.integrand_info(w)
        assert (info.name, info.exact) == ("ee_qqg", f.exact)


# ------------------------------------------------------------------ Dask: lost workers
@pytest.mark.slow
def test_dask_reruns_the_tasks_of_a_killed_worker(tmp_path):
    distributed = pytest.importorskip("distributed", reason="pip install 'mlintegrate[parallel]'")
    marker = tmp_path / "killed"
    f = mli.functions.get("camel", dim=2)
    killer = KillWorkerOnce(str(marker))
    make = lambda: mli.backends.Vegas(dim=2)  # noqa: E731
    serial = _run(make, f, None, 4_000, 4_000, chunk_size=500)
    with _local_cluster(distributed) as client:
        pids_before = set(client.run(os.getpid).values())
        killed = _run(make, killer, client.get_executor(), 4_000, 4_000, chunk_size=500)
        pids_after = set(client.run(os.getpid).values())
    assert marker.exists()
    dead = int(marker.read_text())
    assert dead in pids_before and dead not in pids_after  # a worker really died mid-run
    _assert_identical(serial, killed)


# ------------------------------------------------------------------ pickling
@pytest.mark.parametrize("name", mli.processes.names())
def test_builtins_pickle_by_recipe(name):
    f = mli.processes.get(name)
    data = pickle.dumps(f)
    assert len(data) < 500  # the recipe, not the state
    g = pickle.loads(data)
    u = np.random.default_rng(2).random((500, f.dim))
    assert np.array_equal(f(u), g(u)) and g.exact == f.exact and g.name == f.name


def test_options_travel_with_the_recipe():
    f = mli.processes.get("ee_qqg", y_cut=0.02, phase_space="dalitz")
    g = pickle.loads(pickle.dumps(f))
    assert g.exact == f.exact != mli.processes.get("ee_qqg").exact
    u = np.random.default_rng(3).random((300, f.dim))
    assert np.array_equal(f(u), g(u))
    c = pickle.loads(pickle.dumps(mli.functions.get("camel", dim=5, sigma=0.2)))
    assert (c.dim, c.exact) == (5, mli.functions.get("camel", dim=5, sigma=0.2).exact)


def test_changed_builtin_process_pickles_its_state_not_the_recipe():
    f = mli.processes.get("ee_mumu")
    f.sqrt_s = 10.0  # a change the recipe would lose: pickling must not use it
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(f)


def test_user_process_with_module_level_functions_runs_in_a_pool(pool):
    f = user_process(closure=False)
    make = lambda: mli.backends.Vegas(dim=f.dim)  # noqa: E731
    _assert_identical(_run(make, f, None, 3_000, 3_000), _run(make, f, pool, 3_000, 3_000, 1000))


def test_user_process_with_a_closure_gives_a_one_line_error_naming_the_fix():
    f = user_process(closure=True)
    with process_pool(1) as one:  # no worker starts: the check is made before any task
        with pytest.raises(ParallelError) as info:
            mli.Integrator(mli.backends.Vegas(dim=f.dim), rng=0, executor=one).integrate(f, 100)
    text = str(info.value)
    assert "\n" not in text and "'my_mumu'" in text and "ProcessPoolExecutor" in text
    assert "module-level" in text and "Dask" in text


def test_dask_sends_a_closure_with_cloudpickle(dask_client):
    f = user_process(closure=True)
    make = lambda: mli.backends.Vegas(dim=f.dim)  # noqa: E731
    serial = _run(make, f, None, 3_000, 3_000)
    _assert_identical(serial, _run(make, f, dask_client.get_executor(), 3_000, 3_000, 1000))


# ------------------------------------------------------------------ bad input
def test_bad_settings_are_one_line_config_errors():
    b = mli.backends.Vegas(dim=2)
    with pytest.raises(ConfigError, match="chunk_size"):
        mli.Integrator(b, chunk_size=0)
    with pytest.raises(ConfigError, match="concurrent.futures.Executor"):
        mli.Integrator(b, executor="dask")
    with pytest.raises(ConfigError, match="workers"):
        process_pool(0)
    with pytest.raises(ConfigError, match="pick one"):
        with open_executor(workers=2, dask="tcp://127.0.0.1:8786"):
            pass


def test_unreachable_scheduler_is_a_one_line_error(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(par, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(ConfigError, match=r"--dask tcp://127.0.0.1:9: cannot reach"):
        with open_executor(dask="tcp://127.0.0.1:9"):
            pass


# ------------------------------------------------------------------ command line
def test_cli_workers_give_the_same_integral_to_the_last_digit(tmp_path, capsys):
    import json

    p = tmp_path / "p.npz"
    base = ["integrate", "ee_qqg", "--seed", "6"]
    assert cli.main([*base, "--train-calls", "10000", "--calls", "1000", "--save", str(p)]) == 0
    common = ["integrate", "ee_qqg", "--load", str(p), "--calls", "10000", "--seed", "7"]
    common += ["--train-calls", "0"]
    assert cli.main([*common, "--json", str(tmp_path / "a.json")]) == 0
    assert cli.main([*common, "--workers", "2", "--json", str(tmp_path / "b.json")]) == 0
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    same = ("integral", "error", "chi2_dof", "Q", "efficiency", "w_max", "ess_fraction", "rsd")
    assert {k: a[k] for k in same} == {k: b[k] for k in same}
    assert a["calls_eval"] == b["calls_eval"] == 10000 and a["integral"] > 0


def test_cli_parallel_mistakes_are_one_line_errors(monkeypatch, capsys):
    monkeypatch.setattr(par, "CONNECT_TIMEOUT_S", 1.0)
    pytest.importorskip("distributed")
    args = ["integrate", "camel", "--train-calls", "0", "--calls", "100"]
    assert cli.main([*args, "--dask", "tcp://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mlintegrate: error: --dask tcp://127.0.0.1:9: cannot reach")
    assert err.count("\n") == 1 and "Traceback" not in err
    for extra in (["--workers", "0"], ["--workers", "2", "--dask", "tcp://127.0.0.1:9"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*args, *extra])
        assert exit_info.value.code in (1, 2)
    with pytest.raises(SystemExit):
        cli.main(["compare", "camel", "--workers", "2"])
    assert "compare runs serially" in capsys.readouterr().err


# ------------------------------------------------------------------ MPI
def test_mpi_pool_executor_is_an_executor():
    futures = pytest.importorskip(
        "mpi4py.futures", reason="mpi4py is not installed (pip install mpi4py + an MPI library)"
    )
    assert issubclass(futures.MPIPoolExecutor, par.Executor)


_MPI_SCRIPT = """
import sys
import mlintegrate as mli
from mpi4py.futures import MPIPoolExecutor

def run(executor):
    f = mli.processes.get("ee_mumu")
    integ = mli.Integrator(mli.backends.Vegas(dim=f.dim), rng=11, progress=False,
                           executor=executor, chunk_size=500)
    integ.train(f, calls=3000)
    res = integ.integrate(f, calls=3000)
    return res.mean, res.sdev

if __name__ == "__main__":
    with MPIPoolExecutor() as pool:
        parallel = run(pool)
    print(repr((parallel, run(None))))
"""


@pytest.mark.slow
def test_mpi_pool_executor_gives_the_serial_numbers(tmp_path):
    """``mpiexec -n 3 python -m mpi4py.futures script.py``: rank 0 drives, ranks 1-2 evaluate."""
    import ast
    import shutil
    import subprocess
    import sys

    pytest.importorskip("mpi4py.futures", reason="mpi4py is not installed (the 'mpi' extra)")
    bindir = os.path.dirname(sys.executable)
    mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=bindir)
    if mpiexec is None:
        pytest.skip("mpi4py is installed but no mpiexec is on PATH (install an MPI library)")
    script = tmp_path / "mpi_run.py"
    script.write_text(_MPI_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [mpiexec, "-n", "3", sys.executable, "-m", "mpi4py.futures", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    parallel, serial = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    assert parallel == serial


def test_compiled_process_runs_in_a_pool(pool, tmp_path):
    """A Process.from_library pickles by the library's path (no recipe needed) and gives the
    serial numbers in a process pool."""
    import shutil
    import subprocess
    from pathlib import Path

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc or gcc) on PATH")
    source = Path(__file__).resolve().parent.parent / "examples" / "c" / "ee_mumu_me.c"
    lib = tmp_path / "libee_mumu.so"
    cmd = [cc, "-O2", "-shared", "-fPIC", "-o", str(lib), str(source), "-lm"]
    subprocess.run(cmd, check=True, capture_output=True)
    f = mli.processes.Process.from_library(
        lib,
        symbol="ee_mumu_events",
        layout="events",
        incoming=(0.0, 0.0),
        outgoing_masses=(0.0, 0.0),
        sqrt_s=91.2,
    )
    make = lambda: mli.backends.Vegas(dim=f.dim)  # noqa: E731
    serial = _run(make, f, None, 3_000, 3_000)
    _assert_identical(serial, _run(make, f, pool, 3_000, 3_000, 1000))
    assert abs(serial[0].mean - mli.processes.ee.sigma_mumu(91.2)) < 5 * serial[0].sdev
