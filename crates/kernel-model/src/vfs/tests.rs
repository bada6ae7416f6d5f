//! VFS tests: path resolution, the in-memory filesystem through the VFS,
//! and host mounts, including attempts to escape the mounted directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;

use super::*;

const ROOT: Cred = Cred::ROOT;
const USER: Cred = Cred {
    uid: 1000,
    gid: 1000,
};

fn vfs() -> Vfs {
    let mut v = Vfs::default();
    v.write_file(b"/etc/passwd", b"root:x:0:0\n", 0o644)
        .unwrap();
    v.mkdir_all(b"/a/b/c", 0o755).unwrap();
    v.write_file(b"/a/b/c/f", b"hello", 0o644).unwrap();
    v.symlink(b"/a/b", b"/", b"/abs", &ROOT).unwrap();
    v.symlink(b"b/c", b"/", b"/a/rel", &ROOT).unwrap();
    v.symlink(b"loop2", b"/", b"/loop1", &ROOT).unwrap();
    v.symlink(b"loop1", b"/", b"/loop2", &ROOT).unwrap();
    v.symlink(b"nowhere", b"/", b"/dangling", &ROOT).unwrap();
    v
}

fn read_all(v: &mut Vfs, path: &[u8]) -> Result<Vec<u8>, Errno> {
    v.read_file(path)
}

