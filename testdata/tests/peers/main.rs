//! Our server and client against real peers over TCP: grpcio (health,
//! reflection, rich errors, the runtime's limits and statuses) and the tools
//! users reach for (grpcurl, grpc-health-probe). A test whose peer is not
//! installed prints a note and passes, except under CI (`CI` set), where it
//! fails. One test binary; each module is one peer check.

mod python_health;
mod python_reflection;
mod python_rich_errors;
mod python_runtime;
mod tools;
