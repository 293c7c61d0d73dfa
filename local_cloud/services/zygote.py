"""Zygotes: long-lived, single-threaded interpreters that have imported the heavy modules
once, and fork the local cloud's Python processes from there instead of spawning them.

Why: a spawn child is a fresh interpreter that imports everything again: about 1.2 CPU-s
of moto and its server before an emulation serves, boto3 and the runner's environments
module in every Lambda execution environment. A fork of an interpreter that has them
already costs a few milliseconds.

Why not multiprocessing's forkserver context: it is one server per process with one
preload list, so the emulation's moto (flask, requests, pydantic, yaml and some fifty
other top-level packages) would sit in every function's environment, and every function
that bundles one of them would have to be spawned; in 3.11 it preloads with the default
sys.path (the working directory), not the parent's; each child re-runs the parent's
``__main__`` script (pytest's, a script's) unless that is preloaded into the server too;
and it keeps the environment it started with. So this is a small server of the same shape
(started by exec, forks on request, reports exit codes over a pipe, gets the parent's
pipes with SCM_RIGHTS), one per kind of process, keyed on what its imports depend on.

A forked child starts as a spawn child would: the parent's *current* os.environ, sys.path,
sys.argv, working directory, stdout and stderr (not the zygote's); default SIGINT and
SIGCHLD handlers; its own state of ``random`` (CPython reseeds it after a fork; any other
generator seeded at import is the caller's to reseed). It ends as one too: the target's
SystemExit code, or 1 and a traceback, after non-daemon threads and atexit handlers. Only
Connections among the arguments are passed as file descriptors; everything else is pickled.

It is the zygote's child, not the parent's: its handle (``ZygoteChild``) reads the pid and
the exit code from the zygote and signals the pid only while no exit code has come, so a
reused pid is never hit. The zygote imports under the os.environ and sys.path the parent
had when it started it; when either has changed since (pytest's ``PYTEST_CURRENT_TEST``
aside), the next start gets a new zygote and the old one exits after its last child. When
the parent goes away the zygote gives its children a moment to exit on their own, then
terminates them, then exits; at a normal exit the parent terminates them first (they are
daemonic, as the spawn children were). ``LOCAL_ZYGOTE=0``, or a platform without fork
(Windows), spawns every process as before.

This module is imported by the zygote before anything else: keep it to the standard library.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import io
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.spawn
import os
import pickle
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger("local_cloud")

ENABLE_ENV = "LOCAL_ZYGOTE"  # "0": spawn every process, as before zygotes
READY_TIMEOUT_S = 120.0  # the preload of a busy machine's first zygote
FORK_TIMEOUT_S = 30.0
# Variables that change while a process runs but that no import reads: a change in them
# does not need a new zygote (pytest rewrites this one at every phase of every test).
VOLATILE_ENV = frozenset({"PYTEST_CURRENT_TEST"})
GRACE_S = 2.0  # when the parent has gone: how long children get to exit on their own
_NUMBER = struct.Struct("q")
_MAX_FDS = 16


class ZygoteError(RuntimeError):
    """The zygote could not start or fork; the caller spawns instead."""


class ChildProcess(Protocol):
    """What the local cloud uses of a child process (a spawn Process or a ZygoteChild)."""

    @property
    def pid(self) -> int | None: ...

    @property
    def exitcode(self) -> int | None: ...

    def is_alive(self) -> bool: ...

    def join(self, timeout: float | None = None) -> None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


# --------------------------------------------------------------------------------------
# Zygote side (runs in the zygote and, after the fork, in the child)
# --------------------------------------------------------------------------------------
def _main(control_fd: int, preload: list[str]) -> None:  # pragma: no cover - the zygote
    """The zygote's entry point; in a forked child it runs the child and exits with it."""
    job = _serve(control_fd, preload)
    if job is not None:
        sys.exit(_run_child(*job))


def _preloaded() -> list[str]:
    """The non-standard-library top-level modules this interpreter has imported."""
    names = {name.partition(".")[0] for name in list(sys.modules)}
    return sorted(n for n in names - set(sys.stdlib_module_names) if not n.startswith("__"))


