#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rust_grpc_fuzz::grpc_timeout::run(data));
