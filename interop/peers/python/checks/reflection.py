#!/usr/bin/env python3
"""grpcio-reflection's ProtoReflectionDescriptorDatabase against a server at TARGET.

  reflection.py TARGET VERSION services         "service NAME" per listed service
  reflection.py TARGET VERSION symbol SYMBOL    resolves a service symbol:
      "file NAME" (the file that defines it), "method NAME INPUT OUTPUT" per method
  reflection.py TARGET VERSION file NAME        resolves a file by name:
      "file NAME", "dependency NAME" per import (each resolved in the pool too),
      "field MESSAGE.FIELD TYPE" per message field whose type is a message

VERSION is v1alpha (the database's own stub) or v1: grpcio-reflection ships
only the v1alpha client, and v1's messages are the same on the wire, so for v1
the database is handed a stub that calls grpc.reflection.v1 with them.
Lookups go through a DescriptorPool fed by the database, the way the
grpcio-reflection docs use it: the pool asks for whatever it lacks, imports
included, so a file whose imports the server cannot serve fails to build.
"""

import sys

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from corpus_stubs import say


class V1Stub:
    """ServerReflectionStub's one method, aimed at grpc.reflection.v1."""

    def __init__(self, channel):
        self.ServerReflectionInfo = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )


def main():
    target, version, mode = sys.argv[1:4]
    with grpc.insecure_channel(target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        if version == "v1":
            database._stub = V1Stub(channel)
        elif version != "v1alpha":
            sys.exit(f"unknown reflection version {version!r}")
        pool = DescriptorPool(database)
        if mode == "services":
            for service in database.get_services():
                say("service", service)
        elif mode == "symbol":
            service = pool.FindServiceByName(sys.argv[4])
            say("file", service.file.name)
            for method in service.methods:
                say("method", method.name, method.input_type.full_name, method.output_type.full_name)
        elif mode == "file":
            file = pool.FindFileByName(sys.argv[4])
            say("file", file.name)
            for dependency in file.dependencies:
                pool.FindFileByName(dependency.name)
                say("dependency", dependency.name)
            for message in file.message_types_by_name.values():
                for field in message.fields:
                    if field.message_type is not None:
                        say("field", f"{message.name}.{field.name}", field.message_type.full_name)
        else:
            sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
