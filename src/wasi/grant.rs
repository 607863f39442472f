//! Directories a process grants to a config it creates
//! (`lunatic::wasi::config_preopen_dir`), and `HOST::GUEST` mappings.
//!
//! A config may grant only what its creator can reach itself. The path a
//! guest names is read in the guest's own WASI view, exactly as its WASI
//! calls would read it: it must lie inside one of the creator's *current*
//! preopened descriptors (closing one gives it up; renumbering keeps it),
//! chosen by the longest matching preopen name. The rest of the path is
//! opened by cap-std inside that directory, so `..` past it, absolute
//! symlinks and symlinks leading out fail, as they do for the creator's own
//! `path_open`. The grant carries no more rights than the creator's
//! descriptor: the same rights for the preopen itself, its inheriting
//! rights for a directory below it.
//!
//! The child's preopen is the handle opened here (shared by every process
//! spawned with the config), not a host path opened again at spawn time, so
//! the creator cannot redirect it afterwards by renaming or symlinking.
//!
//! The guest-visible name of the new preopen (`GUEST` in `SOURCE::GUEST`)
//! is free: it only changes how the child's paths read, not what they reach.

use super::table::Kind;
use super::types::{RIGHTS_DIR, RIGHT_PATH_OPEN};
use super::WasiCtx;
use crate::protocol::Preopen;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Most preopened directories one config may carry: each granted one holds
/// a host descriptor while the config (or a process spawned with it) lives.
pub(crate) const MAX_CONFIG_PREOPENS: usize = 64;

/// Splits a `--dir`/`config_preopen_dir` argument: `HOST::GUEST` maps a
/// directory under another name (wasmtime's spelling), a plain `DIR` is
/// seen under its own name.
pub(crate) fn split_mapping(spec: &str) -> (&str, &str) {
    spec.split_once("::").unwrap_or((spec, spec))
}

/// Checks a guest-visible preopen name: not empty, no NUL byte.
pub(crate) fn check_guest_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("the guest path is empty".into())
    } else if name.contains('\0') {
        Err("the guest path contains a NUL byte".into())
    } else {
        Ok(())
    }
}

/// What a grant resolves to before the directory is opened: the creator's
/// directory, the path below it, and the rights to pass on.
pub(crate) struct Candidate {
    dir: Arc<cap_std::fs::Dir>,
    rest: PathBuf,
    host: PathBuf,
    rights_base: u64,
    rights_inheriting: u64,
}

impl WasiCtx {
    /// The creator's preopens that `source` may lie in, longest name first.
    /// Empty when `source` is outside every one of them.
    pub(crate) fn grant_candidates(&self, source: &str) -> Vec<Candidate> {
        let mut found: Vec<(usize, Candidate)> = Vec::new();
        for entry in self.fds.entries() {
            let Kind::Dir(dir) = &entry.kind else { continue };
            let Some(name) = &dir.preopen else { continue };
            let Some((len, rest)) = below(name, source) else { continue };
            let at_root = rest.as_os_str().is_empty();
            // A directory below the preopen is reached by opening it.
            if !at_root && !entry.can(RIGHT_PATH_OPEN) {
                continue;
            }
            let (rights_base, rights_inheriting) = if at_root {
                (entry.rights_base, entry.rights_inheriting)
            } else {
                (entry.rights_inheriting & RIGHTS_DIR, entry.rights_inheriting)
            };
            let host = dir.host.as_deref().unwrap_or(Path::new(name)).join(&rest);
            found.push((
                len,
                Candidate { dir: dir.dir.clone(), rest, host, rights_base, rights_inheriting },
            ));
        }
        found.sort_by_key(|c| std::cmp::Reverse(c.0));
        found.into_iter().map(|(_, c)| c).collect()
    }
}

