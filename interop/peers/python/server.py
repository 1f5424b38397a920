#!/usr/bin/env python3
"""grpc.testing.TestService on Python grpcio: the interop matrix's Python server.

Flags follow the official interop harness:
  --port=N  --use_tls[=true|false]  --tls_cert_file=PEM  --tls_key_file=PEM
plus --host (default 127.0.0.1: the matrix binds loopback only).

It answers the official interop cases, compression included:
- expect_compressed (UnaryCall, StreamingInputCall): the request message must
  have arrived compressed (true) or uncompressed (false), else INVALID_ARGUMENT.
  Messages reach the handlers undecompressed (see peer_common), so this is
  checked on each message's own bytes, not guessed from call headers.
- response_compressed (UnaryCall) and ResponseParameters.compressed
  (StreamingOutputCall): the call is gzip-compressed and messages that must not
  be compressed go out after context.disable_next_message_compression().
- x-grpc-test-echo-initial / x-grpc-test-echo-trailing-bin are echoed as
  initial / trailing metadata (UnaryCall, FullDuplexCall).
- response_status makes the call end with that code and message.
- UnimplementedCall and grpc.testing.UnimplementedService are not served, so
  grpcio answers UNIMPLEMENTED.
"""

import argparse
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

import peer_common as common

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"


class TestService:
    def __init__(self, pb):
        self.pb = pb

    # -- helpers --------------------------------------------------------------

    def _payload(self, context, response_type, size):
        if response_type != self.pb.COMPRESSABLE:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported response_type {response_type}")
        if size < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"negative response size {size}")
        return self.pb.Payload(type=self.pb.COMPRESSABLE, body=common.zeros(size))

    @staticmethod
    def _echo_metadata(context):
        incoming = context.invocation_metadata()
        initial = [(k, v) for k, v in incoming if k == ECHO_INITIAL]
        trailing = [(k, v) for k, v in incoming if k == ECHO_TRAILING]
        if initial:
            context.send_initial_metadata(initial[:1])
        if trailing:
            context.set_trailing_metadata(trailing[:1])

    @staticmethod
    def _check_compression(context, message, received):
        if not message.HasField("expect_compressed"):
            return
        expected = message.expect_compressed.value
        if expected != received.compressed:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "expected a %s request message, got a %s one"
                % (
                    "compressed" if expected else "uncompressed",
                    "compressed" if received.compressed else "uncompressed",
                ),
            )

    @staticmethod
    def _maybe_fail(context, message):
        if message.HasField("response_status") and message.response_status.code != 0:
            context.abort(
                common.status_code(message.response_status.code),
                message.response_status.message,
            )

    # -- TestService ----------------------------------------------------------

    def EmptyCall(self, received, context):  # noqa: N802
        self._echo_metadata(context)
        return self.pb.Empty()

    def UnaryCall(self, received, context):  # noqa: N802
        request = received.message
        self._echo_metadata(context)
        self._check_compression(context, request, received)
        if request.HasField("response_compressed"):
            context.set_compression(
                grpc.Compression.Gzip
                if request.response_compressed.value
                else grpc.Compression.NoCompression
            )
        self._maybe_fail(context, request)
        return self.pb.SimpleResponse(
            payload=self._payload(context, request.response_type, request.response_size)
        )

    CacheableUnaryCall = UnaryCall

    def StreamingOutputCall(self, received, context):  # noqa: N802
        request = received.message
        params = list(request.response_parameters)
        compress_some = any(p.compressed.value for p in params)
        if compress_some:
            context.set_compression(grpc.Compression.Gzip)
        for p in params:
            if p.interval_us > 0:
                time.sleep(p.interval_us / 1e6)
            if compress_some and not p.compressed.value:
                context.disable_next_message_compression()
            yield self.pb.StreamingOutputCallResponse(
                payload=self._payload(context, request.response_type, p.size)
            )
        self._maybe_fail(context, request)

    def StreamingInputCall(self, requests, context):  # noqa: N802
        total = 0
        for received in requests:
            self._check_compression(context, received.message, received)
            total += len(received.message.payload.body)
        return self.pb.StreamingInputCallResponse(aggregated_payload_size=total)

    def _respond(self, context, request):
        for p in request.response_parameters:
            if p.interval_us > 0:
                time.sleep(p.interval_us / 1e6)
            yield self.pb.StreamingOutputCallResponse(
                payload=self._payload(context, request.response_type, p.size)
            )

    def FullDuplexCall(self, requests, context):  # noqa: N802
        self._echo_metadata(context)
        for received in requests:
            self._maybe_fail(context, received.message)
            yield from self._respond(context, received.message)

    def HalfDuplexCall(self, requests, context):  # noqa: N802
        buffered = [received.message for received in requests]
        for request in buffered:
            self._maybe_fail(context, request)
            yield from self._respond(context, request)


_HANDLER_KINDS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def service_handler(pb, servicer):
    """Method handlers for every TestService rpc that servicer implements, from
    the generated service descriptor, with the codec that keeps the per-message
    compressed flag (the generated add_TestServiceServicer_to_server would parse
    the bytes without it)."""
    service = pb.TestService
    handlers = {}
    for method in service.methods:
        impl = getattr(servicer, method.name, None)
        if impl is None:
            continue  # UnimplementedCall: grpcio answers UNIMPLEMENTED
        kind = _HANDLER_KINDS[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = kind(
            impl,
            request_deserializer=common.decoder(common.message_class(method.input_type)),
            response_serializer=common.encode,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    common.add_bool_flag(parser, "use_tls", "serve TLS with --tls_cert_file/--tls_key_file")
    parser.add_argument("--tls_cert_file", help="server certificate chain (PEM)")
    parser.add_argument("--tls_key_file", help="server private key (PEM)")
    args = parser.parse_args(argv)

    pb = common.load()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=common.WIRE_OPTIONS)
    server.add_generic_rpc_handlers((service_handler(pb, TestService(pb)),))

    host = f"[{args.host}]" if ":" in args.host else args.host
    address = f"{host}:{args.port}"
    if args.use_tls:
        if not (args.tls_cert_file and args.tls_key_file):
            parser.error("--use_tls needs --tls_cert_file and --tls_key_file")
        with open(args.tls_key_file, "rb") as f:
            key = f.read()
        with open(args.tls_cert_file, "rb") as f:
            cert = f.read()
        port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
    else:
        port = server.add_insecure_port(address)
    if not port:
        sys.exit(f"could not bind {address}")
    server.start()
    print(f"python interop server (grpcio {grpc.__version__}) listening on {host}:{port}"
          f"{' with TLS' if args.use_tls else ''}", flush=True)

    stopped = threading.Event()

    def stop(signum, frame):
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopped.wait(3600):
        pass
    server.stop(grace=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
