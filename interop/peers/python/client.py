#!/usr/bin/env python3
"""grpc.testing interop client on Python grpcio: the interop matrix's Python client.

Flags follow the official interop harness:
  --server_host=HOST --server_port=N --server_host_override=NAME
  --test_case=CASE[,CASE...] --use_tls[=true|false] --use_test_ca[=true|false]
  --ca_file=PEM
Each case prints "PASS <case>" or "FAIL <case>: <which check failed and why>".
Exit status: 0 when every requested case passed, 1 when one failed, 2 for a
usage error (an unknown case, for instance).

Sizes, metadata keys and status texts are those of the official interop test
descriptions. The compression cases check each message's compressed flag, on
requests (the server's expect_compressed answer) and on responses (this
client reads messages undecompressed, see peer_common).
"""

import argparse
import queue
import sys

import grpc

import peer_common as common

ECHO_INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
ECHO_TRAILING = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")
STATUS_MESSAGE = "test status message"
CALL_TIMEOUT = 20  # seconds, for every call whose case sets no deadline of its own
SPECIAL_STATUS_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"


class Failure(Exception):
    """A check of a case did not hold."""


def check(condition, what):
    if not condition:
        raise Failure(what)


def check_size(payload_holder, size, what):
    body = payload_holder.payload.body
    check(len(body) == size, f"{what}: payload body is {len(body)} bytes, want {size}")
    check(body == common.zeros(size), f"{what}: payload body is not all zeros")


def expect_error(code, call, what, details=None):
    """Runs call(); it must fail with code (and details, when given)."""
    try:
        call()
    except grpc.RpcError as e:
        check(e.code() == code, f"{what}: status {e.code().name} ({e.details()!r}), want {code.name}")
        if details is not None:
            check(e.details() == details, f"{what}: status message {e.details()!r}, want {details!r}")
        return e
    raise Failure(f"{what}: call succeeded, want status {code.name}")


class Pipe:
    """A request stream the case feeds one message at a time."""

    _END = object()

    def __init__(self):
        self._queue = queue.Queue()

    def add(self, message):
        self._queue.put(message)

    def close(self):
        self._queue.put(self._END)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._END:
            self._queue.put(item)
            raise StopIteration
        return item

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _WithDeadline:
    """A multicallable whose calls get a deadline unless the case sets one, so
    that a server that never answers fails the case instead of hanging it."""

    def __init__(self, multicallable):
        self._multicallable = multicallable

    def __call__(self, *args, **kwargs):
        kwargs.setdefault("timeout", CALL_TIMEOUT)
        return self._multicallable(*args, **kwargs)

    def with_call(self, *args, **kwargs):
        kwargs.setdefault("timeout", CALL_TIMEOUT)
        return self._multicallable.with_call(*args, **kwargs)

    def future(self, *args, **kwargs):
        kwargs.setdefault("timeout", CALL_TIMEOUT)
        return self._multicallable.future(*args, **kwargs)


class Stub:
    """One multicallable per rpc of TestService and UnimplementedService, made
    from the generated descriptors with the codec of peer_common. Responses
    come back as peer_common.Received (.message, .compressed)."""

    def __init__(self, channel, pb):
        kinds = {
            (False, False): channel.unary_unary,
            (False, True): channel.unary_stream,
            (True, False): channel.stream_unary,
            (True, True): channel.stream_stream,
        }
        for service, prefix in ((pb.TestService, ""), (pb.UnimplementedService, "Unimplemented_")):
            for m in service.methods:
                make = kinds[(m.client_streaming, m.server_streaming)]
                multicallable = make(
                    f"/{service.full_name}/{m.name}",
                    request_serializer=common.encode,
                    response_deserializer=common.decoder(common.message_class(m.output_type)),
                )
                setattr(self, prefix + m.name, _WithDeadline(multicallable))


