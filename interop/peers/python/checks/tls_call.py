#!/usr/bin/env python3
"""grpcio over TLS: one corpus.echo.Echo/Unary call to TARGET.

  tls_call.py TARGET MESSAGE

The PEM texts come from the environment: TLS_CA (the root to trust, required),
TLS_CLIENT_CERT and TLS_CLIENT_KEY (a client certificate, for mutual TLS,
optional). TLS_SERVER_NAME, when set, is the name checked against the server's
certificate (grpc.ssl_target_name_override). Prints "reply TEXT" or
"error CODE DETAILS".
"""

import os
import sys

import grpc

from corpus_stubs import load, say


def main():
    target, message = sys.argv[1:3]
    echo_pb2, echo_pb2_grpc = load()
    cert = os.environ.get("TLS_CLIENT_CERT")
    key = os.environ.get("TLS_CLIENT_KEY")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=os.environ["TLS_CA"].encode(),
        private_key=key.encode() if key else None,
        certificate_chain=cert.encode() if cert else None,
    )
    options = []
    if os.environ.get("TLS_SERVER_NAME"):
        options.append(("grpc.ssl_target_name_override", os.environ["TLS_SERVER_NAME"]))
    with grpc.secure_channel(target, credentials, options=options) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        try:
            reply = stub.Unary(echo_pb2.EchoRequest(message=message), timeout=20)
            say("reply", reply.message)
        except grpc.RpcError as err:
            say("error", err.code().name, err.details())


if __name__ == "__main__":
    main()
