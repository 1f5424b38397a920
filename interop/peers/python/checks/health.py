#!/usr/bin/env python3
"""grpcio-health-checking's client against a server at TARGET.

  health.py TARGET check SERVICE       prints "check <SERVICE> <STATUS or CODE>"
  health.py TARGET watch SERVICE N     prints "watch <SERVICE> <STATUS>" for each
                                       of the first N updates of Watch, then exits

STATUS is the ServingStatus name (SERVING, NOT_SERVING, ...); a failed call
prints the grpc.StatusCode name instead (NOT_FOUND, ...). Every line is flushed
as it is printed, so a test can change the server's status between updates.
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from corpus_stubs import say


def name(status):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def main():
    target, mode, service = sys.argv[1:4]
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=service)
        if mode == "check":
            try:
                reply = stub.Check(request, timeout=20)
                say("check", service, name(reply.status))
            except grpc.RpcError as err:
                say("check", service, err.code().name)
        elif mode == "watch":
            wanted = int(sys.argv[4])
            updates = stub.Watch(request, timeout=60)
            for seen, reply in enumerate(updates, start=1):
                say("watch", service, name(reply.status))
                if seen == wanted:
                    updates.cancel()
                    break
        else:
            sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