class Cases:
    def __init__(self, stub, pb):
        self.stub = stub
        self.pb = pb

    def simple_request(self, response_size=314159, request_size=271828, **fields):
        return self.pb.SimpleRequest(
            response_type=self.pb.COMPRESSABLE,
            response_size=response_size,
            payload=self.pb.Payload(body=common.zeros(request_size)),
            **fields,
        )

    def streaming_request(self, response_size, request_size):
        return self.pb.StreamingOutputCallRequest(
            response_type=self.pb.COMPRESSABLE,
            response_parameters=[self.pb.ResponseParameters(size=response_size)],
            payload=self.pb.Payload(body=common.zeros(request_size)),
        )

    def input_request(self, size, expect_compressed=None):
        request = self.pb.StreamingInputCallRequest(payload=self.pb.Payload(body=common.zeros(size)))
        if expect_compressed is not None:
            request.expect_compressed.value = expect_compressed
        return request

    # -- the cases ------------------------------------------------------------

    def empty_unary(self):
        response = self.stub.EmptyCall(self.pb.Empty())
        check(isinstance(response.message, self.pb.Empty), "response is not a grpc.testing.Empty")

    def large_unary(self):
        response = self.stub.UnaryCall(self.simple_request())
        check_size(response.message, 314159, "response")

    def client_compressed_unary(self):
        probe = self.simple_request(expect_compressed=self.pb.BoolValue(value=True))
        expect_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            lambda: self.stub.UnaryCall(probe, compression=grpc.Compression.NoCompression),
            "feature probe (uncompressed request with expect_compressed=true)",
        )
        for compressed in (True, False):
            what = "compressed request" if compressed else "uncompressed request"
            request = self.simple_request(expect_compressed=self.pb.BoolValue(value=compressed))
            compression = grpc.Compression.Gzip if compressed else grpc.Compression.NoCompression
            try:
                response = self.stub.UnaryCall(request, compression=compression)
            except grpc.RpcError as e:
                raise Failure(f"{what}: status {e.code().name} ({e.details()!r}), want OK") from None
            check_size(response.message, 314159, f"{what}: response")

    def server_compressed_unary(self):
        for compressed in (True, False):
            what = f"response_compressed={str(compressed).lower()}"
            request = self.simple_request(response_compressed=self.pb.BoolValue(value=compressed))
            response = self.stub.UnaryCall(request)
            check(
                response.compressed == compressed,
                f"{what}: response came {'compressed' if response.compressed else 'uncompressed'}",
            )
            check_size(response.message, 314159, f"{what}: response")

    def client_streaming(self):
        sizes = (27182, 8, 1828, 45904)
        response = self.stub.StreamingInputCall(iter([self.input_request(s) for s in sizes]))
        got = response.message.aggregated_payload_size
        check(got == 74922, f"aggregated_payload_size is {got}, want 74922")

    def client_compressed_streaming(self):
        if not common.enable_client_no_compress():
            raise Failure("this grpcio offers no way to send one message of a compressed call uncompressed")
        probe = [self.input_request(27182, expect_compressed=True)]
        expect_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            lambda: self.stub.StreamingInputCall(iter(probe), compression=grpc.Compression.NoCompression),
            "feature probe (uncompressed message with expect_compressed=true)",
        )
        requests = [
            self.input_request(27182, expect_compressed=True),
            common.NoCompress(self.input_request(45904, expect_compressed=False)),
        ]
        try:
            response = self.stub.StreamingInputCall(iter(requests), compression=grpc.Compression.Gzip)
        except grpc.RpcError as e:
            raise Failure(
                f"compressed then uncompressed message: status {e.code().name} ({e.details()!r}), want OK"
            ) from None
        got = response.message.aggregated_payload_size
        check(got == 73086, f"aggregated_payload_size is {got}, want 73086")

    def server_streaming(self):
        sizes = (31415, 9, 2653, 58979)
        request = self.pb.StreamingOutputCallRequest(
            response_type=self.pb.COMPRESSABLE,
            response_parameters=[self.pb.ResponseParameters(size=s) for s in sizes],
        )
        responses = list(self.stub.StreamingOutputCall(request))
        check(len(responses) == len(sizes), f"got {len(responses)} responses, want {len(sizes)}")
        for i, (response, size) in enumerate(zip(responses, sizes)):
            check_size(response.message, size, f"response {i + 1}")

    def server_compressed_streaming(self):
        request = self.pb.StreamingOutputCallRequest(
            response_type=self.pb.COMPRESSABLE,
            response_parameters=[
                self.pb.ResponseParameters(compressed=self.pb.BoolValue(value=True), size=31415),
                self.pb.ResponseParameters(compressed=self.pb.BoolValue(value=False), size=92653),
            ],
        )
        responses = list(self.stub.StreamingOutputCall(request))
        check(len(responses) == 2, f"got {len(responses)} responses, want 2")
        for i, (response, compressed, size) in enumerate(zip(responses, (True, False), (31415, 92653))):
            check(
                response.compressed == compressed,
                f"response {i + 1} came {'compressed' if response.compressed else 'uncompressed'}, "
                f"want {'compressed' if compressed else 'uncompressed'}",
            )
            check_size(response.message, size, f"response {i + 1}")

    def ping_pong(self):
        rounds = ((31415, 27182), (9, 8), (2653, 1828), (58979, 45904))
        with Pipe() as pipe:
            responses = self.stub.FullDuplexCall(pipe)
            for i, (response_size, request_size) in enumerate(rounds):
                pipe.add(self.streaming_request(response_size, request_size))
                response = next(responses, None)
                check(response is not None, f"round {i + 1}: stream ended, want a response")
                check_size(response.message, response_size, f"round {i + 1}: response")
            pipe.close()
            rest = list(responses)
            check(not rest, f"{len(rest)} responses after the last round, want the stream to end")

    def empty_stream(self):
        responses = list(self.stub.FullDuplexCall(iter([])))
        check(not responses, f"got {len(responses)} responses, want none")

    def custom_metadata(self):
        metadata = (ECHO_INITIAL, ECHO_TRAILING)

        def check_echo(what, initial, trailing):
            check(ECHO_INITIAL in list(initial or ()),
                  f"{what}: initial metadata {list(initial or ())!r} lacks {ECHO_INITIAL!r}")
            check(ECHO_TRAILING in list(trailing or ()),
                  f"{what}: trailing metadata {list(trailing or ())!r} lacks {ECHO_TRAILING!r}")

        response, call = self.stub.UnaryCall.with_call(self.simple_request(), metadata=metadata)
        check_size(response.message, 314159, "UnaryCall response")
        check_echo("UnaryCall", call.initial_metadata(), call.trailing_metadata())

        responses = self.stub.FullDuplexCall(iter([self.streaming_request(314159, 271828)]), metadata=metadata)
        received = list(responses)
        check(len(received) == 1, f"FullDuplexCall: got {len(received)} responses, want 1")
        check_size(received[0].message, 314159, "FullDuplexCall response")
        check_echo("FullDuplexCall", responses.initial_metadata(), responses.trailing_metadata())

    def _status_cases(self, message):
        echo = self.pb.EchoStatus(code=2, message=message)
        expect_error(
            grpc.StatusCode.UNKNOWN,
            lambda: self.stub.UnaryCall(self.pb.SimpleRequest(response_status=echo)),
            "UnaryCall",
            details=message,
        )
        return echo

    def status_code_and_message(self):
        echo = self._status_cases(STATUS_MESSAGE)
        request = self.pb.StreamingOutputCallRequest(response_status=echo)
        expect_error(
            grpc.StatusCode.UNKNOWN,
            lambda: list(self.stub.FullDuplexCall(iter([request]))),
            "FullDuplexCall",
            details=STATUS_MESSAGE,
        )

    def special_status_message(self):
        self._status_cases(SPECIAL_STATUS_MESSAGE)

    def unimplemented_method(self):
        expect_error(
            grpc.StatusCode.UNIMPLEMENTED,
            lambda: self.stub.UnimplementedCall(self.pb.Empty()),
            "grpc.testing.TestService/UnimplementedCall",
        )

    def unimplemented_service(self):
        expect_error(
            grpc.StatusCode.UNIMPLEMENTED,
            lambda: self.stub.Unimplemented_UnimplementedCall(self.pb.Empty()),
            "grpc.testing.UnimplementedService/UnimplementedCall",
        )

    def timeout_on_sleeping_server(self):
        with Pipe() as pipe:
            responses = self.stub.FullDuplexCall(pipe, timeout=0.001)
            pipe.add(self.pb.StreamingOutputCallRequest(payload=self.pb.Payload(body=common.zeros(27182))))
            expect_error(grpc.StatusCode.DEADLINE_EXCEEDED, lambda: list(responses), "FullDuplexCall with a 1ms deadline")

    def cancel_after_begin(self):
        with Pipe() as pipe:
            future = self.stub.StreamingInputCall.future(pipe)
            future.cancel()
            check(future.cancelled(), "the call does not report itself cancelled")
            check(future.code() == grpc.StatusCode.CANCELLED, f"status {future.code()}, want CANCELLED")

    def cancel_after_first_response(self):
        with Pipe() as pipe:
            responses = self.stub.FullDuplexCall(pipe)
            pipe.add(self.streaming_request(31415, 27182))
            first = next(responses, None)
            check(first is not None, "stream ended before the first response")
            check_size(first.message, 31415, "first response")
            responses.cancel()
            expect_error(grpc.StatusCode.CANCELLED, lambda: list(responses), "after cancel")


