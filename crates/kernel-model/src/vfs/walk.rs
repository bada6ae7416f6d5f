//! Path resolution, component by component (the rules are in the [`super`]
//! module docs).

use std::collections::VecDeque;

use super::{Cred, MAY_EXEC, Node, Vfs, components, join, permission};
use crate::errno::Errno;
use crate::uapi::{MAXSYMLINKS, NAME_MAX};

/// How a path ended when it named a directory without a final name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dot {
    /// The path ended in `.` (`"a/."`, `"."`).
    Current,
    /// The path ended in `..`.
    Parent,
    /// The path was `/` (or a symlink to it).
    Root,
}

/// The result of resolving a path.
#[derive(Clone, Debug)]
pub struct Walked {
    /// The directories walked from the root down to the parent of the
    /// final component, each with the name that led to it (`""` for the
    /// root). For a [`Dot`] result it ends with the directory named.
    pub parent: Vec<(Node, Vec<u8>)>,
    /// The final component (empty for a [`Dot`] result).
    pub name: Vec<u8>,
    /// The final node, if it exists.
    pub node: Option<Node>,
    /// The path ended in `/`, `.` or `..`: the final must be a directory.
    pub must_be_dir: bool,
    /// Set when the path ended in `.`, `..` or was `/`.
    pub dot: Option<Dot>,
}

impl Walked {
    /// The parent directory (for a [`Dot`] result, the directory itself).
    pub fn dir(&self) -> Result<&Node, Errno> {
        self.parent.last().map(|(n, _)| n).ok_or(Errno::ENOENT)
    }

    /// Canonical absolute guest path of the parent directory.
    pub fn dir_path(&self) -> Vec<u8> {
        let names: Vec<Vec<u8>> = self.parent.iter().skip(1).map(|(_, n)| n.clone()).collect();
        join(&names)
    }

    /// Canonical absolute guest path of the final component.
    pub fn path(&self) -> Vec<u8> {
        let mut names: Vec<Vec<u8>> = self.parent.iter().skip(1).map(|(_, n)| n.clone()).collect();
        if self.dot.is_none() {
            names.push(self.name.clone());
        }
        join(&names)
    }

    /// The existing final node, or `ENOENT`.
    pub fn existing(&self) -> Result<&Node, Errno> {
        self.node.as_ref().ok_or(Errno::ENOENT)
    }
}

enum Tok {
    Name(Vec<u8>),
    /// End of an expanded symlink target: restore the previous floor.
    EndLink,
}

/// The lowest stack index `..` may reach, and whether reaching below it is
/// an error (`EXDEV`, inside a host-mount symlink) or a no-op (guest root).
#[derive(Clone, Copy)]
struct Floor {
    index: usize,
    confined: bool,
}

impl Vfs {
    /// The directory stack of an absolute canonical base path (the cwd or
    /// a directory fd's path); `ENOENT` if it no longer exists, `ENOTDIR`
    /// if it is no longer a directory. Search permission along the base is
    /// not rechecked, as Linux keeps a reference to the directory.
    fn base_stack(&self, base: &[u8]) -> Result<Vec<(Node, Vec<u8>)>, Errno> {
        let root = vec![(self.root_node(), Vec::new())];
        if components(base).next().is_none() {
            return Ok(root);
        }
        let w = self.walk_from(root, base, true, &Cred::ROOT)?;
        let node = w.existing()?.clone();
        if !self.getattr(&node)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut stack = w.parent;
        if w.dot.is_none() {
            stack.push((node, w.name));
        }
        Ok(stack)
    }

