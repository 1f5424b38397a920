// The grpc-go peer of the benchmark harness: helloworld.Greeter and
// grpc.testing.BenchmarkService on 127.0.0.1, with stubs generated from
// benches/proto by protoc-gen-go and protoc-gen-go-grpc (benches/peers/setup.sh).
//
//	greeter-go [-addr 127.0.0.1:0]
//
// It prints "LISTENING <host:port>" on stdout once it accepts connections and
// serves until it is killed. Run it with GOMAXPROCS=1 to match the one-core
// Rust servers.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"

	"google.golang.org/grpc"

	"benchpeer/pb"
)

type greeter struct {
	pb.UnimplementedGreeterServer
}

func (greeter) SayHello(_ context.Context, req *pb.HelloRequest) (*pb.HelloReply, error) {
	return &pb.HelloReply{Message: "Hello " + req.GetName()}, nil
}

type benchmark struct {
	pb.UnimplementedBenchmarkServiceServer
}

func response(req *pb.SimpleRequest) *pb.SimpleResponse {
	return &pb.SimpleResponse{Payload: &pb.Payload{Body: make([]byte, req.GetResponseSize())}}
}

func (benchmark) UnaryCall(_ context.Context, req *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	return response(req), nil
}

func (benchmark) StreamingCall(stream pb.BenchmarkService_StreamingCallServer) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(response(req)); err != nil {
			return err
		}
	}
}

func (benchmark) StreamingFromServer(req *pb.SimpleRequest, stream pb.BenchmarkService_StreamingFromServerServer) error {
	resp := response(req)
	for {
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	server := grpc.NewServer()
	pb.RegisterGreeterServer(server, greeter{})
	pb.RegisterBenchmarkServiceServer(server, benchmark{})
	fmt.Fprintf(os.Stdout, "LISTENING %s\n", lis.Addr())
	if err := server.Serve(lis); err != nil {
		log.Fatalf("serve: %v", err)
	}
}
