// Command channel-peer is a small grpc-go server for testing rust-grpc's client
// channel (reconnects, load balancing, retries, GOAWAY) against a stack we did
// not write. grpc-go's official interop server cannot fail on purpose or rotate
// connections; this one can, and tells the client what it saw.
//
// It serves grpc.testing.TestService (EmptyCall, UnaryCall, StreamingOutputCall,
// StreamingInputCall, FullDuplexCall) and grpc.health.v1.Health, plaintext, on
// 127.0.0.1 (or --host). Once listening it prints `LISTENING <port>` on stdout; logs go
// to stderr.
//
// Flags:
//
//	--port=0                  0 picks a free port
//	--host=127.0.0.1          the address to listen on (::1: IPv6 loopback)
//	--server_id=ID            put in SimpleResponse.server_id and .hostname, and
//	                          in the x-server-id trailer, to count who answered
//	--max_connection_age=D    keepalive MaxConnectionAge (grpc-go adds +-10% jitter):
//	                          a connection is drained (GOAWAY) after about D
//	--max_connection_age_grace=D  how long calls may run after that (default 1s)
//	--fail_first=N            the first N UnaryCalls per x-call-id fail ... (and
//	                          StreamingInputCalls, once they read every request)
//	--fail_code=CODE          ... with this code (name or number; default
//	                          UNAVAILABLE), as a Trailers-Only response
//	--pushback_ms=M           ... carrying the trailer grpc-retry-pushback-ms: M
//	                          (any integer, negative too: it means "do not retry")
//	--delay=D                 UnaryCall waits D before answering (failing or not);
//	                          a call cancelled or timed out meanwhile is counted
//	--send_headers_with_first_message  FullDuplexCall sends its response headers
//	                          only with its first response (or with the trailers),
//	                          never on its own; without it they go out at once
//	--max_concurrent_streams=N  SETTINGS_MAX_CONCURRENT_STREAMS (0: grpc-go's
//	                          default, unlimited): with 1, further calls wait
//	                          client-side; a stream beyond it is refused
//	                          (RST_STREAM REFUSED_STREAM)
//	--goaway_after=N          the connection that receives its Nth UnaryCall is
//	                          drained at once (GOAWAY, in-flight calls finish),
//	                          while the port keeps accepting new connections
//	--not_serving_for=D       grpc.health.v1 reports grpc.testing.TestService
//	                          NOT_SERVING for D, then SERVING (default: SERVING)
//	--not_serving_after=D     ... and NOT_SERVING from D after the start on
//	--no_health               no health service at all (UNIMPLEMENTED)
//
// Calls per x-call-id: a UnaryCall's key is the first value of its request
// metadata x-call-id, or "" when it has none (so without it, --fail_first counts
// every call). Attempts of one key are counted over the server's life.
//
// What the server saw, for a test to read:
//
//   - every UnaryCall answers (success or failure) with the trailers
//     x-attempts-seen (this key's attempts so far, this one included),
//     x-previous-rpc-attempts (the grpc-previous-rpc-attempts request header, when
//     sent) and x-server-id. Trailers, not headers, so that a failure stays
//     Trailers-Only (grpc-go sends a separate HEADERS frame once a header is set).
//     StreamingInputCall answers with the same, plus x-messages-seen (requests
//     read by this attempt).
//   - EmptyCall is the stats probe: it never fails, and its trailers carry
//     x-unary-calls (UnaryCalls received), x-cancelled-calls (UnaryCalls whose
//     --delay was cut short: cancelled, RST_STREAM, connection lost or deadline
//     passed), x-deadline-exceeded-calls (those of them whose deadline the
//     server saw pass first: a client's own timer usually fires first and
//     cancels), x-connections (connections accepted, the probe's own included)
//     and x-server-id.
//
// GOAWAY: grpc-go has no public hook to drain one connection, so every accepted
// connection gets a grpc.Server of its own and --goaway_after calls its
// GracefulStop: grpc-go's two-step GOAWAY (last-stream-id 2^31-1, a PING, then
// the real last-stream-id). With --max_concurrent_streams=1 and --delay, the
// Nth call holds the only stream while later calls queue in the client; they
// were never accepted, so a client must retry them on a new connection.
//
// The UnaryCall and FullDuplexCall echo of x-grpc-test-echo-initial and
// x-grpc-test-echo-trailing-bin, EchoStatus and ResponseParameters work as the
// official interop server's do.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	echoInitialKey  = "x-grpc-test-echo-initial"
	echoTrailingKey = "x-grpc-test-echo-trailing-bin"
)