/// Opens the first candidate that works (this may block: it runs on the
/// blocking pool) and makes the preopen named `guest`; the error of the
/// longest candidate otherwise.
pub(crate) fn open_grant(candidates: Vec<Candidate>, guest: String) -> Result<Preopen, String> {
    let mut first_error = None;
    for c in candidates {
        let dir = if c.rest.as_os_str().is_empty() {
            Ok(c.dir.clone())
        } else {
            c.dir.open_dir(&c.rest).and_then(shared)
        };
        match dir {
            Ok(dir) => {
                return Ok(Preopen::granted(
                    c.host,
                    guest,
                    dir,
                    c.rights_base,
                    c.rights_inheriting,
                ));
            }
            Err(e) => {
                if first_error.is_none() {
                    let why = match super::errno::from_io(&e) {
                        super::types::Errno::NOTCAPABLE => {
                            "it leads outside the directory it is in".to_string()
                        }
                        _ => e.to_string(),
                    };
                    first_error = Some(why);
                }
            }
        }
    }
    Err(first_error
        .unwrap_or_else(|| "it is outside every directory this process can reach".into()))
}

/// One handle per granted directory: a new handle is dropped in favour of
/// a live one to the same directory (device and inode), so granting the
/// same directory again and again costs no host descriptors. Handles carry
/// no state a process could change, so sharing them is invisible.
fn shared(dir: cap_std::fs::Dir) -> std::io::Result<Arc<cap_std::fs::Dir>> {
    #[cfg(unix)]
    {
        use cap_std::fs::MetadataExt as _;
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock, Weak};
        type Cache = Mutex<HashMap<(u64, u64), Weak<cap_std::fs::Dir>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let meta = dir.dir_metadata()?;
        let key = (meta.dev(), meta.ino());
        let mut cache =
            CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(live) = cache.get(&key).and_then(Weak::upgrade) {
            return Ok(live);
        }
        let dir = Arc::new(dir);
        cache.retain(|_, d| d.strong_count() > 0);
        cache.insert(key, Arc::downgrade(&dir));
        Ok(dir)
    }
    #[cfg(not(unix))]
    Ok(Arc::new(dir))
}

/// The components of a path, without `.` ones.
fn components(path: &str) -> Vec<Component<'_>> {
    Path::new(path).components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