def _serve(
    control_fd: int, preload: list[str]
) -> tuple[list[int], bytes] | None:  # pragma: no cover - the zygote
    """Import the preload, then fork a child per request; returns (fds, request) in a
    child, None when the zygote should exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group: the parent decides
    control = socket.socket(fileno=control_fd)
    if not _preload(control, preload):
        return None  # forking a threaded process is not safe: the parent spawns instead
    return _fork_on_request(control)


def _preload(control: socket.socket, preload: list[str]) -> bool:  # pragma: no cover
    """Import the modules, tell the parent what is there; False if it cannot fork."""
    failed: dict[str, str] = {}
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a module not preloaded is imported by the child
            failed[name] = f"{type(exc).__name__}: {exc}"
    # what the imports left behind goes now; the rest lives as long as any child anyway,
    # so the children's collections need not scan it again (nor copy its pages)
    gc.collect()
    gc.freeze()
    threads = threading.active_count()
    ready = {"preloaded": _preloaded(), "failed": failed, "threads": threads}
    _send_message(control, pickle.dumps(ready))
    return threads == 1


def _fork_on_request(
    control: socket.socket,
) -> tuple[list[int], bytes] | None:  # pragma: no cover - the zygote
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)  # wakes the selector
    children: dict[int, int] = {}  # pid -> the write end of its status pipe
    retiring = False
    with selectors.DefaultSelector() as selector:
        selector.register(control, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        while not (retiring and not children):
            events = {key.fileobj for key, _ in selector.select()}
            if wake_r in events:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_r, 512):
                        pass
                _reap(children)
            if control not in events:
                continue
            try:
                fds, request = _receive_request(control)
            except EOFError:
                selector.unregister(control)
                if not retiring:  # the parent has gone
                    _end_children(children)
                    return None
                continue
            if not request:  # retire: exit after the last child
                retiring = True
            elif _fork(fds, children) == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                for fd in (wake_r, wake_w, fds[0], *children.values()):
                    os.close(fd)
                control.close()
                return fds[1:], request
    return None


def _fork(fds: list[int], children: dict[int, int]) -> int | None:  # pragma: no cover
    """Fork; in the zygote, hand the pid to the parent (None: no fork, no pid sent)."""
    status_w, *passed = fds
    try:
        pid = os.fork()
    except OSError:
        for fd in fds:
            os.close(fd)  # the parent reads no pid and spawns instead
        return None
    if pid:
        children[pid] = status_w
        _write_number(status_w, pid)
        for fd in passed:
            os.close(fd)
    return pid


def _reap(children: dict[int, int]) -> None:  # pragma: no cover - the zygote
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status_w = children.pop(pid, None)
        if status_w is not None:
            _write_number(status_w, os.waitstatus_to_exitcode(status))
            os.close(status_w)


def _end_children(children: dict[int, int]) -> None:  # pragma: no cover - the zygote
    """The parent has gone: what its children do not end on their own is ended."""
    for sig, wait_s in ((0, GRACE_S), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        for pid in list(children) if sig else ():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while children and time.monotonic() < deadline:
            _reap(children)
            time.sleep(0.02)


def _run_child(fds: list[int], request: bytes) -> int:  # pragma: no cover - forked child
    """Become what a spawn child would have been, then run the target; its exit code."""
    out, err, *passed = fds
    for fd, target in ((out, 1), (err, 2)):
        if fd != target:
            os.dup2(fd, target)
            os.close(fd)
    if isinstance(sys.stdout, io.TextIOWrapper) and not sys.stdout.write_through:
        sys.stdout.reconfigure(line_buffering=os.isatty(1))  # as at an interpreter's start
    state = pickle.loads(request)  # noqa: S301 - from the parent, over its own socketpair
    os.chdir(state["cwd"])
    sys.path[:] = state["sys_path"]
    sys.argv[:] = state["argv"]
    os.environ.clear()
    os.environ.update(state["environ"])
    # as multiprocessing names its children; daemonic: no processes of its own, as before
    multiprocessing.current_process().name = state["name"]
    multiprocessing.current_process().daemon = True
    try:
        # unpickled here, after sys.path, so the target's module is found as spawn finds it
        target, args = _Unpickler(io.BytesIO(state["call"]), passed).load()
        target(*args)
        code = 0
    except SystemExit as exc:  # as multiprocessing's children do
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            sys.stderr.write(f"{exc.code}\n")
            code = 1
    except BaseException:
        sys.stderr.write(f"Process {state['name']}:\n")
        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    return code


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, fds: list[int]) -> None:
        super().__init__(file)
        self._fds = fds

    def persistent_load(self, pid: Any) -> Any:
        _, index, readable, writable = pid
        return multiprocessing.connection.Connection(self._fds[index], readable, writable)


# --------------------------------------------------------------------------------------
# Wire: a length, then that many bytes (file descriptors ride on the length)
# --------------------------------------------------------------------------------------
def _write_number(fd: int, number: int) -> None:
    with contextlib.suppress(OSError):  # the reader has gone
        os.write(fd, _NUMBER.pack(number))


def _read_number(fd: int) -> int | None:
    data = b""
    while len(data) < _NUMBER.size:
        chunk = os.read(fd, _NUMBER.size - len(data))
        if not chunk:
            return None
        data += chunk
    value: int = _NUMBER.unpack(data)[0]
    return value


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


def _send_message(sock: socket.socket, data: bytes, fds: Sequence[int] = ()) -> None:
    if fds:
        socket.send_fds(sock, [_NUMBER.pack(len(data))], list(fds))
        sock.sendall(data)
    else:
        sock.sendall(_NUMBER.pack(len(data)) + data)


def _receive_request(sock: socket.socket) -> tuple[list[int], bytes]:
    header, fds, _, _ = socket.recv_fds(sock, _NUMBER.size, _MAX_FDS)
    if not header:
        raise EOFError
    header += _receive_exactly(sock, _NUMBER.size - len(header))
    (size,) = _NUMBER.unpack(header)
    return fds, _receive_exactly(sock, size)


# --------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------
class _Pickler(pickle.Pickler):
    """Pickles a call; the Connections in it travel as file descriptors."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.connections: list[multiprocessing.connection.Connection] = []

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, multiprocessing.connection.Connection):
            self.connections.append(obj)
            return ("connection", len(self.connections) - 1, obj.readable, obj.writable)
        return None