CASE_NAMES = (
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
)


def make_channel(args):
    host = f"[{args.server_host}]" if ":" in args.server_host else args.server_host
    target = f"{host}:{args.server_port}"
    options = list(common.WIRE_OPTIONS)
    if not args.use_tls:
        return grpc.insecure_channel(target, options=options)
    root = None
    if args.use_test_ca:
        if not args.ca_file:
            sys.exit("--use_test_ca needs --ca_file (the CA that signed the server's certificate)")
        with open(args.ca_file, "rb") as f:
            root = f.read()
    if args.server_host_override:
        options.append(("grpc.ssl_target_name_override", args.server_host_override))
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=root), options=options)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server_host", default="localhost")
    parser.add_argument("--server_port", type=int, required=True)
    parser.add_argument("--server_host_override", default="",
                        help="name the server's TLS certificate is checked against")
    parser.add_argument("--test_case", default="large_unary", help="one case or a comma list: " + ",".join(CASE_NAMES))
    common.add_bool_flag(parser, "use_tls", "connect with TLS")
    common.add_bool_flag(parser, "use_test_ca", "trust --ca_file instead of the system roots")
    parser.add_argument("--ca_file", help="the test CA (PEM)")
    args = parser.parse_args(argv)

    cases = [c.strip() for c in args.test_case.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASE_NAMES]
    if unknown or not cases:
        parser.error(f"unknown test case {', '.join(unknown) or '(none)'}; known: {', '.join(CASE_NAMES)}")

    pb = common.load()
    failed = []
    with make_channel(args) as channel:
        runner = Cases(Stub(channel, pb), pb)
        for case in cases:
            try:
                getattr(runner, case)()
            except Failure as e:
                failed.append(case)
                print(f"FAIL {case}: {e}", flush=True)
            except grpc.RpcError as e:
                failed.append(case)
                print(f"FAIL {case}: unexpected status {e.code().name}: {e.details()!r}", flush=True)
            else:
                print(f"PASS {case}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