type config struct {
	serverID                string
	delay                   time.Duration
	failFirst               int
	failCode                codes.Code
	pushback                string
	headersWithFirstMessage bool
	goawayAfter             int64
}

// counters is what the server saw, over its whole life.
type counters struct {
	mu          sync.Mutex
	attempts    map[string]int
	unary       int
	cancelled   int
	deadline    int
	connections int
}

func (c *counters) attempt(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unary++
	c.attempts[key]++
	return c.attempts[key]
}

func (c *counters) cutShort(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancelled++
	if err == context.DeadlineExceeded {
		c.deadline++
	}
}

// conn is one accepted connection and the server that serves only it.
type conn struct {
	server *grpc.Server
	unary  atomic.Int64
	drain  sync.Once
}

type service struct {
	testgrpc.UnimplementedTestServiceServer
	cfg  *config
	seen *counters
	conn *conn
}

func firstValue(md metadata.MD, key string) string {
	if values := md.Get(key); len(values) > 0 {
		return values[0]
	}
	return ""
}

func newPayload(kind testpb.PayloadType, size int32) (*testpb.Payload, error) {
	if kind != testpb.PayloadType_COMPRESSABLE {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported payload type %v", kind)
	}
	if size < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "negative response size %d", size)
	}
	return &testpb.Payload{Type: kind, Body: make([]byte, size)}, nil
}

// echoMetadata returns the response headers and trailers the client asked to
// have echoed.
func echoMetadata(md metadata.MD) (header, trailer metadata.MD) {
	header, trailer = metadata.MD{}, metadata.MD{}
	if v := md.Get(echoInitialKey); len(v) > 0 {
		header.Set(echoInitialKey, v[0])
	}
	if v := md.Get(echoTrailingKey); len(v) > 0 {
		trailer.Set(echoTrailingKey, v[0])
	}
	return header, trailer
}

func echoedStatus(st *testpb.EchoStatus) error {
	if st != nil && st.GetCode() != 0 {
		return status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return nil
}

func (s *service) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	s.seen.mu.Lock()
	trailer := metadata.Pairs(
		"x-unary-calls", strconv.Itoa(s.seen.unary),
		"x-cancelled-calls", strconv.Itoa(s.seen.cancelled),
		"x-deadline-exceeded-calls", strconv.Itoa(s.seen.deadline),
		"x-connections", strconv.Itoa(s.seen.connections),
		"x-server-id", s.cfg.serverID,
	)
	s.seen.mu.Unlock()
	if err := grpc.SetTrailer(ctx, trailer); err != nil {
		return nil, err
	}
	return &testpb.Empty{}, nil
}

func (s *service) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	attempt := s.seen.attempt(firstValue(md, "x-call-id"))
	if s.cfg.goawayAfter > 0 && s.conn.unary.Add(1) == s.cfg.goawayAfter {
		// GracefulStop waits for this very call, so it cannot run here.
		s.conn.drain.Do(func() { go s.conn.server.GracefulStop() })
	}

	header, trailer := echoMetadata(md)
	trailer.Set("x-attempts-seen", strconv.Itoa(attempt))
	trailer.Set("x-server-id", s.cfg.serverID)
	if previous := md.Get("grpc-previous-rpc-attempts"); len(previous) > 0 {
		trailer.Set("x-previous-rpc-attempts", previous[0])
	}
	if len(header) > 0 {
		if err := grpc.SetHeader(ctx, header); err != nil {
			return nil, err
		}
	}

	if s.cfg.delay > 0 {
		timer := time.NewTimer(s.cfg.delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			s.seen.cutShort(ctx.Err())
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}

	if attempt <= s.cfg.failFirst {
		if s.cfg.pushback != "" {
			trailer.Set("grpc-retry-pushback-ms", s.cfg.pushback)
		}
		if err := grpc.SetTrailer(ctx, trailer); err != nil {
			return nil, err
		}
		return nil, status.Errorf(s.cfg.failCode, "channel-peer %s: attempt %d fails on purpose (--fail_first=%d)",
			s.cfg.serverID, attempt, s.cfg.failFirst)
	}
	if err := grpc.SetTrailer(ctx, trailer); err != nil {
		return nil, err
	}
	if err := echoedStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	payload, err := newPayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{
		Payload:  payload,
		ServerId: s.cfg.serverID,
		Hostname: s.cfg.serverID,
	}, nil
}

