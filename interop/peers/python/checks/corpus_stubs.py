"""The corpus.echo stubs for the peer checks, generated at run time.

load() runs grpcio-tools' protoc over testdata/protos/corpus/echo.proto into a
fresh folder under <repo>/.cache (its own, so checks running side by side never
share or race on one), imports the modules and removes the folder (the modules
stay loaded, and a check the test kills leaves nothing behind); it returns
(echo_pb2, echo_pb2_grpc).
"""

import importlib
import os
import shutil
import sys
import tempfile

REPO = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
)
PROTOS = os.path.join(REPO, "testdata", "protos")


def load():
    from grpc_tools import protoc

    cache = os.path.join(REPO, ".cache")
    os.makedirs(cache, exist_ok=True)
    out = tempfile.mkdtemp(prefix="python-corpus-", dir=cache)
    try:
        return _generate_and_import(protoc, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if out in sys.path:
            sys.path.remove(out)


def _generate_and_import(protoc, out):
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTOS}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            os.path.join(PROTOS, "corpus", "echo.proto"),
        ]
    )
    if code != 0:
        sys.exit(f"grpc_tools.protoc failed ({code}) on corpus/echo.proto")
    sys.path.insert(0, out)
    echo_pb2 = importlib.import_module("corpus.echo_pb2")
    echo_pb2_grpc = importlib.import_module("corpus.echo_pb2_grpc")
    return echo_pb2, echo_pb2_grpc


def say(*words):
    """One line on stdout, flushed at once: the Rust test reads line by line."""
    print(*words, flush=True)