_children: weakref.WeakSet[ZygoteChild] = weakref.WeakSet()


class ZygoteChild:
    """A process forked by a zygote, with the part of multiprocessing.Process's interface
    the local cloud uses. Daemonic: terminated at the parent's normal exit."""

    daemon = True

    def __init__(self, pid: int, name: str, status_r: int) -> None:
        self._pid = pid
        self.name = name
        self._status_r = status_r
        self._exitcode: int | None = None
        self._lock = threading.Lock()
        self._closer = weakref.finalize(self, os.close, status_r)
        _children.add(self)

    def __repr__(self) -> str:
        return f"<ZygoteChild {self.name} pid={self._pid} exitcode={self._exitcode}>"

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def exitcode(self) -> int | None:
        return self._poll()

    def is_alive(self) -> bool:
        return self._poll() is None

    def join(self, timeout: float | None = None) -> None:
        if self._poll() is None:
            with contextlib.suppress(OSError, ValueError):  # closed by another thread's poll
                multiprocessing.connection.wait([self._status_r], timeout)
            self._poll()

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        with self._lock:
            if self._poll_locked() is None:  # the pid is still this process's
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, sig)

    def _poll(self) -> int | None:
        with self._lock:
            return self._poll_locked()

    def _poll_locked(self) -> int | None:
        if self._exitcode is None and multiprocessing.connection.wait([self._status_r], 0):
            code = _read_number(self._status_r)
            self._exitcode = 255 if code is None else code  # None: the zygote has gone
            self._closer()
        return self._exitcode