/// If `source` lies under the preopen `name` (by whole components, both
/// absolute or both relative), how many components matched and the rest.
/// `.` and `..` in the rest are left for the sandboxed open to judge.
fn below(name: &str, source: &str) -> Option<(usize, PathBuf)> {
    if Path::new(name).has_root() != Path::new(source).has_root() {
        return None;
    }
    let name = components(name);
    let source = components(source);
    if source.len() < name.len() || source[..name.len()] != name[..] {
        return None;
    }
    Some((name.len(), source[name.len()..].iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_split_on_the_first_double_colon() {
        assert_eq!(split_mapping("data"), ("data", "data"));
        assert_eq!(split_mapping("./fixture::/"), ("./fixture", "/"));
        assert_eq!(split_mapping("/srv/data::/data"), ("/srv/data", "/data"));
        assert_eq!(split_mapping("a::b::c"), ("a", "b::c"));
        assert!(check_guest_name("").is_err());
        assert!(check_guest_name("a\0").is_err());
        assert!(check_guest_name("/").is_ok());
    }

    /// A scratch tree `root/box/sub` with `root/secret`, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            let root =
                std::env::temp_dir().join(format!("lunatic-grant-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(root.join("box/sub")).unwrap();
            std::fs::write(root.join("secret"), "s").unwrap();
            Scratch(root)
        }

        /// A process context whose only preopen is `box`, named `name`.
        fn ctx(&self, name: &str) -> WasiCtx {
            let mut config = crate::protocol::ProcessConfig::default();
            config.preopens = vec![Preopen::new(self.0.join("box"), name)];
            WasiCtx::new(&config).unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn grant(ctx: &WasiCtx, source: &str) -> Result<Preopen, String> {
        open_grant(ctx.grant_candidates(source), "child".into())
    }

    #[test]
    fn grants_stay_inside_and_carry_no_more_rights() {
        use super::super::types::*;
        let s = Scratch::new("rights");
        let mut ctx = s.ctx("/data");
        let whole = grant(&ctx, "/data").unwrap();
        let g = whole.granted.as_ref().unwrap();
        assert_eq!((g.rights_base, g.rights_inheriting), (RIGHTS_DIR, RIGHTS_ALL));
        let sub = grant(&ctx, "/data/sub").unwrap().granted.unwrap();
        assert!(sub.dir.exists("."));
        // The same directory granted again shares the handle.
        let again = grant(&ctx, "/data/sub/../sub").unwrap().granted.unwrap();
        #[cfg(unix)]
        assert!(Arc::ptr_eq(&sub.dir, &again.dir));
        drop((sub, again));
        for refused in
            ["/", "/data/..", "/data/sub/../..", "data", ".", "/datasub", "/data/missing"]
        {
            assert!(grant(&ctx, refused).is_err(), "{refused}");
        }
        // The creator gives up rights on its descriptor: grants shrink too.
        let entry = ctx.fds.get_mut(3).unwrap();
        entry.rights_base &= !RIGHT_PATH_CREATE_FILE;
        entry.rights_inheriting &= !RIGHT_FD_WRITE;
        let g = grant(&ctx, "/data").unwrap().granted.unwrap();
        assert_eq!(g.rights_base, RIGHTS_DIR & !RIGHT_PATH_CREATE_FILE);
        assert_eq!(g.rights_inheriting, RIGHTS_ALL & !RIGHT_FD_WRITE);
        let g = grant(&ctx, "/data/sub").unwrap().granted.unwrap();
        assert_eq!(g.rights_inheriting & RIGHT_FD_WRITE, 0);
        // Without PATH_OPEN nothing below the preopen can be granted.
        ctx.fds.get_mut(3).unwrap().rights_base &= !RIGHT_PATH_OPEN;
        assert!(grant(&ctx, "/data/sub").is_err());
        assert!(grant(&ctx, "/data").is_ok());
        // A closed preopen is given up.
        ctx.fds.remove(3).unwrap();
        assert!(grant(&ctx, "/data").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_preopen_are_refused() {
        let s = Scratch::new("symlinks");
        std::os::unix::fs::symlink("..", s.0.join("box/up")).unwrap();
        std::os::unix::fs::symlink("/", s.0.join("box/root")).unwrap();
        std::os::unix::fs::symlink("sub", s.0.join("box/down")).unwrap();
        let ctx = s.ctx(".");
        assert!(grant(&ctx, "up").is_err());
        assert!(grant(&ctx, "root").is_err());
        assert!(grant(&ctx, "sub/../up").is_err());
        assert!(grant(&ctx, "down").is_ok());
    }

    #[test]
    fn sources_match_preopens_by_whole_components() {
        let rest = |name, source| below(name, source).map(|(n, p)| (n, p.display().to_string()));
        assert_eq!(rest(".", "sub/x"), Some((0, "sub/x".into())));
        assert_eq!(rest(".", "."), Some((0, "".into())));
        assert_eq!(rest(".", "./sub"), Some((0, "sub".into())));
        // `..` is kept for cap-std to refuse.
        assert_eq!(rest(".", "../x"), Some((0, "../x".into())));
        assert_eq!(rest(".", "/etc"), None);
        assert_eq!(rest("/", "/etc"), Some((1, "etc".into())));
        assert_eq!(rest("/", "etc"), None);
        assert_eq!(rest("/data", "/data/a/b"), Some((2, "a/b".into())));
        assert_eq!(rest("/data", "/database"), None);
        assert_eq!(rest("/data", "/"), None);
        assert_eq!(rest("box", "box/../.."), Some((1, "../..".into())));
    }
}
