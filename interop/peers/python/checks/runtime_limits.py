#!/usr/bin/env python3
"""Status codes, message size limits, compression and deadlines, as a grpcio
client sees a corpus.echo.Echo server.

  runtime_limits.py client TARGET MESSAGE
      prints one line per fact:
        "status N NAME MESSAGE" for each code N in 1..16: Fail asked for code N
          and MESSAGE, and the call ended with NAME and this message;
        "big NAME": a Unary call with a 5 MiB message ended with NAME;
        "gzip NAME": a Unary call compressed with gzip ended with NAME;
        "deadline NAME": a Sleep of 5 s with a 0.3 s timeout ended with NAME
          (grpcio's own timer also fires; tests/deadlines.rs checks the
          server's answer on the wire).
  runtime_limits.py cancel TARGET
      starts a Sleep of 60 s, cancels it after 0.5 s and prints
      "cancelled True" once grpcio has cancelled it.
"""

import sys
import time

import grpc

from corpus_stubs import load, say


def outcome(call):
    try:
        call()
        return "OK"
    except grpc.RpcError as err:
        return err.code().name


def client(target, message):
    echo_pb2, echo_pb2_grpc = load()
    with grpc.insecure_channel(target) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        for code in range(1, 17):
            try:
                stub.Fail(echo_pb2.FailRequest(code=code, message=message), timeout=20)
                say("status", code, "OK", "")
            except grpc.RpcError as err:
                say("status", code, err.code().name, err.details())
        big = echo_pb2.EchoRequest(message="x" * (5 * 1024 * 1024))
        say("big", outcome(lambda: stub.Unary(big, timeout=20)))
        small = echo_pb2.EchoRequest(message="hello")
        say(
            "gzip",
            outcome(lambda: stub.Unary(small, timeout=20, compression=grpc.Compression.Gzip)),
        )
    with grpc.insecure_channel(target) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        sleep = echo_pb2.SleepRequest(millis=5000)
        say("deadline", outcome(lambda: stub.Sleep(sleep, timeout=0.3)))


def cancel(target):
    echo_pb2, echo_pb2_grpc = load()
    with grpc.insecure_channel(target) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        call = stub.Sleep.future(echo_pb2.SleepRequest(millis=60000), timeout=30)
        time.sleep(0.5)
        call.cancel()
        say("cancelled", call.cancelled())


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "cancel":
        cancel(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
