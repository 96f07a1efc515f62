//! RFC 6962's Merkle Tree Hash over SHA-256 (section 2.1), its audit paths, and RFC 9162's
//! check of an inclusion proof (section 2.1.3.2). Domain-separated (`0x00` before a leaf,
//! `0x01` before two children), so no leaf can pass for an interior node.

use sha2::{Digest as _, Sha256};

/// One node of the tree: a raw SHA-256.
pub type Hash = [u8; 32];

/// The hash of a leaf's bytes.
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    let mut digest = Sha256::new();
    digest.update([0x00]);
    digest.update(bytes);
    digest.finalize().into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut digest = Sha256::new();
    digest.update([0x01]);
    digest.update(left);
    digest.update(right);
    digest.finalize().into()
}

/// The root of a tree over `leaves` (leaf hashes, in tree order); an empty tree's is
/// SHA-256 of nothing.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => Sha256::digest([]).into(),
        [leaf] => *leaf,
        _ => {
            let (left, right) = leaves.split_at(split(leaves.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

/// The audit path of leaf `index`: the sibling hashes from the leaf up to the root (RFC 6962's
/// `PATH(m, D[n])`), `None` for an index outside the tree. Its length is about log2 of the
/// tree's size.
pub fn audit_path(index: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    collect_path(index, leaves, &mut path);
    Some(path)
}

fn collect_path(index: usize, leaves: &[Hash], path: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    let (left, right) = leaves.split_at(k);
    // Deepest sibling first: recurse, then push this level's sibling.
    if index < k {
        collect_path(index, left, path);
        path.push(root(right));
    } else {
        collect_path(index - k, right, path);
        path.push(root(left));
    }
}

/// Whether `path` leads leaf `index` of a tree of `size` leaves, whose hash is `leaf`, to
/// `root` (RFC 9162, 2.1.3.2). Binds the index and the size as well as the hashes.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// The largest power of two smaller than `n` (n > 1): where RFC 6962 splits a tree.
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// Lowercase hex, the form hashes take in JSON.
pub fn hex(hash: &Hash) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(64);
    for byte in hash {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// A hash from 64 hex digits (either case).
pub fn from_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// RFC 6962's test leaves (certificate-transparency's merkle tree tests), with the roots of
    /// their first 1 to 8.
    fn vectors() -> (Vec<Vec<u8>>, [&'static str; 8]) {
        let leaves = vec![
            b"".to_vec(),
            b"\x00".to_vec(),
            b"\x10".to_vec(),
            b"\x20\x21".to_vec(),
            b"\x30\x31".to_vec(),
            b"\x40\x41\x42\x43".to_vec(),
            b"\x50\x51\x52\x53\x54\x55\x56\x57".to_vec(),
            (0x60u8..0x70).collect(),
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        (leaves, roots)
    }

    #[test]
    fn given_the_rfc_6962_test_leaves_when_hashed_then_every_prefix_has_the_published_root() {
        let (leaves, roots) = vectors();
        let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
        for (n, expected) in (1..=8).zip(roots) {
            assert_eq!(hex(&root(&hashes[..n])), expected, "tree of {n}");
        }
        assert_eq!(
            hex(&root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn given_every_tree_up_to_forty_leaves_when_each_path_is_checked_then_only_the_right_index_and_hashes_pass()
     {
        let all: Vec<Hash> = (0u32..40).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for n in 1..=all.len() {
            let leaves = &all[..n];
            let top = root(leaves);
            for m in 0..n {
                let path = audit_path(m, leaves).unwrap();
                let depth = usize::BITS - (n - 1).leading_zeros();
                assert!(path.len() <= depth as usize, "path of {m} in {n} too long");
                assert!(verify_inclusion(
                    m as u64, n as u64, &leaves[m], &path, &top
                ));
                // Another index, another size, another leaf, an edited sibling: all refused.
                if n > 1 {
                    let other = (m + 1) % n;
                    assert!(!verify_inclusion(
                        other as u64,
                        n as u64,
                        &leaves[m],
                        &path,
                        &top
                    ));
                    assert!(!verify_inclusion(
                        m as u64,
                        n as u64,
                        &leaves[other],
                        &path,
                        &top
                    ));
                }
                // (A path can pass for a larger size of the same shape: the size is bound by
                // the signed digest, which the verifier compares, not by the path alone.)
                assert!(!verify_inclusion(
                    m as u64, m as u64, &leaves[m], &path, &top
                ));
                for i in 0..path.len() {
                    let mut edited = path.clone();
                    edited[i][0] ^= 1;
                    assert!(!verify_inclusion(
                        m as u64, n as u64, &leaves[m], &edited, &top
                    ));
                }
            }
            assert!(audit_path(n, leaves).is_none());
        }
    }

    #[test]
    fn given_a_hash_when_written_as_hex_and_read_back_then_it_is_the_same_and_bad_hex_is_refused() {
        let hash = leaf_hash(b"x");
        assert_eq!(from_hex(&hex(&hash)), Some(hash));
        assert_eq!(from_hex(&hex(&hash).to_uppercase()), Some(hash));
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
        assert_eq!(from_hex(&"é".repeat(32)), None);
    }
}
