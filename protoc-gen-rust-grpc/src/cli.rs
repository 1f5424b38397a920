//! The standalone command line: compile .proto files without protoc.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::{Options, check, generate, source, write};

/// The usage text: the arguments, then every generator option.
fn usage() -> String {
    format!("{USAGE}{}", Options::help())
}

const USAGE: &str = "\
protoc-gen-rust-grpc: gRPC services, clients and prost messages for rust-grpc

As a protoc plugin (protoc runs it and passes a request on stdin):
  protoc --plugin=protoc-gen-rust-grpc=PATH --rust-grpc_out=OUT_DIR \\
         [--rust-grpc_opt=KEY=VALUE,...] -I PROTO_DIR FILE.proto...

On its own (no protoc needed):
  protoc-gen-rust-grpc [-I PROTO_DIR]... FILE.proto... --out OUT_DIR [--opt KEY=VALUE]... [--check]

Arguments:
  -I, --proto_path DIR  look for imports in DIR (repeatable; default: .)
  --out DIR             write the generated files into DIR
  --opt KEY=VALUE       a generator option (repeatable, or comma-separated)
  --descriptor_set_out FILE
                        write the encoded FileDescriptorSet of every file read,
                        imports included (source info stripped); --out is then
                        optional
  --check               write nothing; exit 1 naming each file in OUT_DIR that
                        is stale or missing (for checked-in generated code)
  --version             print the version
  --help                print this help

Options (KEY=VALUE):
";

struct Args {
    includes: Vec<PathBuf>,
    files: Vec<PathBuf>,
    out: Option<PathBuf>,
    options: Vec<String>,
    descriptor_set_out: Option<PathBuf>,
    check: bool,
}

enum Parsed {
    Run(Args),
    Help,
    Version,
}

fn parse_args(args: &[String]) -> Result<Parsed, String> {
    let mut parsed = Args {
        includes: Vec::new(),
        files: Vec::new(),
        out: None,
        options: Vec::new(),
        descriptor_set_out: None,
        check: false,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value_of = |flag: &str| -> Result<String, String> {
            match arg
                .strip_prefix(flag)
                .and_then(|rest| rest.strip_prefix('='))
            {
                Some(value) => Ok(value.to_owned()),
                None => iter
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--check" => parsed.check = true,
            a if a == "-I" || a.starts_with("--proto_path") => {
                let flag = if a == "-I" { "-I" } else { "--proto_path" };
                parsed.includes.push(value_of(flag)?.into());
            }
            a if a.starts_with("-I") => parsed.includes.push(a[2..].into()),
            a if a == "--out" || a.starts_with("--out=") => {
                parsed.out = Some(value_of("--out")?.into())
            }
            a if a == "--opt" || a.starts_with("--opt=") => parsed.options.push(value_of("--opt")?),
            a if a == "--descriptor_set_out" || a.starts_with("--descriptor_set_out=") => {
                parsed.descriptor_set_out = Some(value_of("--descriptor_set_out")?.into());
            }
            a if a.starts_with('-') => return Err(format!("unknown argument `{a}`")),
            file => parsed.files.push(file.into()),
        }
    }
    if parsed.files.is_empty() {
        return Err("no .proto files given".to_owned());
    }
    if parsed.out.is_none() && parsed.descriptor_set_out.is_none() {
        return Err("no output directory given (--out DIR)".to_owned());
    }
    if parsed.includes.is_empty() {
        parsed.includes.push(".".into());
    }
    Ok(Parsed::Run(parsed))
}

/// Runs the command line with `args` (without the program name).
pub fn run(args: &[String]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            println!("protoc-gen-rust-grpc {}", crate::VERSION);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("protoc-gen-rust-grpc: {message}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match execute(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("protoc-gen-rust-grpc: {message}");
            ExitCode::FAILURE
        }
    }
}

fn execute(args: &Args) -> Result<ExitCode, String> {
    let mut options = Options::default();
    for opt in &args.options {
        options.set_all(opt).map_err(|e| crate::error::chain(&e))?;
    }
    let parsed = source::parse(&args.files, &args.includes).map_err(|e| crate::error::chain(&e))?;
    // Without --out, only the descriptor set is asked for.
    let files = match &args.out {
        Some(_) => generate(&parsed.files, &parsed.requested, &options)
            .map_err(|e| crate::error::chain(&e))?,
        None => Vec::new(),
    };
    let out = args.out.as_deref().unwrap_or(std::path::Path::new("."));
    let set = args
        .descriptor_set_out
        .as_ref()
        .map(|path| (path, crate::encode_descriptor_set(&parsed.files)));
    if args.check {
        let report = check(out, &files);
        let mut clean = report.is_clean();
        if let Some((path, bytes)) = &set {
            match std::fs::read(path) {
                Ok(existing) if existing == *bytes => {}
                Ok(_) => eprintln!("stale: {}", path.display()),
                Err(_) => eprintln!("missing: {}", path.display()),
            }
            clean &= std::fs::read(path).is_ok_and(|existing| existing == *bytes);
        }
        for name in &report.stale {
            eprintln!("stale: {}", out.join(name).display());
        }
        for name in &report.missing {
            eprintln!("missing: {}", out.join(name).display());
        }
        if clean {
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "protoc-gen-rust-grpc: generated code in {} is out of date; run the same command without --check",
            out.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    if args.out.is_some() {
        write(out, &files).map_err(|e| crate::error::chain(&e))?;
    }
    if let Some((path, bytes)) = &set {
        std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