class Zygote:
    """One zygote process: started with what it preloads, forks children on request."""

    def __init__(self, name: str, preload: Sequence[str], sys_path: Sequence[str]) -> None:
        self.name = name
        self._lock = threading.Lock()
        ours, theirs = socket.socketpair()
        code = (
            f"import sys; sys.path[:] = {list(sys_path)!r}; "
            "from local_cloud.services.zygote import _main; "
            f"_main({theirs.fileno()}, {list(preload)!r})"
        )
        executable = multiprocessing.spawn.get_executable()
        # the interpreter's -X, -W, -O, -B... flags, as spawn passes them on
        flags: list[str] = getattr(subprocess, "_args_from_interpreter_flags", list)()
        try:
            self._process = subprocess.Popen(  # noqa: S603 - this interpreter, our module
                [executable, *flags, "-c", code],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self._socket = ours
        ours.settimeout(READY_TIMEOUT_S)
        try:
            header = _receive_exactly(ours, _NUMBER.size)
            ready = pickle.loads(  # noqa: S301 - from our zygote, over our own socketpair
                _receive_exactly(ours, _NUMBER.unpack(header)[0])
            )
        except (OSError, EOFError) as exc:
            self.close()
            raise ZygoteError(f"the {name} zygote did not start: {exc!r}") from exc
        ours.settimeout(None)
        if ready["threads"] != 1:
            self.close()
            raise ZygoteError(f"the {name} zygote's imports started threads: no fork")
        for module, error in ready["failed"].items():
            log.debug("%s zygote: %s not preloaded (%s)", name, module, error)
        self.preloaded: frozenset[str] = frozenset(ready["preloaded"])
        self.pid = self._process.pid

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def start(self, target: Callable[..., object], args: tuple[Any, ...], name: str) -> ZygoteChild:
        """Fork a child that runs target(*args) as a spawn child would."""
        call = io.BytesIO()
        pickler = _Pickler(call)
        pickler.dump((target, args))
        request = pickle.dumps(
            {
                "environ": dict(os.environ),
                "sys_path": list(sys.path),
                "argv": list(sys.argv),
                "cwd": os.getcwd(),
                "name": name,
                "call": call.getvalue(),
            },
            pickle.HIGHEST_PROTOCOL,
        )
        status_r, status_w = os.pipe()
        stdio = [_usable_or_null(fd) for fd in (1, 2)]
        fds = [status_w, *(fd for fd, _ in stdio), *(c.fileno() for c in pickler.connections)]
        try:
            with self._lock:
                _send_message(self._socket, request, fds)
        except OSError as exc:
            os.close(status_r)
            raise ZygoteError(f"the {self.name} zygote has gone: {exc!r}") from exc
        finally:
            os.close(status_w)
            for fd, opened in stdio:
                if opened:
                    os.close(fd)
        if not multiprocessing.connection.wait([status_r], FORK_TIMEOUT_S):
            os.close(status_r)
            raise ZygoteError(f"the {self.name} zygote did not fork in time")
        pid = _read_number(status_r)
        if pid is None:
            os.close(status_r)
            raise ZygoteError(f"the {self.name} zygote could not fork")
        return ZygoteChild(pid, name, status_r)

    def retire(self) -> None:
        """No more children from this zygote; it exits after its last one."""
        with self._lock, contextlib.suppress(OSError):
            _send_message(self._socket, b"")
        self._socket.close()

    def close(self) -> None:
        """Stop the zygote (its children, if any, are ended as when the parent goes)."""
        self._socket.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(GRACE_S + 15)


def _usable_or_null(fd: int) -> tuple[int, bool]:
    """fd itself, or /dev/null (opened here: True) when this process has it closed."""
    try:
        os.fstat(fd)
    except OSError:
        return os.open(os.devnull, os.O_RDWR), True
    return fd, False


_registry_lock = threading.Lock()
_zygotes: dict[str, tuple[tuple[Any, ...], Zygote]] = {}
_kind_locks: dict[str, threading.Lock] = {}
_failed: dict[str, tuple[Any, ...]] = {}
_retired: list[Zygote] = []


def enabled() -> bool:
    """Whether processes are forked from zygotes here (fork and SCM_RIGHTS; not disabled)."""
    return (
        hasattr(os, "fork")
        and hasattr(socket, "send_fds")
        and sys.platform != "win32"
        and os.environ.get(ENABLE_ENV, "1") != "0"
    )


def get_zygote(kind: str, preload: Sequence[str], sys_path: Sequence[str]) -> Zygote | None:
    """The running zygote of this kind, preloaded under the current os.environ and this
    sys_path; started (or replaced) when needed. None where zygotes are off or it could not
    start (then the caller spawns)."""
    if not enabled():
        return None
    environ = frozenset((k, v) for k, v in os.environ.items() if k not in VOLATILE_ENV)
    key = (tuple(preload), tuple(sys_path), environ)
    with _registry_lock:
        kind_lock = _kind_locks.setdefault(kind, threading.Lock())
        _retired[:] = [z for z in _retired if z.running]  # reaps those that have exited
    with kind_lock:
        known = _zygotes.get(kind)
        if known is not None and known[0] == key and known[1].running:
            return known[1]
        if _failed.get(kind) == key:
            return None
        if known is not None:
            known[1].retire()
            del _zygotes[kind]
            with _registry_lock:
                _retired.append(known[1])
        try:
            zygote = Zygote(kind, preload, sys_path)
        except (ZygoteError, OSError) as exc:
            log.warning("no %s zygote (%s): spawning instead", kind, exc)
            _failed[kind] = key
            return None
        _zygotes[kind] = (key, zygote)
        return zygote


def start_process(
    target: Callable[..., object],
    args: tuple[Any, ...],
    *,
    name: str,
    zygote: Zygote | None,
) -> ChildProcess:
    """target(*args) in a daemonic child process: forked from the zygote, or spawned."""
    if zygote is not None:
        try:
            return zygote.start(target, args, name)
        except ZygoteError as exc:
            log.warning("%s: spawning instead", exc)
    ctx = multiprocessing.get_context("spawn")
    process = ctx.Process(target=target, args=args, name=name, daemon=True)
    process.start()
    return process


@atexit.register
def _shutdown() -> None:
    """As multiprocessing does for daemonic children: terminate, join; then the zygotes."""
    children = list(_children)
    for child in children:
        child.terminate()
    for child in children:
        child.join()
    for _, zygote in list(_zygotes.values()):
        zygote.close()
    _zygotes.clear()
