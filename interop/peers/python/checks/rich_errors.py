#!/usr/bin/env python3
"""Rich error details (google.rpc.Status) through grpcio-status, both ways.

  rich_errors.py client TARGET CODE MESSAGE
      calls corpus.echo.Echo/Fail with CODE and MESSAGE, reads the status with
      rpc_status.from_call and prints one line per fact:
        "code N", "message TEXT", then per detail
        "ErrorInfo REASON DOMAIN k=v,...", "RetryInfo SECONDS NANOS",
        "BadRequest FIELD DESCRIPTION" (one per violation) or "other TYPE_URL";
        "no-status" when the call carried no grpc-status-details-bin.
  rich_errors.py server
      serves corpus.echo.Echo on 127.0.0.1 (a free port), prints
      "listening PORT", and answers Fail with the requested code and message
      and the details in SERVER_DETAILS, built as a status_pb2.Status and sent
      with rpc_status.to_status; it stops when its stdin closes.
"""

import sys
from concurrent import futures

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from corpus_stubs import load, say


def server_details():
    details = [
        error_details_pb2.ErrorInfo(
            reason="PY_QUOTA", domain="python.example", metadata={"plan": "pro", "region": "eu"}
        ),
        error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=7, nanos=500)),
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field="code", description="set by python")
            ]
        ),
    ]
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return packed


def client(target, code, message):
    echo_pb2, echo_pb2_grpc = load()
    with grpc.insecure_channel(target) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        try:
            stub.Fail(echo_pb2.FailRequest(code=code, message=message), timeout=20)
            say("no-error")
            return
        except grpc.RpcError as err:
            status = rpc_status.from_call(err)
    if status is None:
        say("no-status")
        return
    say("code", status.code)
    say("message", status.message)
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        retry = error_details_pb2.RetryInfo()
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(info):
            pairs = ",".join(f"{k}={v}" for k, v in sorted(info.metadata.items()))
            say("ErrorInfo", info.reason, info.domain, pairs)
        elif detail.Unpack(retry):
            say("RetryInfo", retry.retry_delay.seconds, retry.retry_delay.nanos)
        elif detail.Unpack(bad):
            for violation in bad.field_violations:
                say("BadRequest", violation.field, violation.description)
        else:
            say("other", detail.type_url)


def server():
    echo_pb2, echo_pb2_grpc = load()

    class Echo(echo_pb2_grpc.EchoServicer):
        def Fail(self, request, context):
            context.abort_with_status(
                rpc_status.to_status(
                    status_pb2.Status(
                        code=request.code, message=request.message, details=server_details()
                    )
                )
            )

    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    echo_pb2_grpc.add_EchoServicer_to_server(Echo(), grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    say("listening", port)
    sys.stdin.read()
    grpc_server.stop(0)


def main():
    mode = sys.argv[1]
    if mode == "client":
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif mode == "server":
        server()
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
