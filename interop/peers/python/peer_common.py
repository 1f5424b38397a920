"""What the Python interop client and server share.

- load(): the grpc.testing stubs that grpcio-tools generated from interop/proto
  (install.sh writes them to <repo>/.cache/interop-python).
- The wire codec. Both peers tell C-core not to decompress messages
  ("grpc.per_message_decompression" = 0) and decode the bytes themselves, so
  they see, message by message, whether it arrived compressed: grpcio has no
  public API for the compressed flag of a received message, and the interop
  compression cases need it (the server's expect_compressed check, the
  client's check of response compression).
- Per-message compression on the client: grpcio can compress a whole call
  (compression=grpc.Compression.Gzip) but has no public switch to send one
  message of a compressed call uncompressed (the server has
  disable_next_message_compression()). enable_client_no_compress() adds one.
- Flag parsing in the style of the official harness (--use_tls=true).
"""

import argparse
import gzip
import os
import sys

import grpc

# gzip streams start with these two bytes. A serialized grpc.testing message
# never does: 0x1f would be the tag of field 3 with wire type 7, which does not
# exist. So the first two bytes tell a compressed message from a plain one.
GZIP_MAGIC = b"\x1f\x8b"

# Options for both the channel and the server: deliver messages as they came
# off the wire (still compressed) and offer only identity and gzip, the one
# algorithm the codec below undoes.
WIRE_OPTIONS = [
    ("grpc.per_message_decompression", 0),
    ("grpc.compression_enabled_algorithms_bitset", 0b101),  # identity | gzip
]

ZEROS = b"\x00"


def zeros(n):
    return ZEROS * n


def _default_generated_dir():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    return os.path.join(repo, ".cache", "interop-python")


class Protos:
    """The generated modules and what is derived from their descriptors."""

    def __init__(self, empty_pb2, messages_pb2, test_pb2):
        self.empty_pb2 = empty_pb2
        self.messages_pb2 = messages_pb2
        self.test_pb2 = test_pb2
        self.TestService = test_pb2.DESCRIPTOR.services_by_name["TestService"]
        self.UnimplementedService = test_pb2.DESCRIPTOR.services_by_name["UnimplementedService"]

    def __getattr__(self, name):
        # Message and enum names: protos.SimpleRequest, protos.COMPRESSABLE, ...
        for module in (self.messages_pb2, self.empty_pb2):
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(name)


def load():
    """Imports the generated grpc.testing modules.

    The protos are package grpc.testing in files grpc/testing/*.proto, so the
    generated modules are grpc.testing.*_pb2, under the name of grpcio's own
    package. They are made importable by adding the generated grpc/ folder to
    that package's search path.
    """
    gen = os.environ.get("INTEROP_PYTHON_GENERATED") or _default_generated_dir()
    folder = os.path.join(gen, "grpc")
    if not os.path.isdir(os.path.join(folder, "testing")):
        sys.exit(f"no generated grpc.testing stubs in {gen}: run interop/peers/python/install.sh")
    if folder not in grpc.__path__:
        grpc.__path__.append(folder)
    from grpc.testing import empty_pb2, messages_pb2, test_pb2, test_pb2_grpc  # noqa: F401

    return Protos(empty_pb2, messages_pb2, test_pb2)


def message_class(descriptor):
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


class Received:
    """A decoded message and whether it came compressed off the wire."""

    __slots__ = ("message", "compressed")

    def __init__(self, message, compressed):
        self.message = message
        self.compressed = compressed


def decoder(cls):
    def decode(data):
        compressed = data[:2] == GZIP_MAGIC
        if compressed:
            data = gzip.decompress(data)
        return Received(cls.FromString(data), compressed)

    return decode


class NoCompress:
    """Wraps a request: send this one message uncompressed, even in a compressed call."""

    __slots__ = ("message",)

    def __init__(self, message):
        self.message = message


class _NoCompressBytes(bytes):
    """Serialized bytes that the send hook below sends with GRPC_WRITE_NO_COMPRESS."""


def encode(message):
    if isinstance(message, NoCompress):
        return _NoCompressBytes(message.message.SerializeToString())
    return message.SerializeToString()


class _SendHook:
    """Stands in for the cygrpc module inside grpc._channel and adds the
    no-compress write flag to the messages that encode() marked."""

    def __init__(self, cygrpc):
        self._cygrpc = cygrpc

    def __getattr__(self, name):
        return getattr(self._cygrpc, name)

    def SendMessageOperation(self, message, flags):  # noqa: N802 (the name it replaces)
        if isinstance(message, _NoCompressBytes):
            return self._cygrpc.SendMessageOperation(
                bytes(message), flags | self._cygrpc.WriteFlag.no_compress
            )
        return self._cygrpc.SendMessageOperation(message, flags)


def enable_client_no_compress():
    """Lets NoCompress(...) requests go out uncompressed in a compressed call.

    grpcio's synchronous client builds every send through
    grpc._channel.cygrpc.SendMessageOperation(bytes, flags) with flags 0; this
    puts a wrapper in front that sets cygrpc.WriteFlag.no_compress (C-core's
    GRPC_WRITE_NO_COMPRESS) for marked messages. It relies on grpcio
    internals: returns False, and the case that needs it fails saying so, if
    this grpcio is laid out differently.
    """
    try:
        import grpc._channel as channel_module

        cygrpc = channel_module.cygrpc
        if isinstance(cygrpc, _SendHook):
            return True
        cygrpc.WriteFlag.no_compress  # noqa: B018 (must exist)
        cygrpc.SendMessageOperation  # noqa: B018
    except (ImportError, AttributeError):
        return False
    channel_module.cygrpc = _SendHook(cygrpc)
    return True


def status_code(number):
    """grpc.StatusCode for a numeric code."""
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    return grpc.StatusCode.UNKNOWN


def parse_bool(text):
    lowered = str(text).lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_bool_flag(parser, name, help_text):
    """--name, --name=true, --name=false (the Go flag style of the harness)."""
    parser.add_argument(
        f"--{name}", type=parse_bool, nargs="?", const=True, default=False, help=help_text
    )