#[test]
fn absolute_relative_and_dot_paths() {
    let mut v = vfs();
    assert_eq!(read_all(&mut v, b"/a/b/c/f").unwrap(), b"hello");
    assert_eq!(v.stat(b"/a", b"b/c/f", true, &ROOT).unwrap().size, 5);
    assert_eq!(v.stat(b"/a/b", b"./c/../c/f", true, &ROOT).unwrap().size, 5);
    assert_eq!(
        v.walk(b"/", b"/../../a", true, &ROOT).unwrap().path(),
        b"/a"
    );
    assert_eq!(v.walk(b"/a/b", b"..", true, &ROOT).unwrap().path(), b"/a");
    assert_eq!(
        v.walk(b"/a/b", b".", true, &ROOT).unwrap().dot,
        Some(Dot::Current)
    );
    assert_eq!(
        v.walk(b"/", b"/", true, &ROOT).unwrap().dot,
        Some(Dot::Root)
    );
    assert_eq!(
        v.walk(b"/a", b"..", true, &ROOT).unwrap().dot,
        Some(Dot::Parent)
    );
    assert_eq!(v.walk(b"/", b"", true, &ROOT).unwrap_err(), Errno::ENOENT);
    assert_eq!(
        v.stat(b"/", b"/a/b/c/f/x", true, &ROOT).unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(
        v.stat(b"/", b"/a/b/c/f/", true, &ROOT).unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(
        v.stat(b"/", b"/a/nope/f", true, &ROOT).unwrap_err(),
        Errno::ENOENT
    );
    let long = [b'x'; 256];
    assert_eq!(
        v.stat(b"/", &long, true, &ROOT).unwrap_err(),
        Errno::ENAMETOOLONG
    );
    // A base that disappeared.
    assert_eq!(
        v.stat(b"/gone", b"x", true, &ROOT).unwrap_err(),
        Errno::ENOENT
    );
}

#[test]
fn symlinks_follow_linux_rules() {
    let mut v = vfs();
    assert_eq!(read_all(&mut v, b"/abs/c/f").unwrap(), b"hello");
    assert_eq!(read_all(&mut v, b"/a/rel/f").unwrap(), b"hello");
    // ".." after a symlink climbs from where the link led (/a/b/c -> /a/b).
    assert_eq!(
        v.walk(b"/", b"/a/rel/..", true, &ROOT).unwrap().path(),
        b"/a/b"
    );
    assert_eq!(
        v.stat(b"/", b"/loop1", true, &ROOT).unwrap_err(),
        Errno::ELOOP
    );
    assert!(v.stat(b"/", b"/loop1", false, &ROOT).unwrap().is_symlink());
    assert_eq!(
        v.stat(b"/", b"/dangling", true, &ROOT).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(v.readlink(b"/", b"/abs", &ROOT).unwrap(), b"/a/b");
    assert_eq!(v.readlink(b"/", b"/a", &ROOT).unwrap_err(), Errno::EINVAL);
    // A trailing slash follows a final symlink.
    assert!(v.stat(b"/", b"/abs/", false, &ROOT).unwrap().is_dir());
    // O_CREAT through a dangling symlink creates the target.
    let f = v
        .open(b"/", b"/dangling", O_CREAT | O_WRONLY, 0o600, &ROOT)
        .unwrap();
    assert_eq!(f.path, b"/nowhere");
    assert!(v.stat(b"/", b"/nowhere", true, &ROOT).is_ok());
    // ... but not with O_EXCL.
    assert_eq!(
        v.open(b"/", b"/abs", O_CREAT | O_EXCL | O_WRONLY, 0o600, &ROOT)
            .unwrap_err(),
        Errno::EEXIST
    );
    assert_eq!(
        v.open(b"/", b"/abs", O_RDONLY | O_NOFOLLOW, 0, &ROOT)
            .unwrap_err(),
        Errno::ELOOP
    );
}

#[test]
fn open_flag_semantics() {
    let mut v = vfs();
    assert_eq!(
        v.open(b"/", b"/nope", O_RDONLY, 0, &ROOT).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(
        v.open(b"/", b"/a", O_WRONLY, 0, &ROOT).unwrap_err(),
        Errno::EISDIR
    );
    assert_eq!(
        v.open(b"/", b"/a", O_RDONLY | O_CREAT, 0, &ROOT)
            .unwrap_err(),
        Errno::EISDIR
    );
    assert_eq!(
        v.open(b"/", b"/etc/passwd", O_DIRECTORY, 0, &ROOT)
            .unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(
        v.open(b"/", b"/new/", O_CREAT | O_WRONLY, 0o644, &ROOT)
            .unwrap_err(),
        Errno::EISDIR
    );
    assert_eq!(
        v.open(b"/", b"/x", O_CREAT | O_DIRECTORY, 0o644, &ROOT)
            .unwrap_err(),
        Errno::EINVAL
    );
    assert!(matches!(
        v.open(b"/", b"/a", O_RDONLY | O_DIRECTORY, 0, &ROOT)
            .unwrap()
            .handle,
        Handle::Dir
    ));
    let f = v
        .open(b"/", b"/etc/passwd", O_RDWR | O_TRUNC, 0, &ROOT)
        .unwrap();
    assert_eq!(v.fstat(&f).unwrap().size, 0);
    let f = v.open(b"/", b"/etc/new", O_CREAT | O_RDWR, 0o640, &USER);
    assert_eq!(f.unwrap_err(), Errno::EACCES);
    let f = v
        .open(b"/", b"/tmp/new", O_CREAT | O_RDWR, 0o640, &USER)
        .unwrap();
    let a = v.fstat(&f).unwrap();
    assert_eq!((a.mode, a.uid, a.gid), (S_IFREG | 0o640, 1000, 1000));
    assert_eq!(v.write(&f, 0, b"data").unwrap(), 4);
    let mut buf = [0u8; 8];
    assert_eq!(v.read(&f, 1, &mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"ata");
    let p = v.open(b"/", b"/tmp/new", O_PATH, 0, &USER).unwrap();
    assert_eq!(v.read(&p, 0, &mut buf).unwrap_err(), Errno::EBADF);
}

#[test]
fn permissions_and_sticky_directories() {
    let mut v = vfs();
    v.write_file(b"/secret", b"s", 0o600).unwrap();
    assert_eq!(
        v.open(b"/", b"/secret", O_RDONLY, 0, &USER).unwrap_err(),
        Errno::EACCES
    );
    assert!(v.open(b"/", b"/secret", O_RDONLY, 0, &ROOT).is_ok());
    assert_eq!(
        v.access(b"/", b"/secret", R_OK, true, &USER).unwrap_err(),
        Errno::EACCES
    );
    assert_eq!(
        v.access(b"/", b"/secret", X_OK, true, &ROOT).unwrap_err(),
        Errno::EACCES
    );
    assert!(v.access(b"/", b"/secret", F_OK, true, &USER).is_ok());
    v.mkdir(b"/", b"/private", 0o700, &ROOT).unwrap();
    v.write_file(b"/private/f", b"", 0o666).unwrap();
    assert_eq!(
        v.stat(b"/", b"/private/f", true, &USER).unwrap_err(),
        Errno::EACCES
    );
    // Sticky /tmp: a user cannot remove root's file there.
    v.write_file(b"/tmp/rootfile", b"", 0o666).unwrap();
    assert_eq!(
        v.unlink(b"/", b"/tmp/rootfile", &USER).unwrap_err(),
        Errno::EPERM
    );
    v.open(b"/", b"/tmp/mine", O_CREAT | O_WRONLY, 0o600, &USER)
        .unwrap();
    assert!(v.unlink(b"/", b"/tmp/mine", &USER).is_ok());
}

#[test]
fn directory_operations() {
    let mut v = vfs();
    assert_eq!(
        v.mkdir(b"/", b"/a", 0o755, &ROOT).unwrap_err(),
        Errno::EEXIST
    );
    assert_eq!(
        v.mkdir(b"/", b"/dangling", 0o755, &ROOT).unwrap_err(),
        Errno::EEXIST
    );
    assert_eq!(
        v.mkdir(b"/", b"/x/y", 0o755, &ROOT).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(
        v.mkdir(b"/", b"/a/.", 0o755, &ROOT).unwrap_err(),
        Errno::EEXIST
    );
    v.mkdir(b"/", b"/d/", 0o755, &ROOT).unwrap();
    assert_eq!(v.rmdir(b"/", b"/a", &ROOT).unwrap_err(), Errno::ENOTEMPTY);
    assert_eq!(
        v.rmdir(b"/", b"/etc/passwd", &ROOT).unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(v.rmdir(b"/d", b".", &ROOT).unwrap_err(), Errno::EINVAL);
    assert_eq!(v.rmdir(b"/d", b"..", &ROOT).unwrap_err(), Errno::ENOTEMPTY);
    assert_eq!(v.rmdir(b"/", b"/", &ROOT).unwrap_err(), Errno::EBUSY);
    assert_eq!(v.unlink(b"/", b"/d", &ROOT).unwrap_err(), Errno::EISDIR);
    assert_eq!(
        v.unlink(b"/", b"/etc/passwd/", &ROOT).unwrap_err(),
        Errno::ENOTDIR
    );
    v.rmdir(b"/", b"/d", &ROOT).unwrap();
    assert_eq!(v.rmdir(b"/", b"/d", &ROOT).unwrap_err(), Errno::ENOENT);
    // unlink removes the link, not its target.
    v.unlink(b"/", b"/abs", &ROOT).unwrap();
    assert!(v.stat(b"/", b"/a/b", true, &ROOT).is_ok());
    let d = v.open(b"/", b"/a/b", O_RDONLY, 0, &ROOT).unwrap();
    let names: Vec<Vec<u8>> = v.readdir(&d).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, vec![b".".to_vec(), b"..".to_vec(), b"c".to_vec()]);
}

#[test]
fn rename_rules() {
    let mut v = vfs();
    v.rename(b"/", b"/a/b/c/f", b"/", b"/tmp/g", 0, &ROOT)
        .unwrap();
    assert_eq!(read_all(&mut v, b"/tmp/g").unwrap(), b"hello");
    assert_eq!(
        v.rename(b"/", b"/a", b"/", b"/a/b/x", 0, &ROOT)
            .unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(
        v.rename(b"/", b"/a/b/c", b"/", b"/a", 0, &ROOT)
            .unwrap_err(),
        Errno::ENOTEMPTY
    );
    assert_eq!(
        v.rename(b"/", b"/nope", b"/", b"/x", 0, &ROOT).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(
        v.rename(b"/", b"/a/.", b"/", b"/x", 0, &ROOT).unwrap_err(),
        Errno::EBUSY
    );
    assert_eq!(
        v.rename(
            b"/",
            b"/tmp/g",
            b"/",
            b"/etc/passwd",
            RENAME_NOREPLACE,
            &ROOT
        )
        .unwrap_err(),
        Errno::EEXIST
    );
    assert_eq!(
        v.rename(b"/", b"/tmp/g", b"/", b"/x", RENAME_EXCHANGE, &ROOT)
            .unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(
        v.rename(b"/", b"/tmp/g", b"/", b"/a", 0, &ROOT)
            .unwrap_err(),
        Errno::EISDIR
    );
    assert_eq!(
        v.rename(b"/", b"/tmp/g", b"/", b"/newdir/", 0, &ROOT)
            .unwrap_err(),
        Errno::ENOTDIR
    );
    v.rename(b"/", b"/tmp/g", b"/", b"/etc/passwd", 0, &ROOT)
        .unwrap();
    assert_eq!(read_all(&mut v, b"/etc/passwd").unwrap(), b"hello");
    v.rename(b"/", b"/a/b", b"/", b"/moved", 0, &ROOT).unwrap();
    assert!(v.stat(b"/", b"/moved/c", true, &ROOT).unwrap().is_dir());
    assert_eq!(v.rename(b"/", b"/tmp", b"/", b"/tmp", 0, &ROOT), Ok(()));
}

#[test]
fn truncate_link_and_memfs_mounts() {
    let mut v = vfs();
    v.truncate(b"/", b"/a/b/c/f", 2, &ROOT).unwrap();
    assert_eq!(read_all(&mut v, b"/a/b/c/f").unwrap(), b"he");
    assert_eq!(
        v.truncate(b"/", b"/a", 2, &ROOT).unwrap_err(),
        Errno::EISDIR
    );
    v.link(b"/", b"/a/b/c/f", b"/", b"/hard", false, &ROOT)
        .unwrap();
    assert_eq!(v.stat(b"/", b"/hard", true, &ROOT).unwrap().nlink, 2);
    assert_eq!(
        v.link(b"/", b"/a", b"/", b"/hd", false, &ROOT).unwrap_err(),
        Errno::EPERM
    );
    assert_eq!(
        v.link(b"/", b"/hard", b"/", b"/h2/", false, &ROOT),
        Err(Errno::ENOENT)
    );
    assert_eq!(v.symlink(b"/x", b"/", b"/s2/", &ROOT), Err(Errno::ENOENT));
    v.mount_memfs("/mnt").unwrap();
    v.write_file(b"/mnt/x", b"in mount", 0o644).unwrap();
    assert_eq!(
        v.link(b"/", b"/mnt/x", b"/", b"/xl", false, &ROOT)
            .unwrap_err(),
        Errno::EXDEV
    );
    assert_eq!(
        v.rename(b"/", b"/mnt/x", b"/", b"/xr", 0, &ROOT)
            .unwrap_err(),
        Errno::EXDEV
    );
    assert_eq!(v.rmdir(b"/", b"/mnt", &ROOT).unwrap_err(), Errno::EBUSY);
    assert_ne!(
        v.stat(b"/", b"/mnt/x", true, &ROOT).unwrap().dev,
        v.stat(b"/", b"/hard", true, &ROOT).unwrap().dev
    );
    assert_eq!(
        v.walk(b"/mnt", b"../etc", true, &ROOT).unwrap().path(),
        b"/etc"
    );
    assert!(v.mount_memfs("relative").is_err());
    assert!(v.mount_memfs("/a/../b").is_err());
}

// ---- Host mounts ----

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh host tree under /tmp:
/// ```text
/// outside/secret            "SECRET"
/// mnt/file                  "inside"
/// mnt/etc/passwd            "guest-passwd"
/// mnt/sub/ok     -> ../file
/// mnt/up         -> ../outside/secret
/// mnt/deep       -> sub/../../outside/secret
/// mnt/abs        -> /etc/passwd           (the mount's own etc/passwd)
/// mnt/hostabs    -> <host path of outside/secret>
/// mnt/self       -> .
/// mnt/dotdot     -> ..
/// ```
struct HostTree {
    dir: PathBuf,
}

impl HostTree {
    fn new() -> HostTree {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sysgate-vfs-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        std::fs::create_dir_all(dir.join("mnt/etc")).unwrap();
        std::fs::create_dir_all(dir.join("mnt/sub")).unwrap();
        std::fs::write(dir.join("outside/secret"), "SECRET").unwrap();
        std::fs::write(dir.join("mnt/file"), "inside").unwrap();
        std::fs::write(dir.join("mnt/etc/passwd"), "guest-passwd").unwrap();
        let link = |t: &str, l: &str| std::os::unix::fs::symlink(t, dir.join(l)).unwrap();
        link("../file", "mnt/sub/ok");
        link("../outside/secret", "mnt/up");
        link("sub/../../outside/secret", "mnt/deep");
        link("/etc/passwd", "mnt/abs");
        link(dir.join("outside/secret").to_str().unwrap(), "mnt/hostabs");
        link(".", "mnt/self");
        link("..", "mnt/dotdot");
        HostTree { dir }
    }

    fn mnt(&self) -> PathBuf {
        self.dir.join("mnt")
    }
}

impl Drop for HostTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn host_vfs(tree: &HostTree, writable: bool) -> Vfs {
    let mut v = vfs();
    v.mount_host("/host", &tree.mnt(), writable).unwrap();
    v
}

#[test]
fn host_mount_reads_and_writes_inside() {
    let tree = HostTree::new();
    let mut v = host_vfs(&tree, true);
    assert_eq!(read_all(&mut v, b"/host/file").unwrap(), b"inside");
    assert_eq!(read_all(&mut v, b"/host/sub/ok").unwrap(), b"inside");
    assert_eq!(read_all(&mut v, b"/host/abs").unwrap(), b"guest-passwd");
    assert_eq!(
        read_all(&mut v, b"/host/self/self/file").unwrap(),
        b"inside"
    );
    v.write_file(b"/host/new.txt", b"written by guest", 0o644)
        .unwrap();
    assert_eq!(
        std::fs::read(tree.mnt().join("new.txt")).unwrap(),
        b"written by guest"
    );
    v.mkdir(b"/", b"/host/d", 0o755, &ROOT).unwrap();
    v.rename(b"/", b"/host/new.txt", b"/", b"/host/d/n", 0, &ROOT)
        .unwrap();
    assert!(tree.mnt().join("d/n").exists());
    assert_eq!(
        v.rmdir(b"/", b"/host/d", &ROOT).unwrap_err(),
        Errno::ENOTEMPTY
    );
    v.unlink(b"/", b"/host/d/n", &ROOT).unwrap();
    v.rmdir(b"/", b"/host/d", &ROOT).unwrap();
    assert!(!tree.mnt().join("d").exists());
    assert_eq!(
        v.symlink(b"/x", b"/", b"/host/l", &ROOT).unwrap_err(),
        Errno::EPERM
    );
    assert_eq!(
        v.link(b"/", b"/host/file", b"/", b"/host/l", false, &ROOT)
            .unwrap_err(),
        Errno::EPERM
    );
    assert_eq!(
        v.rename(b"/", b"/host/file", b"/", b"/tmp/file", 0, &ROOT)
            .unwrap_err(),
        Errno::EXDEV
    );
    let d = v
        .open(b"/", b"/host", O_RDONLY | O_DIRECTORY, 0, &ROOT)
        .unwrap();
    let names: Vec<Vec<u8>> = v.readdir(&d).unwrap().into_iter().map(|e| e.name).collect();
    assert!(names.contains(&b"file".to_vec()) && names.contains(&b"up".to_vec()));
    assert_eq!(
        v.readlink(b"/", b"/host/up", &ROOT).unwrap(),
        b"../outside/secret"
    );
    assert_eq!(v.rmdir(b"/", b"/host", &ROOT).unwrap_err(), Errno::EBUSY);
}

#[test]
fn host_mount_read_only() {
    let tree = HostTree::new();
    let mut v = host_vfs(&tree, false);
    assert_eq!(read_all(&mut v, b"/host/file").unwrap(), b"inside");
    assert_eq!(
        v.open(b"/", b"/host/file", O_WRONLY, 0, &ROOT).unwrap_err(),
        Errno::EROFS
    );
    assert_eq!(
        v.open(b"/", b"/host/x", O_CREAT | O_WRONLY, 0o644, &ROOT)
            .unwrap_err(),
        Errno::EROFS
    );
    assert_eq!(
        v.mkdir(b"/", b"/host/x", 0o755, &ROOT).unwrap_err(),
        Errno::EROFS
    );
    assert_eq!(
        v.unlink(b"/", b"/host/file", &ROOT).unwrap_err(),
        Errno::EROFS
    );
    assert_eq!(
        v.truncate(b"/", b"/host/file", 0, &ROOT).unwrap_err(),
        Errno::EROFS
    );
    assert_eq!(
        v.access(b"/", b"/host/file", W_OK, true, &ROOT)
            .unwrap_err(),
        Errno::EROFS
    );
    assert_eq!(std::fs::read(tree.mnt().join("file")).unwrap(), b"inside");
}

#[test]
fn host_escape_attempts_fail() {
    let tree = HostTree::new();
    let mut v = host_vfs(&tree, true);
    // A guest "..": the mount point's parent in the guest, not the host's.
    assert_eq!(
        read_all(&mut v, b"/host/../outside/secret").unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(v.walk(b"/host", b"..", true, &ROOT).unwrap().path(), b"/");
    assert_eq!(
        read_all(&mut v, b"/host/../../../outside/secret").unwrap_err(),
        Errno::ENOENT
    );
    // Symlinks that climb out of the mount are refused.
    assert_eq!(read_all(&mut v, b"/host/up").unwrap_err(), Errno::EXDEV);
    assert_eq!(read_all(&mut v, b"/host/deep").unwrap_err(), Errno::EXDEV);
    assert_eq!(
        read_all(&mut v, b"/host/dotdot/outside/secret").unwrap_err(),
        Errno::EXDEV
    );
    // An absolute host path in a symlink is taken relative to the mount.
    assert_eq!(
        read_all(&mut v, b"/host/hostabs").unwrap_err(),
        Errno::ENOENT
    );
    // Writes through escaping links fail too, and create nothing outside.
    assert_eq!(
        v.open(b"/", b"/host/up", O_WRONLY | O_TRUNC, 0, &ROOT)
            .unwrap_err(),
        Errno::EXDEV
    );
    assert_eq!(
        std::fs::read(tree.dir.join("outside/secret")).unwrap(),
        b"SECRET"
    );
    // Names that would be host path syntax are just names here.
    assert_eq!(
        v.stat(b"/", b"/host/sub/..", true, &ROOT).unwrap().ino,
        v.stat(b"/", b"/host", true, &ROOT).unwrap().ino
    );
    // A cwd inside the mount resolves relative paths inside it.
    assert_eq!(read_all(&mut v, b"/host/sub/ok").unwrap(), b"inside");
    assert_eq!(
        v.stat(b"/host/sub", b"../../outside/secret", true, &ROOT)
            .unwrap_err(),
        Errno::ENOENT
    );
    // The mount at / confines absolute symlinks to the host directory.
    let mut r = Vfs::default();
    r.mount_host("/", &tree.mnt(), false).unwrap();
    assert_eq!(read_all(&mut r, b"/abs").unwrap(), b"guest-passwd");
    assert_eq!(
        read_all(&mut r, b"/../../outside/secret").unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(read_all(&mut r, b"/up").unwrap_err(), Errno::EXDEV);
    assert_eq!(read_all(&mut r, b"/hostabs").unwrap_err(), Errno::ENOENT);
}

fn component() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "..", ".", "up", "deep", "abs", "hostabs", "self", "dotdot", "sub", "ok", "file",
        "outside", "secret", "etc", "passwd", "mnt", "host", "",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever path the guest forms from these pieces, anything it reaches
    /// on the host lies inside the mounted directory, and the secret next
    /// to it is never read.
    #[test]
    fn no_path_reaches_outside_the_mount(
        parts in prop::collection::vec(component(), 1..8),
        absolute in any::<bool>(),
        base in prop::sample::select(vec!["/", "/host", "/host/sub", "/tmp"]),
        follow in any::<bool>(),
    ) {
        let tree = HostTree::new();
        let mut v = host_vfs(&tree, true);
        let mut path = parts.join("/");
        if absolute {
            path.insert(0, '/');
        }
        if path.is_empty() {
            path.push('.');
        }
        let root = tree.mnt().canonicalize().unwrap();
        if let Ok(w) = v.walk(base.as_bytes(), path.as_bytes(), follow, &ROOT) {
            for (node, _) in &w.parent {
                if let NodeId::Host(rel) = &node.id {
                    let hp = v.hostfs(node.mount).unwrap().host_path(rel).unwrap();
                    prop_assert!(hp.canonicalize().unwrap().starts_with(&root));
                }
            }
            for (node, _) in w.parent.iter().chain(w.node.as_ref().map(|n| (n.clone(), Vec::new())).iter()) {
                if let NodeId::Host(rel) = &node.id {
                    let hp = v.hostfs(node.mount).unwrap().host_path(rel).unwrap();
                    prop_assert!(hp.starts_with(&root), "{:?} escapes {:?}", hp, root);
                    prop_assert!(rel.iter().all(|c| hostfs::valid_component(c)));
                }
            }
        }
        if let Ok(data) = v.read_file(&{
            let mut p = base.as_bytes().to_vec();
            p.push(b'/');
            p.extend_from_slice(path.as_bytes());
            p
        }) {
            prop_assert_ne!(data, b"SECRET".to_vec());
        }
        let _ = v.write_file(format!("{base}/{path}").as_bytes(), b"x", 0o644);
        prop_assert_eq!(std::fs::read(tree.dir.join("outside/secret")).unwrap(), b"SECRET".to_vec());
        let outside: Vec<_> = std::fs::read_dir(tree.dir.join("outside")).unwrap().collect();
        prop_assert_eq!(outside.len(), 1);
    }
}