    /// Resolves `path` relative to the directory at canonical path `base`.
    /// `follow` decides whether a symlink in the final position is
    /// followed (a trailing `/` always follows). An empty path is `ENOENT`.
    pub fn walk(
        &self,
        base: &[u8],
        path: &[u8],
        follow: bool,
        cred: &Cred,
    ) -> Result<Walked, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let start = if path.first() == Some(&b'/') {
            vec![(self.root_node(), Vec::new())]
        } else {
            self.base_stack(base)?
        };
        self.walk_from(start, path, follow, cred)
    }

    fn walk_from(
        &self,
        mut stack: Vec<(Node, Vec<u8>)>,
        path: &[u8],
        follow: bool,
        cred: &Cred,
    ) -> Result<Walked, Errno> {
        let mut trailing = path.last() == Some(&b'/');
        let mut toks: VecDeque<Tok> = components(path).map(|c| Tok::Name(c.to_vec())).collect();
        let mut floors = vec![Floor {
            index: 0,
            confined: false,
        }];
        let mut links = 0u32;
        let mut dot = if components(path).next().is_none() {
            Some(super::Dot::Root)
        } else {
            None
        };
        while let Some(tok) = toks.pop_front() {
            let name = match tok {
                Tok::EndLink => {
                    if floors.len() > 1 {
                        floors.pop();
                    }
                    continue;
                }
                Tok::Name(n) => n,
            };
            let is_last = !toks.iter().any(|t| matches!(t, Tok::Name(_)));
            let (dir, _) = stack.last().ok_or(Errno::ENOENT)?;
            let dattr = self.getattr(dir)?;
            if !dattr.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            permission(&dattr, cred, MAY_EXEC)?;
            if name == b"." {
                if is_last {
                    dot = Some(Dot::Current);
                }
                continue;
            }
            if name == b".." {
                let floor = floors.last().copied().unwrap_or(Floor {
                    index: 0,
                    confined: false,
                });
                if stack.len() > floor.index + 1 {
                    stack.pop();
                } else if floor.confined {
                    // A host-mount symlink tried to climb above its mount.
                    return Err(Errno::EXDEV);
                }
                if is_last {
                    dot = Some(Dot::Parent);
                }
                continue;
            }
            dot = None;
            if name.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let child = self.child_crossing_mounts(&stack, dir, &name)?;
            let Some(child) = child else {
                if is_last {
                    return Ok(Walked {
                        parent: stack,
                        name,
                        node: None,
                        must_be_dir: trailing,
                        dot: None,
                    });
                }
                return Err(Errno::ENOENT);
            };
            let cattr = self.getattr(&child)?;
            if cattr.is_symlink() && (!is_last || follow || trailing) {
                links += 1;
                if links > MAXSYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = self.readlink_node(&child)?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                let absolute = target.first() == Some(&b'/');
                if self.is_host(child.mount) {
                    // Confine the target to the symlink's host mount.
                    let root = self.mount_root(child.mount)?;
                    let index = stack
                        .iter()
                        .rposition(|(n, _)| *n == root)
                        .ok_or(Errno::EXDEV)?;
                    if absolute {
                        stack.truncate(index + 1);
                    }
                    floors.push(Floor {
                        index,
                        confined: true,
                    });
                } else {
                    if absolute {
                        stack.truncate(1);
                    }
                    floors.push(Floor {
                        index: 0,
                        confined: false,
                    });
                }
                if is_last && target.last() == Some(&b'/') {
                    trailing = true;
                }
                toks.push_front(Tok::EndLink);
                let parts: Vec<&[u8]> = components(&target).collect();
                for p in parts.into_iter().rev() {
                    toks.push_front(Tok::Name(p.to_vec()));
                }
                if is_last && components(&target).next().is_none() {
                    // The target was "/": the final is the floor directory.
                    dot = Some(if stack.len() == 1 {
                        Dot::Root
                    } else {
                        Dot::Current
                    });
                }
                continue;
            }
            if is_last {
                if trailing && !cattr.is_dir() {
                    return Err(Errno::ENOTDIR);
                }
                return Ok(Walked {
                    parent: stack,
                    name,
                    node: Some(child),
                    must_be_dir: trailing,
                    dot: None,
                });
            }
            stack.push((child, name));
        }
        // The path named a directory without a final name ("/", "a/..", ".").
        let (node, _) = stack.last().ok_or(Errno::ENOENT)?;
        let node = node.clone();
        Ok(Walked {
            parent: stack,
            name: Vec::new(),
            node: Some(node),
            must_be_dir: true,
            dot: Some(dot.unwrap_or(Dot::Current)),
        })
    }

    /// The child `name` of `dir` (at the top of `stack`), entering a mount
    /// mounted at that guest path if there is one.
    fn child_crossing_mounts(
        &self,
        stack: &[(Node, Vec<u8>)],
        dir: &Node,
        name: &[u8],
    ) -> Result<Option<Node>, Errno> {
        if self.mounts.len() > 1 {
            let mut path: Vec<Vec<u8>> = stack.iter().skip(1).map(|(_, n)| n.clone()).collect();
            path.push(name.to_vec());
            if let Some(m) = self.mount_at(&path) {
                return self.mount_root(m).map(Some);
            }
        }
        self.lookup_child(dir, name)
    }
}
