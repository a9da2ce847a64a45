"""Run a reference script in a fork of a Python that has already imported torch and transformers.

Importing torch, transformers and TransformerLens takes 4-6 s, longer than most oracle checks on
the tiny models; ctest runs ~140 of them. Run through this, each check is a fork of one warm
process instead of a fresh interpreter: the script itself runs unchanged, from its own file, with
its own argv, environment, working directory and standard streams.

    python forkserver.py --socket PATH --run SCRIPT [ARGS...]

The first caller starts the server (serialised by a lock file next to the socket); it stops by
itself after --idle seconds without a request. If the server cannot be reached or started, the
script runs directly in this interpreter instead, as it would without this wrapper, so the
wrapper can slow a check down but never change what it checks.

A client that dies (a ctest timeout) closes its connection; the server then kills the script's
whole process group, so nothing it started outlives it.
"""
import argparse
import array
import fcntl
import json
import os
import runpy
import selectors
import signal
import socket
import subprocess
import sys
import time

PRELOAD = ("numpy", "torch", "safetensors", "gguf", "transformers", "transformer_lens")


def serve(path, idle_seconds):
    import importlib
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as error:  # the venv without TransformerLens still serves the rest
            print(f"forkserver: not preloaded: {name}: {error}", flush=True)
    from transformers import AutoModelForCausalLM  # noqa: F401  (the lazy part of the import)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{path}.{os.getpid()}"
    listener.bind(tmp)
    listener.listen(64)
    os.replace(tmp, path)  # clients see the socket only once it accepts
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    children = {}  # connection -> pid
    last_active = time.monotonic()
    while True:
        for key, _ in selector.select(timeout=0.05):
            if key.fileobj is listener:
                connection, _ = listener.accept()
                pid = start_child(connection, [listener, selector, *children])
                if pid is None:
                    connection.close()
                    continue
                children[connection] = pid
                selector.register(connection, selectors.EVENT_READ)
            else:  # the client sends nothing more: readable means it went away
                kill_group(children[key.fileobj])
        for connection, pid in list(children.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
            code = os.waitstatus_to_exitcode(status)
            try:
                connection.sendall(json.dumps({"exit": code}).encode() + b"\n")
            except OSError:
                pass
            selector.unregister(connection)
            connection.close()
            del children[connection]
        if children:
            last_active = time.monotonic()
        elif time.monotonic() - last_active > idle_seconds:
            if os.path.exists(path):
                os.unlink(path)
            return


def kill_group(pid):
    for kill in (os.killpg, os.kill):  # os.kill: the child may not have made its group yet
        try:
            kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_child(connection, server_files):
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    if len(fds) != 3:
        return None
    request = json.loads(message)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    code = 1
    try:
        os.setpgid(0, 0)
        for server_file in server_files:
            server_file.close()
        connection.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        code = run_script(request["argv"])
        import atexit
        atexit._run_exitfuncs()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def run_script(argv):
    """Run argv[0] as __main__ and return its exit code, as the interpreter would."""
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as stop:
        if stop.code is None:
            return 0
        if isinstance(stop.code, int):
            return stop.code
        print(stop.code, file=sys.stderr)
        return 1
    except BaseException:
        import traceback
        traceback.print_exc()
        return 1
    return 0


def connect(path):
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(path)
        return client
    except OSError:
        client.close()
        return None


def connect_or_start(path, idle_seconds):
    client = connect(path)
    if client:
        return client
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        client = connect(path)
        if client:
            return client
        if os.path.exists(path):
            os.unlink(path)  # left by a server that was killed
        log = open(f"{path}.log", "a")
        server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--socket", path, "--serve",
                                   "--idle", str(idle_seconds)],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            client = connect(path)
            if client:
                return client
            time.sleep(0.1)
        print(f"forkserver: the server did not start (see {path}.log); running directly", file=sys.stderr)
        return None


def run_via_server(path, idle_seconds, argv):
    client = connect_or_start(path, idle_seconds)
    if client is None:
        return None
    request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
    socket.send_fds(client, [json.dumps(request).encode()], [0, 1, 2])
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = client.recv(4096)
        if not chunk:
            print("forkserver: the server went away; running directly", file=sys.stderr)
            return None
        reply += chunk
    code = json.loads(reply)["exit"]
    return 128 - code if code < 0 else code  # killed by signal N: the shell's 128 + N


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--idle", type=float, default=300)
    parser.add_argument("--serve", action="store_true", help="be the server (started by the first client)")
    parser.add_argument("--run", nargs=argparse.REMAINDER, help="SCRIPT [ARGS...]")
    args = parser.parse_args()
    if args.serve:
        serve(args.socket, args.idle)
        return 0
    if not args.run:
        parser.error("--run SCRIPT [ARGS...] is needed")
    code = run_via_server(args.socket, args.idle, args.run)
    if code is None:
        return run_script(args.run)
    return code


if __name__ == "__main__":
    sys.exit(main())