// respond sends one response per parameter, waiting each one's interval.
func respond(ctx context.Context, kind testpb.PayloadType, params []*testpb.ResponseParameters,
	send func(*testpb.StreamingOutputCallResponse) error) error {
	for _, p := range params {
		if us := p.GetIntervalUs(); us > 0 {
			select {
			case <-time.After(time.Duration(us) * time.Microsecond):
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
		}
		payload, err := newPayload(kind, p.GetSize())
		if err != nil {
			return err
		}
		if err := send(&testpb.StreamingOutputCallResponse{Payload: payload}); err != nil {
			return err
		}
	}
	return nil
}

func (s *service) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	if err := echoedStatus(in.GetResponseStatus()); err != nil {
		return err
	}
	return respond(stream.Context(), in.GetResponseType(), in.GetResponseParameters(), stream.Send)
}

func (s *service) StreamingInputCall(stream testgrpc.TestService_StreamingInputCallServer) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	attempt := s.seen.attempt(firstValue(md, "x-call-id"))
	trailer := metadata.Pairs("x-attempts-seen", strconv.Itoa(attempt), "x-server-id", s.cfg.serverID)
	if previous := md.Get("grpc-previous-rpc-attempts"); len(previous) > 0 {
		trailer.Set("x-previous-rpc-attempts", previous[0])
	}
	stream.SetTrailer(trailer)
	var sum, messages int32
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		sum += int32(len(in.GetPayload().GetBody()))
		messages++
	}
	trailer.Set("x-messages-seen", strconv.Itoa(int(messages)))
	stream.SetTrailer(trailer)
	// Fails only once every request is read: a retry must send them all again.
	if attempt <= s.cfg.failFirst {
		return status.Errorf(s.cfg.failCode, "channel-peer %s: attempt %d fails on purpose (--fail_first=%d)",
			s.cfg.serverID, attempt, s.cfg.failFirst)
	}
	return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: sum})
}

func (s *service) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	header, trailer := echoMetadata(md)
	stream.SetTrailer(trailer)
	if s.cfg.headersWithFirstMessage {
		// SetHeader only stores them: grpc-go sends them with the first message.
		if err := stream.SetHeader(header); err != nil {
			return err
		}
	} else if err := stream.SendHeader(header); err != nil {
		return err
	}
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := echoedStatus(in.GetResponseStatus()); err != nil {
			return err
		}
		if err := respond(stream.Context(), in.GetResponseType(), in.GetResponseParameters(), stream.Send); err != nil {
			return err
		}
	}
}

// oneConnListener hands its connection to Accept once, then blocks until closed,
// so that a grpc.Server serves exactly that connection.
type oneConnListener struct {
	conn   chan net.Conn
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conn:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.addr }

// closeNotifier tells when grpc-go closed the connection, so that its server
// can be let go.
type closeNotifier struct {
	net.Conn
	once    sync.Once
	onClose func()
}

func (c *closeNotifier) Close() error {
	c.once.Do(c.onClose)
	return c.Conn.Close()
}

