//! Generated code for another codegen API version must fail to compile with a
//! message that says what to do (the expected text is in tests/ui/*.stderr).

#[test]
fn mismatched_codegen_version_fails_with_instructions() {
    trybuild::TestCases::new().compile_fail("tests/ui/codegen_version_mismatch.rs");
}
