//! Filesystem guest: `std::fs` through WASI preopened directories.
//!
//! Usage: `std_fs.wasm <op>:<path> ...`, one line of output per operation:
//!
//! * `read:P`    print the file's content (escaped) or `error`
//! * `write:P`   create/truncate P with the text `written by guest`
//! * `append:P`  append the line `appended` to P
//! * `mkdir:P`   `create_dir_all(P)`
//! * `list:P`    sorted directory entries, directories with a trailing `/`
//! * `size:P`    file size from metadata
//! * `rename:P=Q`, `rm:P` (file), `rmdir:P` (empty directory)
//! * `exists:P`  whether `metadata(P)` succeeds
//!
//! On failure the line is `<op> <path>: error` and the error kind and message
//! go to stderr (the kind is not part of stdout because it differs between
//! correct implementations, e.g. `NotFound` vs `PermissionDenied`).

use std::fs;
use std::io::Write;

fn run(op: &str, path: &str) -> std::io::Result<String> {
    match op {
        "read" => fs::read_to_string(path).map(|s| format!("{s:?}")),
        "write" => fs::write(path, "written by guest\n").map(|_| "ok".into()),
        "append" => {
            let mut f = fs::OpenOptions::new().append(true).open(path)?;
            f.write_all(b"appended\n")?;
            Ok("ok".into())
        }
        "mkdir" => fs::create_dir_all(path).map(|_| "ok".into()),
        "list" => {
            let mut names = Vec::new();
            for entry in fs::read_dir(path)? {
                let entry = entry?;
                let mut name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type()?.is_dir() {
                    name.push('/');
                }
                names.push(name);
            }
            names.sort();
            Ok(format!("[{}]", names.join(", ")))
        }
        "size" => fs::metadata(path).map(|m| m.len().to_string()),
        "rename" => {
            let (from, to) = path.split_once('=').expect("rename:FROM=TO");
            fs::rename(from, to).map(|_| "ok".into())
        }
        "rm" => fs::remove_file(path).map(|_| "ok".into()),
        "rmdir" => fs::remove_dir(path).map(|_| "ok".into()),
        "exists" => Ok(fs::metadata(path).is_ok().to_string()),
        _ => panic!("unknown op {op:?}"),
    }
}

fn main() {
    for arg in std::env::args().skip(1) {
        let (op, path) = arg.split_once(':').expect("expected <op>:<path>");
        match run(op, path) {
            Ok(result) => println!("{op} {path}: {result}"),
            Err(err) => {
                println!("{op} {path}: error");
                eprintln!("{op} {path}: {:?}: {err}", err.kind());
            }
        }
    }
}