func main() {
	log.SetPrefix("channel-peer: ")
	port := flag.Int("port", 0, "port to listen on (0 picks a free one)")
	host := flag.String("host", "127.0.0.1", "address to listen on (::1 for IPv6 loopback)")
	serverID := flag.String("server_id", "channel-peer", "server id put in responses")
	maxAge := flag.Duration("max_connection_age", 0, "keepalive MaxConnectionAge (0: none)")
	maxAgeGrace := flag.Duration("max_connection_age_grace", time.Second, "keepalive MaxConnectionAgeGrace")
	failFirst := flag.Int("fail_first", 0, "the first N UnaryCalls per x-call-id fail")
	failCode := flag.String("fail_code", "UNAVAILABLE", "the status code of those failures (name or number)")
	pushback := flag.String("pushback_ms", "", "grpc-retry-pushback-ms trailer on those failures (an integer; empty: none)")
	delay := flag.Duration("delay", 0, "how long UnaryCall waits before answering")
	headersWithFirst := flag.Bool("send_headers_with_first_message", false,
		"FullDuplexCall sends response headers only with its first response")
	maxStreams := flag.Uint("max_concurrent_streams", 0, "SETTINGS_MAX_CONCURRENT_STREAMS (0: unlimited)")
	goawayAfter := flag.Int64("goaway_after", 0, "drain the connection that receives its Nth UnaryCall (0: never)")
	notServingFor := flag.Duration("not_serving_for", 0, "grpc.testing.TestService's health is NOT_SERVING for this long, then SERVING")
	notServingAfter := flag.Duration("not_serving_after", 0, "grpc.testing.TestService's health turns NOT_SERVING after this long (0: never)")
	noHealth := flag.Bool("no_health", false, "serve no health service (its calls get UNIMPLEMENTED)")
	flag.Parse()
	if flag.NArg() > 0 {
		log.Fatalf("unexpected arguments %q", flag.Args())
	}

	var code codes.Code
	if err := code.UnmarshalJSON([]byte(strconv.Quote(*failCode))); err != nil {
		if err := code.UnmarshalJSON([]byte(*failCode)); err != nil {
			log.Fatalf("--fail_code=%s: not a status code name (UNAVAILABLE) or number", *failCode)
		}
	}
	if *pushback != "" {
		if _, err := strconv.ParseInt(*pushback, 10, 64); err != nil {
			log.Fatalf("--pushback_ms=%s: not an integer", *pushback)
		}
	}
	cfg := &config{
		serverID:                *serverID,
		delay:                   *delay,
		failFirst:               *failFirst,
		failCode:                code,
		pushback:                *pushback,
		headersWithFirstMessage: *headersWithFirst,
		goawayAfter:             *goawayAfter,
	}
	var opts []grpc.ServerOption
	if *maxAge > 0 {
		opts = append(opts, grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge:      *maxAge,
			MaxConnectionAgeGrace: *maxAgeGrace,
		}))
	}
	if *maxStreams > 0 {
		opts = append(opts, grpc.MaxConcurrentStreams(uint32(*maxStreams)))
	}

	lis, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	healthServer := health.NewServer()
	const healthService = "grpc.testing.TestService"
	if *notServingFor > 0 {
		healthServer.SetServingStatus(healthService, healthpb.HealthCheckResponse_NOT_SERVING)
		time.AfterFunc(*notServingFor, func() {
			healthServer.SetServingStatus(healthService, healthpb.HealthCheckResponse_SERVING)
		})
	} else {
		healthServer.SetServingStatus(healthService, healthpb.HealthCheckResponse_SERVING)
	}
	if *notServingAfter > 0 {
		time.AfterFunc(*notServingAfter, func() {
			healthServer.SetServingStatus(healthService, healthpb.HealthCheckResponse_NOT_SERVING)
		})
	}
	seen := &counters{attempts: map[string]int{}}

	var mu sync.Mutex
	servers := map[*grpc.Server]struct{}{}
	var stopping atomic.Bool
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
		stopping.Store(true)
		lis.Close()
	}()

	fmt.Printf("LISTENING %d\n", lis.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync() // a pipe has no buffer to flush; Sync is harmless there
	log.Printf("%s serving on %s", cfg.serverID, lis.Addr())

	for {
		raw, err := lis.Accept()
		if err != nil {
			if stopping.Load() {
				break
			}
			log.Fatalf("accept: %v", err)
		}
		seen.mu.Lock()
		seen.connections++
		seen.mu.Unlock()

		c := &conn{server: grpc.NewServer(opts...)}
		testgrpc.RegisterTestServiceServer(c.server, &service{cfg: cfg, seen: seen, conn: c})
		if !*noHealth {
			healthpb.RegisterHealthServer(c.server, healthServer)
		}
		mu.Lock()
		servers[c.server] = struct{}{}
		mu.Unlock()
		one := &oneConnListener{conn: make(chan net.Conn, 1), addr: lis.Addr(), closed: make(chan struct{})}
		one.conn <- &closeNotifier{Conn: raw, onClose: func() {
			mu.Lock()
			delete(servers, c.server)
			mu.Unlock()
			// Stop waits for handlers, and may be called from one.
			go c.server.Stop()
		}}
		go func() {
			if err := c.server.Serve(one); err != nil {
				log.Printf("serve %s: %v", raw.RemoteAddr(), err)
			}
		}()
	}
	// Stopping closes connections, whose onClose takes mu: stop outside it.
	mu.Lock()
	running := make([]*grpc.Server, 0, len(servers))
	for s := range servers {
		running = append(running, s)
	}
	mu.Unlock()
	for _, s := range running {
		s.Stop()
	}
}
